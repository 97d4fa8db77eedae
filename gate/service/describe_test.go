package service

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/policy/conditions"
	"github.com/gitops-gate/gitops-gate/gate/verify"
)

// The commit status says what an attestation decided, within GitHub's
// 140 characters: the failing condition with want and got, or for a pass
// who built the images.
func TestDescribeShowsProvenance(t *testing.T) {
	bad := gate.ImageVerdict{Status: gate.StatusFail, Attestor: "attestations[0].attestors[0]", Reason: "…",
		FailedCondition: &conditions.Failure{Key: "runDetails.builder.id", Operator: "Equals",
			Want: `"https://github.com/acme/api/.github/workflows/release.yml@refs/tags/v2"`,
			Got:  `"https://github.com/acme/api/.github/workflows/dev.yml@refs/heads/main"`}}
	good := gate.ImageVerdict{Status: gate.StatusPass, Attestations: []verify.Statement{{PredicateType: "https://slsa.dev/provenance/v1",
		Provenance: &verify.Provenance{BuilderID: "https://github.com/acme/api/.github/workflows/release.yml@refs/tags/v2"}}}}
	rep := &gate.Report{Apps: []gate.AppVerdict{{Name: "web", Images: []gate.ImageVerdict{good}}, {Name: "api", Images: []gate.ImageVerdict{bad}}}}
	rep.Recount()
	d := Describe(rep)
	if want := "2 images: 1 verified, 1 failed (api); api: runDetails.builder.id want …/release.yml@refs/tags/v2, got …/dev.yml@refs/heads/main"; d != want {
		t.Errorf("failing status %q\nwant %q", d, want)
	}
	rep.Apps = rep.Apps[:1]
	rep.Recount()
	if d := Describe(rep); d != "1 images: 1 verified; built by …/release.yml@refs/tags/v2" {
		t.Errorf("passing status %q", d)
	}
	// Long values are cut at 140 characters, never over.
	bad.FailedCondition.Got = `"` + strings.Repeat("x", 300) + `"`
	rep.Apps = []gate.AppVerdict{{Name: "api", Images: []gate.ImageVerdict{bad}}}
	rep.Recount()
	if d := Describe(rep); utf8.RuneCountInString(d) > 140 || !strings.HasPrefix(d, "1 images: 0 verified, 1 failed (api); api: runDetails.builder.id want") {
		t.Errorf("long status (%d characters) %q", utf8.RuneCountInString(d), d)
	}
}
