package main

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/gatetest/fakegithub"
)

// githubWorld is a fake GitHub whose attestations API holds, under
// acme/app, the SLSA provenance acme's release workflow (the test
// Sigstore's default identity) made for the image signed.
func githubWorld(t *testing.T, w *gatetest.World, signed string) *fakegithub.GitHub {
	t.Helper()
	ref, err := name.ParseReference(signed)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(ref)
	if err != nil {
		t.Fatal(err)
	}
	d := ref.Context().Digest(desc.Digest.String())
	id := gatetest.DefaultGitHubIdentity()
	var bundle []byte
	if err := w.Sigstore.AttestImage(context.Background(), d, gatetest.AttestOptions{Format: gatetest.AttestBundle, Out: &bundle,
		PredicateType: gatetest.PredicateSLSAv1,
		Predicate:     gatetest.SLSAProvenanceV1(gatetest.GitHubProvenance{Repository: id.Repository, Ref: id.Ref, Workflow: id.Workflow})}); err != nil {
		t.Fatal(err)
	}
	f := fakegithub.New(t)
	f.AddAttestation(id.Repository, d.DigestStr(), bundle)
	return f
}

// check --signer-workflow reads GitHub's attestations API (never the
// network in tests) and applies gh attestation verify's checks: the
// release workflow's provenance passes, an image without one fails with
// where the gate looked, and another workflow fails with want and got.
func TestCheckGitHubAttestations(t *testing.T) {
	w, repo, _, signed, unsigned := checkWorld(t)
	f := githubWorld(t, w, signed)
	args := []string{"check", repo, "--trusted-root", w.TrustedRootPath, "--github-api-url", f.Server.URL,
		"--signer-workflow", "acme/app/.github/workflows/release.yml", "--source-ref", "refs/tags/v1.0.0", "--deny-self-hosted-runners"}
	out, stderr, code := run(t, args...)
	if code != exitDenied {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitDenied, out, stderr)
	}
	for _, want := range []string{"PASS", signed, "FAIL", unsigned, "GitHub attestations API repos/acme/app: none"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = run(t, "check", repo, "--trusted-root", w.TrustedRootPath, "--github-api-url", f.Server.URL,
		"--signer-workflow", "acme/app/.github/workflows/dev.yml", "-o", "json")
	if !strings.Contains(out, "signer workflow: want https://github.com/acme/app/.github/workflows/dev.yml, got https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0") {
		t.Errorf("another workflow: the verdict does not say want and got:\n%s", out)
	}
	// Checks that name no workflow would accept any workflow on GitHub.
	if _, stderr, code := run(t, "check", repo, "--trusted-root", w.TrustedRootPath, "--source-ref", "refs/heads/main"); code != exitUsage || !strings.Contains(stderr, "--signer-repo or --signer-workflow") {
		t.Errorf("--source-ref alone: exit %d: %s", code, stderr)
	}
	for _, r := range f.AttestationRequests() {
		if !strings.HasPrefix(r, "GET /repos/acme/app/attestations/sha256:") {
			t.Errorf("unexpected request %s", r)
		}
	}
}
