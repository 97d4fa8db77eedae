package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/github"
	"github.com/gitops-gate/gitops-gate/gate/policy"
)

// githubFlags are check's GitHub artifact attestation flags, with the
// names gh attestation verify gives its checks.
type githubFlags struct {
	attestations string
	repos        []string
	owner        string
	apiURL       string
	trustedRoot  string
	rule         policy.GitHubRule
}

func (f *githubFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.attestations, "attestations", "", "github: also read attestations from the GitHub artifact attestations API (token: GITHUB_TOKEN or GH_TOKEN; public repositories need none)")
	fl.StringArrayVar(&f.repos, "github-repo", nil, "owner/name whose attestations are read: GET /repos/{owner}/{repo}/attestations/… (repeatable; default: --signer-repo's or --signer-workflow's repository)")
	fl.StringVar(&f.owner, "github-owner", "", "organisation whose attestations are read: GET /orgs/{org}/attestations/…")
	apiURL := os.Getenv("GITHUB_API_URL")
	if apiURL == "" {
		apiURL = "https://api.github.com/"
	}
	fl.StringVar(&f.apiURL, "github-api-url", apiURL, "GitHub's REST API (GitHub Enterprise Server: https://HOST/api/v3/; default $GITHUB_API_URL)")
	fl.StringVar(&f.trustedRoot, "github-trusted-root", "", "trusted roots of GitHub's own Sigstore instance, which signs private repositories' attestations: the output of gh attestation trusted-root (JSON lines)")
	fl.StringVar(&f.rule.Checks.SignerRepo, "signer-repo", "", "require an attestation signed by a workflow of this repository (owner/name), as gh attestation verify --signer-repo")
	fl.StringVar(&f.rule.Checks.SignerWorkflow, "signer-workflow", "", "require an attestation signed by this workflow (owner/name/.github/workflows/release.yml[@ref]), as gh attestation verify --signer-workflow")
	fl.StringVar(&f.rule.Checks.SourceRef, "source-ref", "", "the signing run built this ref (refs/heads/main, refs/tags/v1.2.3)")
	fl.StringVar(&f.rule.Checks.SourceDigest, "source-digest", "", "the signing run built this commit")
	fl.BoolVar(&f.rule.Checks.DenySelfHostedRunners, "deny-self-hosted-runners", false, "refuse attestations signed on self-hosted runners (the certificate's runner environment must be github-hosted)")
	fl.StringVar(&f.rule.PredicateType, "predicate-type", policy.DefaultGitHubPredicateType, "predicate type the --signer-* rule requires")
}

// config fills the engine's GitHub settings.
func (f *githubFlags) config(c *gate.Config) error {
	checks := f.rule.Checks
	ruled := checks.SignerRepo != "" || checks.SignerWorkflow != "" || checks.SourceRef != "" || checks.SourceDigest != "" || checks.DenySelfHostedRunners
	if ruled {
		r := f.rule
		if err := r.Checks.Validate(); err != nil {
			return err
		}
		c.GitHubRule = &r
		if f.attestations == "" {
			// gh attestation verify reads the API too: the checks are
			// about GitHub's attestations.
			f.attestations = "github"
		}
	}
	switch f.attestations {
	case "":
		if f.trustedRoot != "" || len(f.repos) > 0 || f.owner != "" {
			return fmt.Errorf("--github-repo, --github-owner and --github-trusted-root apply to --attestations github")
		}
		return nil
	case "github":
	default:
		return fmt.Errorf("--attestations %q: want github", f.attestations)
	}
	repos := f.repos
	if len(repos) == 0 && f.owner == "" {
		switch {
		case checks.SignerRepo != "":
			repos = []string{checks.SignerRepo}
		case checks.SignerWorkflow != "":
			parts := strings.SplitN(strings.TrimPrefix(checks.SignerWorkflow, "https://github.com/"), "/", 3)
			if len(parts) == 3 {
				repos = []string{parts[0] + "/" + parts[1]}
			}
		}
	}
	if len(repos) == 0 && f.owner == "" {
		return fmt.Errorf("--attestations github: say whose attestations to read (--github-repo owner/name or --github-owner org)")
	}
	token := os.Getenv("GITHUB_TOKEN")
	if token == "" {
		token = os.Getenv("GH_TOKEN")
	}
	src, err := github.NewAttestations(github.AttestationsOptions{BaseURL: f.apiURL, Repos: repos, Owner: f.owner,
		Token: func(context.Context) (string, error) { return token, nil }})
	if err != nil {
		return err
	}
	c.GitHubAttestations, c.GitHubTrustedRoot = src, f.trustedRoot
	return nil
}
