package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
)

// TestCheckStateIsIncremental: check --state carries over the apps whose
// inputs did not change since the check that wrote the file, says so in
// its JSON, and judges every image all the same; --full renders all.
func TestCheckStateIsIncremental(t *testing.T) {
	w, repo, pol, _, _ := checkWorld(t)
	state := filepath.Join(t.TempDir(), "state")
	check := func(extra ...string) *gate.Report {
		t.Helper()
		args := append([]string{"check", repo, "--policy", pol, "--trusted-root", w.TrustedRootPath, "-o", "json", "--state", state}, extra...)
		out, stderr, code := run(t, args...)
		if code != exitDenied { // the worker's image is unsigned
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var rep gate.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return &rep
	}
	rep := check()
	if r := rep.Rendering; r == nil || r.Mode != gate.RenderFull || r.Rendered != 2 {
		t.Fatalf("first check: rendering %+v", rep.Rendering)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("no state written: %v", err)
	}
	os.WriteFile(filepath.Join(repo, "api", "extra.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"), 0o644)
	rep = check()
	if r := rep.Rendering; r.Mode != gate.RenderIncremental || r.Rendered != 1 || r.CarriedOver != 1 || r.Base != state {
		t.Errorf("second check: rendering %+v", r)
	}
	if rep.Summary.Images != 2 || rep.Summary.Failed != 1 {
		t.Errorf("second check judged %+v", rep.Summary)
	}
	rep = check("--full")
	if r := rep.Rendering; r.Mode != gate.RenderFull || r.CarriedOver != 0 || r.Reason != "a full render was asked for" {
		t.Errorf("--full: rendering %+v", r)
	}
	// Without --state nothing is said about rendering: every app renders.
	out, _, _ := run(t, "check", repo, "--policy", pol, "--trusted-root", w.TrustedRootPath, "-o", "json")
	var plain map[string]any
	json.Unmarshal([]byte(out), &plain)
	if _, ok := plain["rendering"]; ok {
		t.Errorf("check without --state reports rendering: %s", out)
	}
}

// TestCheckStateNotFromTheRepository: the record decides which apps keep
// their earlier images, so one inside the checkout under review (which a
// pull request can write), directly or through a symlink, is refused
// before anything is read; one outside it is not.
func TestCheckStateNotFromTheRepository(t *testing.T) {
	w, repo, pol, _, _ := checkWorld(t)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(repo, link); err != nil {
		t.Fatal(err)
	}
	for _, state := range []string{
		filepath.Join(repo, ".gitops-gate-state.json"),
		filepath.Join(repo, "new-dir", "state"),
		filepath.Join(link, "state"),
	} {
		_, stderr, code := run(t, "check", repo, "--policy", pol, "--trusted-root", w.TrustedRootPath, "--state", state)
		if code != exitUsage || !strings.Contains(stderr, "inside the repository under review") {
			t.Errorf("--state %s: exit %d, %s", state, code, stderr)
		}
	}
	if inside, err := within(repo, filepath.Join(filepath.Dir(repo), "state")); err != nil || inside {
		t.Errorf("a sibling of the checkout counts as inside (%v)", err)
	}
}
