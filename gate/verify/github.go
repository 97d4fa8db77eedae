package verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/gitops-gate/gitops-gate/gate/policy"
)

// AttestationSource finds attestation bundles outside the registry: the
// GitHub artifact attestations API (gate/github). The verifier checks
// what it returns offline, like any bundle.
type AttestationSource interface {
	// Attestations returns the bundles stored for digest (sha256:<hex>)
	// and where it looked. An error means the gate cannot know every
	// attestation: the verdict is an error.
	Attestations(ctx context.Context, digest string) ([]*sgbundle.Bundle, []string, error)
}

// ErrAttestationSource marks a failure of an AttestationSource (a rate
// limit, an oversized answer): the gate could not decide.
var ErrAttestationSource = errors.New("attestation source failed")

// SourceError is an AttestationSource's failure, as its message says it.
type SourceError struct{ Err error }

func (e *SourceError) Error() string        { return e.Err.Error() }
func (e *SourceError) Unwrap() []error      { return []error{ErrAttestationSource, e.Err} }
func (e *SourceError) Is(target error) bool { return target == ErrAttestationSource }

// githubIssuerOrg is the organisation of GitHub's own Sigstore instance's
// CAs (fulcio.githubapp.com), which signs the artifact attestations of
// private repositories; gh attestation verify tells the instances apart by
// it (cli/cli pkg/cmd/attestation/verification/sigstore.go).
const githubIssuerOrg = "GitHub, Inc."

// ErrNoGitHubRoot: a bundle was signed by GitHub's own Sigstore instance
// and the gate has no trusted root for it.
var ErrNoGitHubRoot = errors.New("no trusted root for GitHub's Sigstore instance")

// instanceOpts are the options for verifying bundle b: when its
// certificate was issued by GitHub's own instance ("GitHub, Inc.") and a
// CA of one of the configured GitHub trusted roots (gh attestation
// trusted-root) signed it, that root, with the evidence it
// can give: a transparency log and SCTs when it has them, else signed
// timestamps from its TSA (GitHub's instance has no Rekor and no CT log,
// and gh verifies it with WithSignedTimestamps(1)). Otherwise co with the
// gate's trust material (base), or baseErr. A policy's inline roots and
// trusted root always win: the policy said what to trust.
func (v *Verifier) instanceOpts(co *cosign.CheckOpts, base root.TrustedMaterial, baseErr error, b *sgbundle.Bundle, a *policy.Attestor) (*cosign.CheckOpts, error) {
	k := a.Keyless
	inline := strings.TrimSpace(k.Roots) != "" || strings.TrimSpace(k.Rekor.PubKey) != "" || strings.TrimSpace(k.CTLog.PubKey) != "" ||
		a.TrustedRoot != ""
	var leaf *x509.Certificate
	if vc, err := b.VerificationContent(); err == nil && vc != nil {
		leaf = vc.Certificate()
	}
	// Only GitHub's instance is taken from the GitHub trusted roots: the
	// file gh prints also holds public-good's root, and the gate's own
	// trust root says whether public-good is trusted at all.
	github := leaf != nil && len(leaf.Issuer.Organization) == 1 && leaf.Issuer.Organization[0] == githubIssuerOrg
	if !inline && github {
		for _, tr := range v.githubRoots {
			if !issuedBy(leaf, tr) {
				continue
			}
			c := *co
			c.TrustedMaterial = tr
			c.IgnoreSCT = len(tr.CTLogs()) == 0
			if len(tr.RekorLogs()) == 0 {
				if len(tr.TimestampingAuthorities()) == 0 {
					return nil, fmt.Errorf("the GitHub trusted root that issued this certificate has neither a transparency log nor a timestamp authority: nothing proves when it signed")
				}
				c.IgnoreTlog, c.UseSignedTimestamps = true, true
			}
			return &c, nil
		}
		switch {
		case base != nil && issuedBy(leaf, base):
			// The gate's own trust root is that instance's: as configured.
		case len(v.githubRoots) > 0:
			return nil, fmt.Errorf("%w: the attestation was signed by GitHub's own Sigstore instance, and no CA of the configured GitHub trusted root issued its certificate (run gh attestation trusted-root again: GitHub may have rotated it)", ErrNoGitHubRoot)
		default:
			return nil, fmt.Errorf("%w: the attestation was signed by GitHub's own Sigstore instance (fulcio.githubapp.com, private repositories); configure its trusted root (githubAttestations.trustedRoot, --github-trusted-root: the output of gh attestation trusted-root)", ErrNoGitHubRoot)
		}
	}
	if baseErr != nil {
		return nil, baseErr
	}
	c := *co
	c.TrustedMaterial = base
	return &c, nil
}

// issuedBy reports whether a Fulcio CA of tr signed leaf.
func issuedBy(leaf *x509.Certificate, tr root.TrustedMaterial) bool {
	for _, ca := range tr.FulcioCertificateAuthorities() {
		f, ok := ca.(*root.FulcioCertificateAuthority)
		if !ok {
			continue
		}
		for _, c := range append([]*x509.Certificate{f.Root}, f.Intermediates...) {
			if c != nil && bytes.Equal(leaf.RawIssuer, c.RawSubject) && leaf.CheckSignatureFrom(c) == nil {
				return true
			}
		}
	}
	return false
}

// githubMismatch checks gh attestation verify's identity checks on a
// verified signer, and says the first that fails as "field: want X, got
// Y", or "".
func githubMismatch(g *policy.GitHubChecks, s *Signer) string {
	if g == nil {
		return ""
	}
	host := "https://" + g.WebHost() + "/"
	san := s.Subject
	if g.SignerRepo != "" {
		want := host + g.SignerRepo + "/"
		if len(san) < len(want) || !strings.EqualFold(san[:len(want)], want) {
			return fmt.Sprintf("signer repository: want %s, got %s", strings.TrimSuffix(want, "/"), orNone(san))
		}
	}
	if g.SignerWorkflow != "" {
		want := host + g.SignerWorkflow
		got, _, _ := strings.Cut(san, "@")
		if strings.Contains(g.SignerWorkflow, "@") {
			got = san
		}
		if !sameRepoPath(got, want, len(host)) {
			return fmt.Sprintf("signer workflow: want %s, got %s", want, orNone(san))
		}
	}
	if g.SourceRef != "" && s.SourceRepositoryRef != g.SourceRef {
		return fmt.Sprintf("source ref: want %s, got %s", g.SourceRef, orNone(s.SourceRepositoryRef))
	}
	if g.SourceDigest != "" && !strings.EqualFold(s.SourceRepositoryDigest, g.SourceDigest) {
		return fmt.Sprintf("source digest: want %s, got %s", g.SourceDigest, orNone(s.SourceRepositoryDigest))
	}
	if g.DenySelfHostedRunners && s.RunnerEnvironment != "github-hosted" {
		return fmt.Sprintf("runner environment: want github-hosted, got %s (self-hosted runners are denied)", orNone(s.RunnerEnvironment))
	}
	return ""
}

// sameRepoPath compares https://host/owner/name/path URIs: owner and name
// case-insensitively (GitHub's), the rest exactly.
func sameRepoPath(got, want string, hostLen int) bool {
	if len(got) < hostLen || !strings.EqualFold(got[:hostLen], want[:hostLen]) {
		return false
	}
	gp := strings.SplitN(got[hostLen:], "/", 3)
	wp := strings.SplitN(want[hostLen:], "/", 3)
	if len(gp) != 3 || len(wp) != 3 {
		return false
	}
	return strings.EqualFold(gp[0], wp[0]) && strings.EqualFold(gp[1], wp[1]) && gp[2] == wp[2]
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
