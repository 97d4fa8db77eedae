package gate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/gatetest/fakegithub"
	"github.com/gitops-gate/gitops-gate/gate/github"
	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/report"
	"github.com/gitops-gate/gitops-gate/gate/trust"
	"github.com/gitops-gate/gitops-gate/gate/verify"
)

// ghRelease is the seed's release workflow: acme/app's release.yml on main.
func ghRelease() gatetest.GitHubIdentity {
	id := gatetest.DefaultGitHubIdentity()
	id.Repository, id.Workflow, id.Ref = "acme/app", ".github/workflows/release.yml", "refs/heads/main"
	return id
}

// ghBundle is what actions/attest-build-provenance uploads to the
// attestations API for d: a Sigstore bundle v0.3 holding a SLSA v1
// provenance, signed by ss for id (TSA-only when ss is GitHub's instance).
func ghBundle(t *testing.T, ss *gatetest.Sigstore, d name.Digest, id gatetest.GitHubIdentity, subject *name.Digest) []byte {
	t.Helper()
	var out []byte
	o := gatetest.AttestOptions{SignOptions: gatetest.SignOptions{Identity: id}, Format: gatetest.AttestBundle, Out: &out,
		PredicateType: gatetest.PredicateSLSAv1, Subject: subject,
		Predicate: gatetest.SLSAProvenanceV1(gatetest.GitHubProvenance{Repository: id.Repository, Ref: id.Ref, Workflow: id.Workflow})}
	if ss.GitHubInstance {
		o.NoTlog, o.TSA = true, true
	}
	if err := ss.AttestImage(context.Background(), d, o); err != nil {
		t.Fatal(err)
	}
	return out
}

// seedChecks are gh attestation verify's checks for the seed's workflow.
func seedChecks() policy.GitHubChecks {
	return policy.GitHubChecks{SignerRepo: "acme/app", SignerWorkflow: "acme/app/.github/workflows/release.yml",
		SourceRef: "refs/heads/main", DenySelfHostedRunners: true}
}

func ghPolicy(t *testing.T, c policy.GitHubChecks) *policy.Set {
	t.Helper()
	set, err := policy.NativeWith(nil, nil, policy.NativeOptions{GitHub: &policy.GitHubRule{Checks: c}})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// withGitHub reads attestations from the fake GitHub's acme/app.
func withGitHub(t *testing.T, f *fakegithub.GitHub, roots ...*root.TrustedRoot) func(*gate.Options, *verify.Options) {
	src, err := github.NewAttestations(github.AttestationsOptions{BaseURL: f.Server.URL, Repos: []string{"acme/app"},
		Token: func(context.Context) (string, error) { return "ghs_test", nil }})
	if err != nil {
		t.Fatal(err)
	}
	return func(_ *gate.Options, vo *verify.Options) { vo.GitHub, vo.GitHubRoots = src, roots }
}

// The attack classes of GitHub artifact attestations: a provenance signed
// by another workflow, another repository's workflow, a self-hosted
// runner, another ref, or made for another image, must not pass the
// seed's rule; the release workflow's passes. Each failure names the
// check, with want and got.
func TestGitHubAttestationsIdentityChecks(t *testing.T) {
	e := newEnv(t)
	f := fakegithub.New(t)
	pol := ghPolicy(t, seedChecks())
	mod := withGitHub(t, f)

	good := e.push("acme/app:good")
	f.AddAttestation("acme/app", good.DigestStr(), ghBundle(t, e.w.Sigstore, good, ghRelease(), nil))
	v := e.judge(good.String(), pol, mod)
	if v.Status != gate.StatusPass {
		t.Fatalf("release workflow's provenance: %s: %s", v.Status, v.Reason)
	}
	if len(v.Attestations) != 1 || v.Attestations[0].Provenance == nil || v.Attestations[0].Provenance.SourceRef != "refs/heads/main" {
		t.Errorf("verdict does not show the provenance: %+v", v.Attestations)
	}

	cases := []struct {
		name string
		id   func(*gatetest.GitHubIdentity)
		want string
	}{
		{"another workflow", func(id *gatetest.GitHubIdentity) { id.Workflow = ".github/workflows/dev.yml" },
			"signer workflow: want https://github.com/acme/app/.github/workflows/release.yml, got https://github.com/acme/app/.github/workflows/dev.yml@refs/heads/main"},
		{"another repository's workflow", func(id *gatetest.GitHubIdentity) { id.Repository = "evil/app" },
			"signer repository: want https://github.com/acme/app, got https://github.com/evil/app/.github/workflows/release.yml@refs/heads/main"},
		{"a self-hosted runner", func(id *gatetest.GitHubIdentity) { id.RunnerEnvironment = "self-hosted" },
			"runner environment: want github-hosted, got self-hosted"},
		{"another ref", func(id *gatetest.GitHubIdentity) { id.Ref = "refs/heads/attacker" },
			"source ref: want refs/heads/main, got refs/heads/attacker"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := e.push("acme/app:bad" + string(rune('a'+i)))
			id := ghRelease()
			c.id(&id)
			f.AddAttestation("acme/app", d.DigestStr(), ghBundle(t, e.w.Sigstore, d, id, nil))
			v := e.judge(d.String(), pol, mod)
			if v.Status != gate.StatusFail || !strings.Contains(v.Reason, c.want) {
				t.Fatalf("got %s: %s\nwant fail with %q", v.Status, v.Reason, c.want)
			}
			// The commit status and the summary lead with the check.
			check, _, _ := strings.Cut(c.want, ":")
			if f := report.AttestationFact(v); !strings.HasPrefix(f, check+" want ") {
				t.Errorf("status fact %q, want the %s check", f, check)
			}
		})
	}

	t.Run("made for another image", func(t *testing.T) {
		d := e.push("acme/app:copied")
		f.AddAttestation("acme/app", d.DigestStr(), ghBundle(t, e.w.Sigstore, d, ghRelease(), &good))
		if v := e.judge(d.String(), pol, mod); v.Status != gate.StatusFail {
			t.Fatalf("a provenance of another digest: %s: %s", v.Status, v.Reason)
		}
	})
	t.Run("not found", func(t *testing.T) {
		d := e.push("acme/app:none")
		v := e.judge(d.String(), pol, mod)
		if v.Status != gate.StatusFail || !strings.Contains(v.Reason, "GitHub attestations API repos/acme/app: none") {
			t.Fatalf("no attestation (404): %s: %s", v.Status, v.Reason)
		}
	})
	for _, r := range f.AttestationRequests() {
		if !strings.Contains(r, "/repos/acme/app/attestations/sha256:") || !strings.Contains(r, "per_page=100") || !strings.Contains(r, "auth=true") {
			t.Errorf("unexpected request %s", r)
		}
	}
	if bad := f.Bad(); len(bad) > 0 {
		t.Errorf("requests GitHub would refuse: %v", bad)
	}
}

// A rate-limited GitHub (403 with x-ratelimit-remaining: 0, or 429) hides
// attestations: the verdict is an error naming the limit and its reset,
// never a pass or a plain failure.
func TestGitHubAttestationsRateLimited(t *testing.T) {
	e := newEnv(t)
	f := fakegithub.New(t)
	d := e.push("acme/app:v1")
	f.AddAttestation("acme/app", d.DigestStr(), ghBundle(t, e.w.Sigstore, d, ghRelease(), nil))
	for _, c := range []struct {
		status int
		want   []string
	}{
		{http.StatusForbidden, []string{"rate limited", "primary rate limit", "limit 5000 requests per hour (core), 0 remaining", "resets at 2030-01-02T03:04:05Z"}},
		{http.StatusTooManyRequests, []string{"rate limited", "secondary rate limit", "retry after 60s"}},
	} {
		f.SetAttestations(fakegithub.GitHubAttestations{RateLimited: c.status})
		v := e.judge(d.String(), ghPolicy(t, seedChecks()), withGitHub(t, f))
		if v.Status != gate.StatusError {
			t.Fatalf("HTTP %d: %s: %s", c.status, v.Status, v.Reason)
		}
		for _, w := range c.want {
			if !strings.Contains(v.Reason, w) {
				t.Errorf("HTTP %d: reason %q lacks %q", c.status, v.Reason, w)
			}
		}
	}
}

// Attestations over several pages (Link rel="next"), and served by
// reference (bundle_url, snappy-compressed, fetched without GitHub
// credentials), are all read.
func TestGitHubAttestationsPagesAndBundleURL(t *testing.T) {
	e := newEnv(t)
	f := fakegithub.New(t)
	d := e.push("acme/app:v1")
	dev := ghRelease()
	dev.Workflow = ".github/workflows/dev.yml"
	f.AddAttestation("acme/app", d.DigestStr(), ghBundle(t, e.w.Sigstore, d, dev, nil))
	f.AddAttestation("acme/app", d.DigestStr(), ghBundle(t, e.w.Sigstore, d, dev, nil))
	f.AddAttestation("acme/app", d.DigestStr(), ghBundle(t, e.w.Sigstore, d, ghRelease(), nil))
	for _, c := range []fakegithub.GitHubAttestations{{PageSize: 1}, {PageSize: 2, ByURL: true}} {
		f.SetAttestations(c)
		v := e.judge(d.String(), ghPolicy(t, seedChecks()), withGitHub(t, f))
		if v.Status != gate.StatusPass {
			t.Fatalf("%+v: the release provenance on the last page: %s: %s", c, v.Status, v.Reason)
		}
	}
	var pages, blobs int
	for _, r := range f.AttestationRequests() {
		switch {
		case strings.Contains(r, "/blobs/"):
			blobs++
			if strings.Contains(r, "auth=true") {
				t.Errorf("GitHub token sent to blob storage: %s", r)
			}
		case strings.Contains(r, "after="):
			pages++
		}
	}
	if pages != 3 || blobs != 3 {
		t.Errorf("read %d further pages and %d bundle URLs, want 3 and 3: %v", pages, blobs, f.AttestationRequests())
	}
	if bad := f.Bad(); len(bad) > 0 {
		t.Errorf("bad requests: %v", bad)
	}
}

// Private repositories' attestations are signed by GitHub's own Sigstore
// instance (no Rekor, a TSA): with its trusted root as gh attestation
// trusted-root prints it they verify; without it the verdict is an error
// that says what to configure, never a pass; one without a timestamp
// does not verify at all.
func TestGitHubAttestationsPrivateInstance(t *testing.T) {
	e := newEnv(t)
	f := fakegithub.New(t)
	ghs, err := gatetest.NewGitHubInstance()
	if err != nil {
		t.Fatal(err)
	}
	d := e.push("acme/private:v1")
	f.AddAttestation("acme/app", d.DigestStr(), ghBundle(t, ghs, d, ghRelease(), nil))

	// gh attestation trusted-root: one trusted_root.json per line, the
	// public-good instance's and GitHub's.
	var jsonl bytes.Buffer
	for _, ss := range []*gatetest.Sigstore{e.w.Sigstore, ghs} {
		js, err := ss.TrustedRootJSON()
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Compact(&jsonl, js); err != nil {
			t.Fatal(err)
		}
		jsonl.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "github-trusted-root.jsonl")
	if err := os.WriteFile(path, jsonl.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	roots, err := trust.LoadJSONL(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(roots) != 2 {
		t.Fatalf("read %d trusted roots, want 2", len(roots))
	}

	pol := ghPolicy(t, seedChecks())
	if v := e.judge(d.String(), pol, withGitHub(t, f, roots...)); v.Status != gate.StatusPass {
		t.Fatalf("with GitHub's trusted root: %s: %s", v.Status, v.Reason)
	}
	v := e.judge(d.String(), pol, withGitHub(t, f))
	if v.Status != gate.StatusError || !strings.Contains(v.Reason, "GitHub's own Sigstore instance") || !strings.Contains(v.Reason, "gh attestation trusted-root") {
		t.Fatalf("without GitHub's trusted root: %s: %s", v.Status, v.Reason)
	}

	// The public-good root alone does not vouch for GitHub's instance.
	if v := e.judge(d.String(), pol, withGitHub(t, f, roots[0])); v.Status.Passing() {
		t.Fatalf("GitHub's instance verified against the public-good root: %s: %s", v.Status, v.Reason)
	}

	// The public-good line of the file does not widen the gate's own trust
	// root: a bundle of another public-good-like instance the file names
	// (but the gate's trustedRoot does not) is not verified.
	other, err := gatetest.New()
	if err != nil {
		t.Fatal(err)
	}
	otherJS, err := other.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	otherRoot, err := root.NewTrustedRootFromJSON(otherJS)
	if err != nil {
		t.Fatal(err)
	}
	wide := e.push("acme/private:wide")
	f.AddAttestation("acme/app", wide.DigestStr(), ghBundle(t, other, wide, ghRelease(), nil))
	if v := e.judge(wide.String(), pol, withGitHub(t, f, otherRoot, roots[1])); v.Status.Passing() {
		t.Fatalf("a root of the GitHub trusted-root file other than GitHub's instance was trusted: %s: %s", v.Status, v.Reason)
	}

	// No timestamp: nothing proves the certificate was valid when it signed.
	nots := e.push("acme/private:nots")
	var out []byte
	if err := ghs.AttestImage(e.ctx, nots, gatetest.AttestOptions{SignOptions: gatetest.SignOptions{Identity: ghRelease(), NoTlog: true},
		Format: gatetest.AttestBundle, Out: &out, PredicateType: gatetest.PredicateSLSAv1, Predicate: provenance(trustedBuilder)}); err != nil {
		t.Fatal(err)
	}
	f.AddAttestation("acme/app", nots.DigestStr(), out)
	if v := e.judge(nots.String(), pol, withGitHub(t, f, roots...)); v.Status.Passing() {
		t.Fatalf("GitHub instance attestation without a timestamp: %s: %s", v.Status, v.Reason)
	}
}

// additionalExtensions bind a classic (.att) attestation too: cosign
// checks only subject and issuer, and the gate used to stop there for
// attestations, so a provenance from a pull_request run passed a rule that
// requires a push.
func TestClassicAttestationExtensions(t *testing.T) {
	e := newEnv(t)
	pol := e.policy(strings.Replace(typed(provenancePolicy, "Cosign"), "              subjectRegExp:",
		"              additionalExtensions: {githubWorkflowTrigger: push}\n              subjectRegExp:", 1), true)
	slsa := gatetest.AttestOptions{PredicateType: gatetest.PredicateSLSAv1, Predicate: provenance(trustedBuilder)}

	push := e.push("acme/push:v1")
	e.attest(push, slsa)
	if v := e.judge(e.w.Ref("acme/push:v1"), pol); v.Status != gate.StatusPass {
		t.Fatalf("push-triggered provenance: %s: %s", v.Status, v.Reason)
	}
	pr := e.push("acme/pr:v1")
	o := slsa
	o.Identity = gatetest.DefaultGitHubIdentity()
	o.Identity.Trigger = "pull_request"
	e.attest(pr, o)
	v := e.judge(e.w.Ref("acme/pr:v1"), pol)
	if v.Status != gate.StatusFail || !strings.Contains(v.Reason, `githubWorkflowTrigger is "pull_request", want "push"`) {
		t.Fatalf("pull_request-triggered provenance: %s: %s", v.Status, v.Reason)
	}
}
