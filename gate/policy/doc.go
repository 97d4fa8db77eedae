// Package policy is the gate's one rule model and its ClusterPolicy and
// native front-ends. It loads Kyverno verifyImages policies (kyverno.io/v1
// ClusterPolicy and Policy) into the rules the gate evaluates, and decides
// which rules apply to an image occurrence with Kyverno's semantics: the
// rule's match/exclude on kinds and namespaces, auto-generation for pod
// controllers, and imageReferences/skipImageReferences wildcards on the
// normalised reference.
//
// Loading is strict. A field the gate does not implement is an error that
// names the file, the line and the field, never silently ignored, because
// ignoring it could make the gate pass what Kyverno would refuse. A keyless
// attestor with neither subject nor issuer is refused: Kyverno would accept
// any signer.
//
// Other formats are front-ends registered with Register (gate/policy/ivpol
// reads ImageValidatingPolicy): they build the same Rules, with
// Constraints when matching is more than kinds and namespaces and a
// Program when a verification is decided by expressions; the engine
// evaluates every rule the same way.
package policy
