package report

import (
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/policy/conditions"
	"github.com/gitops-gate/gitops-gate/gate/verify"
	"github.com/gitops-gate/gitops-gate/manifests"
)

const (
	releaseBuilder = "https://github.com/acme/api/.github/workflows/release.yml@refs/tags/v2"
	devBuilder     = "https://github.com/acme/api/.github/workflows/dev.yml@refs/heads/dev"
)

func provenanceOf(builder string) []verify.Statement {
	return []verify.Statement{{PredicateType: "https://slsa.dev/provenance/v1", Format: verify.FormatBundle,
		Provenance: &verify.Provenance{BuilderID: builder, SourceRepository: "https://github.com/acme/api", SourceRef: "refs/tags/v2"}}}
}

// What an attestation decided reaches the one-line surfaces, short: the
// failed condition, gh's failed check, the missing attestation, or who
// built what passed.
func TestAttestationFact(t *testing.T) {
	img := func(st gate.Status, reason, attestor string) gate.ImageVerdict {
		return gate.ImageVerdict{ImageRef: manifests.ImageRef{Image: "ghcr.io/acme/api:v2"}, Status: st, Reason: reason, Attestor: attestor}
	}
	cond := img(gate.StatusFail, "…", "attestations[0].attestors[0]")
	cond.FailedCondition = &conditions.Failure{Key: "runDetails.builder.id", Operator: "Equals", Want: `"` + releaseBuilder + `"`, Got: `"` + devBuilder + `"`}
	passed := img(gate.StatusPass, "", "")
	passed.Attestations = provenanceOf(releaseBuilder)
	for _, c := range []struct {
		im   gate.ImageVerdict
		want string
	}{
		{cond, "runDetails.builder.id want …/release.yml@refs/tags/v2, got …/dev.yml@refs/heads/dev"},
		{img(gate.StatusFail, "attestations[0].attestors[0]: signer repository: want https://github.com/acme/api, got https://github.com/evil/api/.github/workflows/release.yml@refs/tags/v2 (want …)", "attestations[0].attestors[0]"),
			"signer repository want acme/api, got …/release.yml@refs/tags/v2"},
		{img(gate.StatusFail, "attestations[0].attestors[0]: runner environment: want github-hosted, got self-hosted (self-hosted runners are denied)", "x"),
			"runner environment want github-hosted, got self-hosted"},
		{img(gate.StatusFail, "attestations[0].attestors[0]: no attestation of type https://slsa.dev/provenance/v1 signed by this attestor at sha256:… (looked at: …)", "attestations[0].attestors[0]"),
			"no provenance/v1 attestation"},
		{passed, "built by …/release.yml@refs/tags/v2"},
		{img(gate.StatusFail, "no signatures found at sha256:…", "attestors[0]"), ""},
	} {
		if got := AttestationFact(c.im); got != c.want {
			t.Errorf("AttestationFact = %q, want %q (reason %q)", got, c.want, c.im.Reason)
		}
	}

	rep := &gate.Report{APIVersion: gate.APIVersion, Result: gate.StatusFail, Apps: []gate.AppVerdict{
		{Name: "web", Images: []gate.ImageVerdict{passed}},
		{Name: "api", Images: []gate.ImageVerdict{cond}},
	}}
	if got := StatusFact(rep); got != "api: runDetails.builder.id want …/release.yml@refs/tags/v2, got …/dev.yml@refs/heads/dev" {
		t.Errorf("StatusFact = %q", got)
	}
	md := Markdown(rep, MarkdownOptions{})
	for _, want := range []string{`runDetails.builder.id want …/release.yml\@refs/tags/v2, got …/dev.yml\@refs/heads/dev. …`,
		"| ✅ pass | web | `ghcr.io/acme/api:v2` |  | built by …/release.yml\\@refs/tags/v2 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
}
