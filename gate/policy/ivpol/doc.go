// Package ivpol reads Kyverno's ImageValidatingPolicy and
// NamespacedImageValidatingPolicy (policies.kyverno.io v1alpha1, v1beta1
// and v1) and policies.kyverno.io PolicyExceptions into the gate's one rule
// model (package policy): a rule whose Constraints are the policy's
// matchConstraints and matchConditions, and one verification whose Program
// runs the policy's CEL validations with verification functions that call
// back into the engine's verifier.
//
// Decoding is strict as for ClusterPolicy: an unknown field, a field the
// gate does not implement (Notary attestors, KMS keys, CEL-valued keys,
// certificates and trusted roots, a TUF repository other than public-good's,
// JSON evaluation mode, ...) and an expression that does not compile are
// load errors naming the file, the line and the field. An inline
// trustedRoot is the attestor's trust material; a tuf block naming
// public-good Sigstore is honoured only when the gate's own trust root is
// public-good's (else an error verdict: the gate fetches no TUF
// repository); source.tagPrefix prefixes the .sig and .att tags, as
// cosign's. Matching fails closed: a namespaceSelector the
// configured namespace labels cannot answer, or a matchCondition that
// needs an object the gate does not have, is an error verdict.
//
// Import it for its side effect (policy.Register) wherever policies are
// loaded; package gate does.
package ivpol
