package service

import (
	"context"
	"strings"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/github"
	"github.com/gitops-gate/gitops-gate/gate/service/config"
)

// withAttestationOwner fills in where repo's attestations are read when
// its settings do not say: its owner's organisation endpoint. It runs
// before the settings are keyed, so that two owners never share one
// engine.
func withAttestationOwner(set config.RepoSettings, repo string) config.RepoSettings {
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
func (s *Service) githubAttestations(cfg *gate.Config, set config.RepoSettings, repo string) error {
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
	cfg.GitHubAttestations, cfg.GitHubTrustedRoot, cfg.GitHubRule = src, g.TrustedRoot, g.Rule()
	return nil
}
