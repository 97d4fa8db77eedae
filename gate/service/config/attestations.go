package config

import (
	"fmt"

	"github.com/gitops-gate/gitops-gate/gate/policy"
)

// GitHubAttestationSettings say where a repository's GitHub artifact
// attestations are read (attestations: github) and, optionally, which
// checks of gh attestation verify every image's attestation must pass.
type GitHubAttestationSettings struct {
	// Repos (owner/name) are read with GET /repos/{owner}/{repo}/attestations/…,
	// Owner with GET /orgs/{org}/attestations/…. Neither: the organisation
	// that owns the watched repository.
	Repos []string `yaml:"repos"`
	Owner string   `yaml:"owner"`
	// TrustedRoot is the output of gh attestation trusted-root (JSON
	// lines): GitHub's own Sigstore instance, which signs private
	// repositories' attestations.
	TrustedRoot string `yaml:"trustedRoot"`
	// The checks, with gh attestation verify's names. Any of them adds a
	// rule: every image carries an attestation of PredicateType (default
	// SLSA provenance v1) that passes them.
	SignerRepo            string `yaml:"signerRepo"`
	SignerWorkflow        string `yaml:"signerWorkflow"`
	SourceRef             string `yaml:"sourceRef"`
	SourceDigest          string `yaml:"sourceDigest"`
	DenySelfHostedRunners bool   `yaml:"denySelfHostedRunners"`
	PredicateType         string `yaml:"predicateType"`
}

// Rule is the rule the checks add, or nil when none is set.
func (g GitHubAttestationSettings) Rule() *policy.GitHubRule {
	c := policy.GitHubChecks{SignerRepo: g.SignerRepo, SignerWorkflow: g.SignerWorkflow, SourceRef: g.SourceRef,
		SourceDigest: g.SourceDigest, DenySelfHostedRunners: g.DenySelfHostedRunners}
	if c == (policy.GitHubChecks{}) {
		return nil
	}
	return &policy.GitHubRule{Checks: c, PredicateType: g.PredicateType}
}

// validateAttestations checks one repository's (or the defaults')
// attestation settings; field names the entry in errors.
func validateAttestations(field string, r RepoSettings) error {
	switch r.Attestations {
	case "", "off":
		if r.GitHubAttestations.Rule() != nil || len(r.GitHubAttestations.Repos) > 0 || r.GitHubAttestations.Owner != "" || r.GitHubAttestations.TrustedRoot != "" {
			return fmt.Errorf("config: %s.githubAttestations is set but %s.attestations is not github", field, field)
		}
		return nil
	case "github":
	default:
		return fmt.Errorf("config: %s.attestations %q: want github or off", field, r.Attestations)
	}
	if rule := r.GitHubAttestations.Rule(); rule != nil {
		checks := rule.Checks
		if err := checks.Validate(); err != nil {
			return fmt.Errorf("config: %s.githubAttestations: %w", field, err)
		}
	}
	return nil
}
