package policy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// GitHubIssuer is the OIDC issuer of GitHub Actions tokens, which Fulcio
// (public-good and GitHub's own instance) writes into the certificates of
// artifact attestations.
const GitHubIssuer = "https://token.actions.githubusercontent.com"

// GitHubChecks are the identity checks `gh attestation verify` offers on
// the signing certificate of a GitHub Actions workflow (cli/cli
// pkg/cmd/attestation/verify), each a want/got comparison with one Fulcio
// extension (1.3.6.1.4.1.57264.1.x). An empty field is not checked; at
// least SignerRepo or SignerWorkflow is set, so that "any workflow on
// GitHub" is never an identity.
type GitHubChecks struct {
	// Host is GitHub's web host (default github.com).
	Host string
	// SignerRepo (owner/name): the workflow that signed lives in this
	// repository, whichever repository it built (a reusable workflow's
	// repository): the certificate's SAN, the build signer URI (1.1.9),
	// starts with https://<host>/<owner>/<name>/ (owner and name compared
	// case-insensitively, as GitHub treats them).
	SignerRepo string
	// SignerWorkflow (owner/name/.github/workflows/release.yml, optionally
	// @ref): the SAN is that workflow file, at any ref unless one is given.
	SignerWorkflow string
	// SourceRef: the ref the run built (1.1.14, source repository ref),
	// exactly: refs/heads/main, refs/tags/v1.2.3.
	SourceRef string
	// SourceDigest: the commit the run built (1.1.13, source repository
	// digest), exactly.
	SourceDigest string
	// DenySelfHostedRunners: the runner environment (1.1.11) must be
	// github-hosted; a self-hosted runner is a machine the repository's
	// owner controls, whose build GitHub does not vouch for.
	DenySelfHostedRunners bool
}

// WebHost is the host the checks compare URIs on.
func (g *GitHubChecks) WebHost() string {
	if g.Host == "" {
		return "github.com"
	}
	return g.Host
}

// Describe is e.g. `signer repository "acme/app", source ref "refs/heads/main", github-hosted runners only`.
func (g *GitHubChecks) Describe() string {
	var parts []string
	if g.SignerRepo != "" {
		parts = append(parts, fmt.Sprintf("signer repository %q", g.SignerRepo))
	}
	if g.SignerWorkflow != "" {
		parts = append(parts, fmt.Sprintf("signer workflow %q", g.SignerWorkflow))
	}
	if g.SourceRef != "" {
		parts = append(parts, fmt.Sprintf("source ref %q", g.SourceRef))
	}
	if g.SourceDigest != "" {
		parts = append(parts, fmt.Sprintf("source digest %q", g.SourceDigest))
	}
	if g.DenySelfHostedRunners {
		parts = append(parts, "github-hosted runners only")
	}
	return strings.Join(parts, ", ")
}

var (
	repoRE     = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?/[A-Za-z0-9._-]{1,100}$`)
	workflowRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?/[A-Za-z0-9._-]{1,100}/\.github/workflows/[^@\s]+\.ya?ml(?:@refs/\S+)?$`)
)

// Validate refuses checks that would accept any workflow, and values that
// can never match.
func (g *GitHubChecks) Validate() error {
	if g.SignerRepo == "" && g.SignerWorkflow == "" {
		return errors.New("name the workflow that must have signed (--signer-repo or --signer-workflow): an attestation signed by any GitHub workflow proves nothing")
	}
	if g.SignerRepo != "" && !repoRE.MatchString(g.SignerRepo) {
		return fmt.Errorf("--signer-repo %q: want owner/name", g.SignerRepo)
	}
	if g.SignerWorkflow != "" {
		w := strings.TrimPrefix(strings.TrimPrefix(g.SignerWorkflow, "https://"), g.WebHost()+"/")
		if !workflowRE.MatchString(w) {
			return fmt.Errorf("--signer-workflow %q: want owner/name/.github/workflows/<file>.yml, optionally @refs/…", g.SignerWorkflow)
		}
		g.SignerWorkflow = w
	}
	if g.SourceRef != "" && !strings.HasPrefix(g.SourceRef, "refs/") {
		return fmt.Errorf("--source-ref %q: want a full ref such as refs/heads/main or refs/tags/v1.2.3", g.SourceRef)
	}
	return nil
}

// GitHubRule is the native form's attestation rule: every image carries
// an attestation of PredicateType (default SLSA provenance v1, as gh
// attestation verify) signed by a GitHub Actions workflow that passes
// Checks.
type GitHubRule struct {
	Checks        GitHubChecks
	PredicateType string
}

// DefaultGitHubPredicateType is what actions/attest-build-provenance
// writes and gh attestation verify requires by default.
const DefaultGitHubPredicateType = "https://slsa.dev/provenance/v1"

// githubVerification builds the native GitHub attestation rule as its
// own verifyImages entry of r, read from Sigstore bundles (the GitHub
// attestations API and OCI referrers, as actions/attest stores them).
func githubVerification(r *Rule, index int, g *GitHubRule) (*Verification, error) {
	checks := g.Checks
	if err := checks.Validate(); err != nil {
		return nil, err
	}
	pt := g.PredicateType
	if pt == "" {
		pt = DefaultGitHubPredicateType
	}
	if uri, ok := cosignShortTypes[pt]; ok {
		pt = uri
	}
	if !strings.Contains(pt, "://") {
		return nil, fmt.Errorf("--predicate-type %q: want a predicate type URI such as %s", pt, DefaultGitHubPredicateType)
	}
	v := &Verification{Rule: r, Index: index, Type: "SigstoreBundle", ImageReferences: []string{"*"}, Required: true, MutateDigest: true}
	att := &Attestation{Verification: v, Name: "github", Type: pt, Attestors: []AttestorSet{{Count: 1, Entries: []*Attestor{{
		Path: "--signer-repo/--signer-workflow",
		Keyless: &Keyless{
			IssuerRegExp: "^" + regexp.QuoteMeta(GitHubIssuer) + "$",
			// The SAN is any workflow on the host; which one is the
			// checks' to say, with want and got.
			SubjectRegExp: "^https://" + regexp.QuoteMeta(checks.WebHost()) + "/.+$",
			GitHub:        &checks,
		},
	}}}}}
	v.Attestations = []*Attestation{att}
	return v, nil
}
