package policy

import "github.com/gitops-gate/gitops-gate/gate/policy/conditions"

// Summary is a policy as a reader (and the JSON API) sees it: what each
// rule applies to and what it requires. A rule that matches Pod also
// judges the pod template of every other resource, through the Pods it
// creates (Rule.AppliesToPods); Controllers are only the kinds Kyverno
// auto-generates a rule for.
type Summary struct {
	Name        string        `json:"name"`
	Kind        string        `json:"kind"`
	Namespace   string        `json:"namespace,omitempty"`
	File        string        `json:"file"`
	Controllers []string      `json:"autogenControllers,omitempty"`
	Rules       []RuleSummary `json:"rules"`
}

// RuleSummary is one rule.
type RuleSummary struct {
	Name    string          `json:"name"`
	Match   []FilterSummary `json:"match"`
	Exclude []FilterSummary `json:"exclude,omitempty"`
	// Constraints describe, in words, matching that is more than kinds
	// and namespaces (an ImageValidatingPolicy's matchConstraints).
	Constraints string          `json:"constraints,omitempty"`
	Verify      []VerifySummary `json:"verifyImages"`
}

// FilterSummary is one match or exclude filter, after auto-generation.
type FilterSummary struct {
	Kinds      []string    `json:"kinds,omitempty"`
	Namespaces []string    `json:"namespaces,omitempty"`
	Operations []Operation `json:"operations,omitempty"`
}

// VerifySummary is one verifyImages entry.
type VerifySummary struct {
	Type                string            `json:"type"`
	CosignOCI11         bool              `json:"cosignOCI11,omitempty"`
	ImageReferences     []string          `json:"imageReferences"`
	SkipImageReferences []string          `json:"skipImageReferences,omitempty"`
	Audit               bool              `json:"audit"`
	Required            bool              `json:"required"`
	VerifyDigest        bool              `json:"verifyDigest"`
	MutateDigest        bool              `json:"mutateDigest"`
	Repository          string            `json:"repository,omitempty"`
	Attestors           []AttestorSummary `json:"attestors"`
	// Attestations are the attestations the entry requires (additive).
	Attestations []AttestationSummary `json:"attestations,omitempty"`
}

// AttestationSummary is one required attestation.
type AttestationSummary struct {
	Type       string              `json:"type"`
	Attestors  []AttestorSummary   `json:"attestors"`
	Conditions []conditions.AnyAll `json:"conditions,omitempty"`
}

// AttestorSummary is one attestor set: Required of its entries must verify.
type AttestorSummary struct {
	Required int      `json:"required"`
	Entries  []string `json:"entries"`
}

// Summarize describes a policy.
func (p *Policy) Summarize() Summary {
	s := Summary{Name: p.Name, Kind: p.Kind, Namespace: p.Namespace, File: p.File, Controllers: p.Controllers, Rules: []RuleSummary{}}
	for _, r := range p.Rules {
		rs := RuleSummary{Name: r.Name, Match: filterSummaries(r.match), Exclude: filterSummaries(r.exclude)}
		if d, ok := r.Constraints.(interface{ Describe() string }); ok {
			rs.Constraints = d.Describe()
		}
		for _, v := range r.Verify {
			vs := VerifySummary{Type: v.Type, CosignOCI11: v.CosignOCI11, ImageReferences: v.ImageReferences, SkipImageReferences: v.SkipImageReferences, Audit: v.Audit,
				Required: v.Required, VerifyDigest: v.VerifyDigest, MutateDigest: v.MutateDigest, Repository: v.Repository}
			vs.Attestors = attestorSummaries(v.Attestors)
			for _, at := range v.Attestations {
				vs.Attestations = append(vs.Attestations, AttestationSummary{Type: at.Type, Attestors: attestorSummaries(at.Attestors), Conditions: at.Conditions})
			}
			rs.Verify = append(rs.Verify, vs)
		}
		s.Rules = append(s.Rules, rs)
	}
	return s
}

func attestorSummaries(sets []AttestorSet) []AttestorSummary {
	var out []AttestorSummary
	for _, set := range sets {
		as := AttestorSummary{Required: set.Required()}
		for _, a := range set.Entries {
			as.Entries = append(as.Entries, a.Describe())
		}
		out = append(out, as)
	}
	return out
}

func filterSummaries(fs []resourceFilter) []FilterSummary {
	var out []FilterSummary
	for _, f := range fs {
		out = append(out, FilterSummary{Kinds: f.Kinds, Namespaces: f.Namespaces, Operations: f.Operations})
	}
	return out
}
