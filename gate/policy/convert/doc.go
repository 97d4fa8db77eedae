// Package convert turns Kyverno verifyImages policies (kyverno.io/v1
// ClusterPolicy and Policy, as gate/policy loads them) into Kyverno's
// ImageValidatingPolicy at policies.kyverno.io/v1, and lints
// ImageValidatingPolicy YAML for the mistakes Kyverno's own documentation
// makes.
//
// The conversion is a printer over the loaded policy, so it sees the
// policy exactly as the gate evaluates it. Where the two formats cannot say
// the same thing, the output carries a "# convert:" comment at that field
// and the result lists the same note: a converted policy must never be
// weaker than the original in silence. When a requirement cannot be
// written in IVPOL at all (a JMESPath condition without a clear CEL
// equivalent), the converted validation is "false", which denies, and the
// comment shows what to rewrite: failing closed until a person looks.
package convert
