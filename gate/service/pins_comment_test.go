package service

import (
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/github"
	"github.com/gitops-gate/gitops-gate/manifests"
)

func TestPinsComment(t *testing.T) {
	sha, target := "0123456789abcdef0123", "https://gate/evaluations/1"
	pass := func(p *gate.PinProposal) *gate.Report {
		return &gate.Report{Result: gate.StatusPass, ProposedPins: p}
	}
	if body, only := PinsComment(sha, target, &gate.Report{Result: gate.StatusFail}); !only || !strings.Contains(body, "did not") {
		t.Errorf("failing: %v %q", only, body)
	}
	if body, only := PinsComment(sha, target, pass(nil)); !only || !strings.Contains(body, "every image is pinned to a verified digest at 0123456789ab") {
		t.Errorf("nothing to pin: %v %q", only, body)
	}
	skipped := []manifests.Skipped{{Image: "x:1", File: "chart/values.yaml", Reason: "the tag is the chart's appVersion"}}
	if body, only := PinsComment(sha, target, pass(&gate.PinProposal{Skipped: skipped})); only || strings.Contains(body, "```diff") || !strings.Contains(body, "- `x:1` (chart/values.yaml): the tag is the chart's appVersion") {
		t.Errorf("only skipped: %v %q", only, body)
	}
	// A diff that contains a fence gets a longer one; a huge diff is cut
	// at a line and still fits GitHub's limit.
	fenced := "--- a/x.yaml\n+++ b/x.yaml\n@@ -1 +1 @@\n-a: ```\n+a: ```@sha256:00\n"
	if body, _ := PinsComment(sha, target, pass(&gate.PinProposal{Edits: 1, Files: []string{"x.yaml"}, Diff: fenced})); !strings.Contains(body, "````diff\n"+fenced+"````") ||
		!strings.Contains(body, "1 image value in 1 file still uses a tag") {
		t.Errorf("fenced: %q", body)
	}
	huge := strings.Repeat("+          image: registry.example/acme/api:v1@sha256:0000000000000000000000000000000000000000000000000000000000000000\n", 2000)
	body, _ := PinsComment(sha, target, pass(&gate.PinProposal{Edits: 2000, Files: []string{"x.yaml"}, Diff: huge, Skipped: skipped}))
	if len(body)+100 > github.MaxCommentBytes || !strings.Contains(body, "cut short") || !strings.Contains(body, "sha256:0000000000000000000000000000000000000000000000000000000000000000\n```\n") {
		t.Errorf("huge: %d bytes", len(body))
	}
}
