package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/github"
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

func (g GitHubAttestationSettings) rule() *policy.GitHubRule {
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
		if r.GitHubAttestations.rule() != nil || len(r.GitHubAttestations.Repos) > 0 || r.GitHubAttestations.Owner != "" || r.GitHubAttestations.TrustedRoot != "" {
			return fmt.Errorf("config: %s.githubAttestations is set but %s.attestations is not github", field, field)
		}
		return nil
	case "github":
	default:
		return fmt.Errorf("config: %s.attestations %q: want github or off", field, r.Attestations)
	}
	if rule := r.GitHubAttestations.rule(); rule != nil {
		checks := rule.Checks
		if err := checks.Validate(); err != nil {
			return fmt.Errorf("config: %s.githubAttestations: %w", field, err)
		}
	}
	return nil
}

// withAttestationOwner fills in where repo's attestations are read when
// its settings do not say: its owner's organisation endpoint. It runs
// before the settings are keyed, so that two owners never share one
// engine.
func withAttestationOwner(set RepoSettings, repo string) RepoSettings {
	if set.Attestations != "github" || len(set.GitHubAttestations.Repos) > 0 || set.GitHubAttestations.Owner != "" {
		return set
	}
	owner, _, _ := strings.Cut(repo, "/")
	set.GitHubAttestations.Owner = owner
	return set
}

// githubAttestations wires attestations: github into an engine's
// configuration: the API of the configured GitHub (the only host the
// token goes to), with the installation token of the repository the
// attestations are read from (a GitHub App) or the configured token.
func (s *Service) githubAttestations(cfg *gate.Config, set RepoSettings, repo string) error {
	if set.Attestations != "github" {
		return nil
	}
	g := set.GitHubAttestations
	tokenRepo := repo
	if len(g.Repos) > 0 {
		tokenRepo = g.Repos[0]
	}
	var token func(context.Context) (string, error)
	if s.o.GitHub != nil {
		token = func(ctx context.Context) (string, error) { return s.o.GitHub.RepoToken(ctx, tokenRepo, 0) }
	}
	src, err := github.NewAttestations(github.AttestationsOptions{BaseURL: s.cfg.GitHub.BaseURL, Repos: g.Repos, Owner: g.Owner, Token: token})
	if err != nil {
		return err
	}
	cfg.GitHubAttestations, cfg.GitHubTrustedRoot, cfg.GitHubRule = src, g.TrustedRoot, g.rule()
	return nil
}
