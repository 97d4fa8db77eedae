// Package celexpr is the CEL environment of Kyverno's ImageValidatingPolicy
// as the gate evaluates it: the variables Kyverno declares (object, images,
// attestors, attestations, variables, namespaceObject, ref), Kyverno's own
// image library (kyverno/sdk parseImageReference, isImage and the Image
// accessors) and the four image-verification functions
// (verifyImageSignatures, verifyAttestationSignatures, extractPayload,
// getImageData), declared here and bound at evaluation time to a Funcs
// value that verifies through the gate's own verifier.
//
// Compilation errors carry the expression's position; every program runs
// under a cost limit so that a runaway expression ends in an error, never
// in a hung evaluation or a pass.
package celexpr
