package policy

import (
	"fmt"
	"strings"

	"github.com/gitops-gate/gitops-gate/gate/policy/conditions"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// Policy is one loaded ClusterPolicy or Policy.
type Policy struct {
	Kind      string // ClusterPolicy or Policy
	Name      string
	Namespace string // for Policy: the only namespace it applies to
	File      string
	Rules     []*Rule
	// Controllers are the pod controllers Kyverno auto-generates Pod rules
	// for (empty when auto-generation does not apply).
	Controllers []string

	extractors manifests.Extractors
	// Warnings are notes on the whole policy, shown with its verdicts (a
	// configured Kyverno version that would behave differently).
	Warnings []string
}

// Rule is a Kyverno rule with verifyImages.
type Rule struct {
	Policy *Policy
	Name   string
	// Kinds the rule applies to after auto-generation (Pod rules also cover
	// the pod controllers unless the policy's annotation says otherwise).
	match   []resourceFilter // any of
	exclude []resourceFilter // any of
	Verify  []*Verification
	// Constraints, when set, replace match/exclude (an
	// ImageValidatingPolicy's matchConstraints and matchConditions).
	Constraints Constraints
}

// resourceFilter is one Kyverno ResourceDescription: kinds, namespaces and
// the admission operations it is limited to (none: every operation).
type resourceFilter struct {
	Kinds      []string
	Namespaces []string
	Operations []Operation
}

// Operation is an admission operation, as a filter's operations name it.
type Operation string

const (
	OpCreate  Operation = "CREATE"
	OpUpdate  Operation = "UPDATE"
	OpDelete  Operation = "DELETE"
	OpConnect Operation = "CONNECT"
)

// ID names the rule for reports: policy/rule.
func (r *Rule) ID() string { return r.Policy.Name + "/" + r.Name }

// Verification is one entry of a rule's verifyImages.
type Verification struct {
	Rule                *Rule
	Index               int
	Type                string // Cosign or SigstoreBundle
	ImageReferences     []string
	SkipImageReferences []string
	Attestors           []AttestorSet
	// Attestations are the in-toto attestations the image must carry.
	Attestations []*Attestation
	Repository   string
	CosignOCI11  bool
	Required     bool
	VerifyDigest bool
	MutateDigest bool
	// Audit means failures are reported, not enforced (failureAction Audit).
	Audit bool
	// Program, when set, decides the verification instead of Attestors
	// and Attestations, which then hold the policy's named attestors and
	// attestations for the Program to call.
	Program Program
	// IgnoreErrors turns operational errors into audit verdicts
	// (failurePolicy: Ignore); the verdict says so.
	IgnoreErrors bool
}

// Path is where the verification is written, for messages.
func (v *Verification) Path() string {
	return fmt.Sprintf("%s: rule %s verifyImages[%d]", v.Rule.Policy.File, v.Rule.Name, v.Index)
}

// Attestation is one entry of verifyImages[].attestations: statements of
// predicate type Type, signed by Attestors, whose predicate satisfies
// Conditions.
type Attestation struct {
	Verification *Verification
	Index        int
	Name         string
	// Type is the predicate type URI, compared with the statement's
	// predicateType exactly, as Kyverno compares it.
	Type       string
	Attestors  []AttestorSet
	Conditions []conditions.AnyAll
}

// Path is where the attestation is written, for messages.
func (a *Attestation) Path() string {
	return fmt.Sprintf("%s.attestations[%d]", a.Verification.Path(), a.Index)
}

// AttestorSet passes when Count of its entries verify (Count 0: all).
type AttestorSet struct {
	Count   int
	Entries []*Attestor
}

// Required is how many entries must verify.
func (s AttestorSet) Required() int {
	if s.Count == 0 {
		return len(s.Entries)
	}
	return s.Count
}

// Attestor is one way a signature can be trusted: exactly one of Keyless,
// Key or Certificate is set.
type Attestor struct {
	// Path is the attestor's place in its rule, e.g. attestors[0].entries[1].
	Path        string
	Keyless     *Keyless
	Key         *Key
	Certificate *Certificate
	Annotations map[string]string
	Repository  string
	// TagPrefix goes before cosign's sha256-<hex>.sig and .att tags, in
	// Repository or the image's own (IVPOL cosign.source.tagPrefix, as
	// cosign's ociremote.WithPrefix).
	TagPrefix          string
	SignatureAlgorithm string
	// TrustedRoot is a Sigstore trusted_root.json the policy gives inline
	// (IVPOL cosign.trustedRoot.value): this attestor verifies against it
	// instead of the gate's trust root. It comes from the policy, which
	// comes from the gate's configuration, never from the repository
	// under review.
	TrustedRoot string
	// PublicGoodTUF says the policy names public-good Sigstore's TUF
	// repository (IVPOL cosign.tuf with its default mirror and root): the
	// gate, which fetches no TUF repository, verifies against its own trust
	// root only when that is public-good's, and errs otherwise.
	PublicGoodTUF bool
}

// Describe says in a few words what the attestor requires.
func (a *Attestor) Describe() string {
	var d string
	switch {
	case a.Keyless != nil:
		d = a.Keyless.Describe()
	case a.Key != nil:
		d = "signed with public key " + shortPEM(a.Key.PublicKey)
	case a.Certificate != nil:
		d = "signed with the given certificate"
	default:
		d = "nothing"
	}
	switch {
	case a.TrustedRoot != "":
		d += ", against the policy's trusted root"
	case a.PublicGoodTUF:
		d += ", against public-good Sigstore's root"
	}
	if a.TagPrefix != "" {
		d += fmt.Sprintf(", signatures under tag prefix %q", a.TagPrefix)
	}
	if len(a.Annotations) > 0 {
		var parts []string
		for _, k := range sortedKeys(a.Annotations) {
			parts = append(parts, fmt.Sprintf("%s=%q", k, a.Annotations[k]))
		}
		d += ", annotations " + strings.Join(parts, ", ")
	}
	return d
}

// Keyless is a Fulcio certificate identity.
type Keyless struct {
	Issuer               string // Kyverno wildcard
	IssuerRegExp         string
	Subject              string // Kyverno wildcard
	SubjectRegExp        string
	Roots                string // PEM; empty: the gate's trust root
	AdditionalExtensions map[string]string
	Rekor                Rekor
	CTLog                CTLog
	// GitHub are gh attestation verify's checks (native form only).
	GitHub *GitHubChecks
}

// Describe is e.g. `issuer "https://token.actions.githubusercontent.com",
// subject "https://github.com/acme/*"`.
func (k *Keyless) Describe() string {
	var parts []string
	switch {
	case k.IssuerRegExp != "":
		parts = append(parts, fmt.Sprintf("issuer matching /%s/", k.IssuerRegExp))
	case k.Issuer != "":
		parts = append(parts, fmt.Sprintf("issuer %q", k.Issuer))
	}
	switch {
	case k.SubjectRegExp != "":
		parts = append(parts, fmt.Sprintf("subject matching /%s/", k.SubjectRegExp))
	case k.Subject != "":
		parts = append(parts, fmt.Sprintf("subject %q", k.Subject))
	}
	for _, key := range sortedKeys(k.AdditionalExtensions) {
		parts = append(parts, fmt.Sprintf("%s %q", key, k.AdditionalExtensions[key]))
	}
	if k.GitHub != nil {
		parts = append(parts, k.GitHub.Describe())
	}
	return strings.Join(parts, ", ")
}

// Key is a public key (one PEM; Kyverno's multi-PEM publicKeys are expanded
// into one attestor each).
type Key struct {
	PublicKey string
	Rekor     Rekor
	CTLog     CTLog
}

// Certificate is a signing certificate and/or its chain.
type Certificate struct {
	Cert      string
	CertChain string
	Rekor     Rekor
	CTLog     CTLog
}

// Rekor says how the transparency log is checked.
type Rekor struct {
	URL        string
	PubKey     string
	IgnoreTlog bool
}

// CTLog says how certificate transparency is checked.
type CTLog struct {
	IgnoreSCT    bool
	PubKey       string
	TSACertChain string
}

func shortPEM(p string) string {
	lines := strings.Split(strings.TrimSpace(p), "\n")
	if len(lines) > 2 {
		body := lines[1]
		if len(body) > 16 {
			body = body[len(body)-16:]
		}
		return "…" + body
	}
	return "(inline)"
}
