package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
)

// TestCheckMarkdownAndGitHub: -o markdown prints the summary; -o github
// prints annotations at workspace-relative paths, appends the summary to
// $GITHUB_STEP_SUMMARY, and writes the SARIF and JSON files of the same
// run; the exit code is the verdict's, as for every format.
func TestCheckMarkdownAndGitHub(t *testing.T) {
	w, repo, pol, _, unsigned := checkWorld(t)
	out, _, code := run(t, "check", repo, "--policy", pol, "--trusted-root", w.TrustedRootPath, "-o", "markdown")
	if code != exitDenied || !strings.HasPrefix(out, "## ❌ gitops-gate: 1 of 2 images failed\\: worker\n") ||
		!strings.Contains(out, "`worker/deploy.yaml:10`") || !strings.Contains(out, "<summary>1 images passed</summary>") {
		t.Errorf("exit %d:\n%s", code, out)
	}

	// The repository is the gitops/ directory of the workspace.
	ws := t.TempDir()
	if err := os.Rename(repo, filepath.Join(ws, "gitops")); err != nil {
		t.Fatal(err)
	}
	summary := filepath.Join(ws, "summary.md")
	os.WriteFile(summary, []byte("earlier step\n"), 0o644)
	t.Setenv("GITHUB_WORKSPACE", ws)
	t.Setenv("GITHUB_STEP_SUMMARY", summary)
	t.Chdir(ws)
	out, _, code = run(t, "check", "gitops", "--policy", pol, "--trusted-root", w.TrustedRootPath, "-o", "github",
		"--sarif-file", "out.sarif", "--json-file", "out.json")
	if code != exitDenied {
		t.Errorf("exit %d, want %d", code, exitDenied)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "::error file=gitops/worker/deploy.yaml,line=10,title=Image not verified%3A "+strings.ReplaceAll(unsigned, ":", "%3A")+"::") ||
		lines[1] != "FAIL: 2 images: 1 verified, 1 failed (worker)" {
		t.Errorf("workflow commands:\n%s", out)
	}
	md, _ := os.ReadFile(summary)
	if !strings.HasPrefix(string(md), "earlier step\n## ❌ gitops-gate: 1 of 2 images failed") || !strings.Contains(string(md), "`gitops/worker/deploy.yaml:10`") {
		t.Errorf("step summary:\n%s", md)
	}
	var rep gate.Report
	data, _ := os.ReadFile(filepath.Join(ws, "out.json"))
	if err := json.Unmarshal(data, &rep); err != nil || rep.Result != gate.StatusFail || rep.Apps[1].Images[0].File != "worker/deploy.yaml" {
		t.Errorf("JSON file (paths stay repository-relative): %v %+v", err, rep.Apps)
	}
	sarif, _ := os.ReadFile(filepath.Join(ws, "out.sarif"))
	if !strings.Contains(string(sarif), `"uri": "gitops/worker/deploy.yaml"`) {
		t.Errorf("SARIF file:\n%s", sarif)
	}

	// A usage error writes nothing.
	os.Remove(summary)
	if _, _, code := run(t, "check", "gitops", "--policy", pol, "-o", "gitlab"); code != exitUsage {
		t.Errorf("-o gitlab: exit %d", code)
	}
	if _, err := os.Stat(summary); err == nil {
		t.Errorf("a usage error wrote a step summary")
	}
}
