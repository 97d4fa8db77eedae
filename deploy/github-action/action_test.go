// Package githubaction holds the gitops-gate GitHub Action (action.yml and
// run.sh); its test runs the action's steps as the runner would, against an
// in-process registry and test Sigstore.
package githubaction

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
)

// action is the part of action.yml's schema that the test checks and runs.
type action struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Author      string `json:"author"`
	Branding    struct {
		Icon  string `json:"icon"`
		Color string `json:"color"`
	} `json:"branding"`
	Inputs map[string]struct {
		Description string  `json:"description"`
		Required    bool    `json:"required"`
		Default     *string `json:"default"`
	} `json:"inputs"`
	Outputs map[string]struct {
		Description string `json:"description"`
		Value       string `json:"value"`
	} `json:"outputs"`
	Runs struct {
		Using string `json:"using"`
		Steps []step `json:"steps"`
	} `json:"runs"`
}

type step struct {
	ID    string            `json:"id"`
	Shell string            `json:"shell"`
	Env   map[string]string `json:"env"`
	Run   string            `json:"run"`
	Uses  string            `json:"uses"`
}

func loadAction(t *testing.T) action {
	t.Helper()
	data, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a action
	// Strict: a misspelt or unknown key (e.g. "defualt") is an error.
	if err := yaml.UnmarshalStrict(data, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return a
}

var expr = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// TestActionMetadata checks action.yml's structure: the keys GitHub
// requires, every input documented and used, every reference to an input
// or a step declared, and no expression inside a script (inputs reach
// run.sh through env only, so no input can inject shell code).
func TestActionMetadata(t *testing.T) {
	a := loadAction(t)
	if a.Name == "" || a.Description == "" || a.Runs.Using != "composite" || len(a.Runs.Steps) == 0 {
		t.Fatalf("name, description, runs.using: composite and steps are required: %+v", a)
	}
	script, err := os.ReadFile("run.sh")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	ids := map[string]bool{}
	check := func(where, e string) {
		parts := strings.Split(e, ".")
		switch {
		case len(parts) == 2 && parts[0] == "inputs":
			if _, ok := a.Inputs[parts[1]]; !ok {
				t.Errorf("%s: input %q is not declared", where, parts[1])
			}
			used[parts[1]] = true
		case len(parts) == 4 && parts[0] == "steps" && parts[2] == "outputs":
			if !ids[parts[1]] {
				t.Errorf("%s: step %q is not declared before it", where, parts[1])
			}
		case e == "github.token":
		default:
			t.Errorf("%s: expression %q is not one this test understands", where, e)
		}
	}
	for i, s := range a.Runs.Steps {
		where := fmt.Sprintf("runs.steps[%d]", i)
		if s.Uses != "" {
			t.Errorf("%s: only run steps (the test runs each)", where)
			continue
		}
		if s.Shell != "bash" || s.Run == "" || s.ID == "" {
			t.Errorf("%s: a composite run step needs shell: bash, run and an id: %+v", where, s)
		}
		if strings.Contains(s.Run, "${{") {
			t.Errorf("%s: run holds an expression; pass it through env instead", where)
		}
		for k, v := range s.Env {
			for _, m := range expr.FindAllStringSubmatch(v, -1) {
				check(where+".env."+k, m[1])
			}
			if strings.HasPrefix(k, "INPUT_") && !strings.Contains(string(script), k) {
				t.Errorf("%s.env.%s: run.sh never reads it", where, k)
			}
		}
		ids[s.ID] = true
	}
	for name, in := range a.Inputs {
		if in.Description == "" {
			t.Errorf("input %q has no description", name)
		}
		if in.Default != nil {
			for _, m := range expr.FindAllStringSubmatch(*in.Default, -1) {
				check("inputs."+name+".default", m[1])
			}
		}
		if !used[name] {
			t.Errorf("input %q is declared but never passed to a step", name)
		}
	}
	for name, out := range a.Outputs {
		m := expr.FindStringSubmatch(out.Value)
		if out.Description == "" || m == nil {
			t.Errorf("output %q needs a description and a value", name)
			continue
		}
		check("outputs."+name, m[1])
		if p := strings.Split(m[1], "."); len(p) == 4 && !strings.Contains(string(script), "set_output "+p[3]+" ") {
			t.Errorf("output %q: run.sh never sets %q", name, p[3])
		}
	}
	for _, want := range []string{"path", "policy", "trusted-root", "tuf", "identity", "fail-on", "sarif"} {
		if _, ok := a.Inputs[want]; !ok {
			t.Errorf("input %q is missing", want)
		}
	}
	for _, want := range []string{"result", "failed", "report-path"} {
		if _, ok := a.Outputs[want]; !ok {
			t.Errorf("output %q is missing", want)
		}
	}
}

// runner runs the action's steps as GitHub's runner does for a composite
// action: each step's env mapping evaluated (inputs, earlier steps'
// outputs), its script run with bash -eo pipefail, GITHUB_OUTPUT fresh per
// step, GITHUB_STEP_SUMMARY shared.
type runner struct {
	t         *testing.T
	a         action
	workspace string
	temp      string
	summary   string
	extraPath string // a directory put first in PATH
	outputs   map[string]map[string]string
}

type stepResult struct {
	stdout, stderr string
	code           int
}

func newRunner(t *testing.T, workspace string) *runner {
	r := &runner{t: t, a: loadAction(t), workspace: workspace, temp: t.TempDir(), outputs: map[string]map[string]string{}}
	r.summary = filepath.Join(r.temp, "step_summary.md")
	return r
}

func (r *runner) eval(e string, inputs map[string]string) string {
	return expr.ReplaceAllStringFunc(e, func(m string) string {
		p := strings.Split(expr.FindStringSubmatch(m)[1], ".")
		switch {
		case p[0] == "inputs":
			if v, ok := inputs[p[1]]; ok {
				return v
			}
			if d := r.a.Inputs[p[1]].Default; d != nil {
				return r.eval(*d, inputs)
			}
			return ""
		case p[0] == "steps":
			return r.outputs[p[1]][p[3]]
		case p[0] == "github" && p[1] == "token":
			return "test-token"
		}
		r.t.Fatalf("unsupported expression %s", m)
		return ""
	})
}

// run runs every step in order and stops at the first that fails, as a
// job does; it returns the last step's result.
func (r *runner) run(inputs map[string]string) stepResult {
	r.t.Helper()
	actionPath, err := filepath.Abs(".")
	if err != nil {
		r.t.Fatal(err)
	}
	var res stepResult
	for i, s := range r.a.Runs.Steps {
		scriptFile := filepath.Join(r.temp, fmt.Sprintf("step%d.sh", i))
		os.WriteFile(scriptFile, []byte(s.Run), 0o644)
		outFile := filepath.Join(r.temp, fmt.Sprintf("output%d", i))
		os.WriteFile(outFile, nil, 0o644)
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", scriptFile)
		cmd.Dir = r.workspace
		path := os.Getenv("PATH")
		if r.extraPath != "" {
			path = r.extraPath + string(os.PathListSeparator) + path
		}
		cmd.Env = []string{
			"PATH=" + path, "HOME=" + os.Getenv("HOME"), "GITHUB_ACTIONS=true",
			"GITHUB_WORKSPACE=" + r.workspace, "RUNNER_TEMP=" + r.temp, "GITHUB_ACTION_PATH=" + actionPath,
			"GITHUB_OUTPUT=" + outFile, "GITHUB_STEP_SUMMARY=" + r.summary,
			"GITHUB_SERVER_URL=https://github.com", "GITHUB_REPOSITORY=acme/gitops", "GITHUB_RUN_ID=42",
		}
		for k, v := range s.Env {
			cmd.Env = append(cmd.Env, k+"="+r.eval(v, inputs))
		}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		res = stepResult{stdout: stdout.String(), stderr: stderr.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			res.code = ee.ExitCode()
		} else if err != nil {
			r.t.Fatal(err)
		}
		r.outputs[s.ID] = parseOutputs(r.t, outFile)
		if res.code != 0 {
			res.stdout = fmt.Sprintf("[step %s]\n%s", s.ID, res.stdout)
			break
		}
	}
	return res
}

// parseOutputs reads a GITHUB_OUTPUT file in both of its forms.
func parseOutputs(t *testing.T, path string) map[string]string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if name, delim, ok := strings.Cut(l, "<<"); ok {
			var val []string
			for i++; i < len(lines) && lines[i] != delim; i++ {
				val = append(val, lines[i])
			}
			if i == len(lines) {
				t.Fatalf("output %s: no closing delimiter", name)
			}
			out[name] = strings.Join(val, "\n")
		} else if name, val, ok := strings.Cut(l, "="); ok {
			out[name] = val
		}
	}
	return out
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// binary builds gitops-gate once for the tests of this package.
func binary(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gitops-gate-action-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "gitops-gate")
		out, err := exec.Command("go", "build", "-o", builtBin, "../../cmd/gitops-gate").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// demoWorkspace is a checkout of the demo repository (testdata/repos/demo)
// with its policy in policies/, against a registry with its images: two
// signed by the release workflow, one by another identity, one unsigned.
func demoWorkspace(t *testing.T) (ws string, d *gatetest.Demo) {
	t.Helper()
	d, err := gatetest.NewDemo(context.Background(), t.TempDir(), "../../testdata/repos/demo", "../../testdata/policies/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.World.Close)
	os.MkdirAll(filepath.Join(d.RepoDir, "policies"), 0o755)
	pol, _ := os.ReadFile(d.PolicyPath)
	os.WriteFile(filepath.Join(d.RepoDir, "policies", "demo.yaml"), pol, 0o644)
	return d.RepoDir, d
}

// TestActionFailingRepository runs the action on the demo repository: the
// step fails with exit 1, the two failing images are annotated at their
// lines, the step summary has the table, and the outputs say fail, 2, and
// where the JSON and SARIF reports are.
func TestActionFailingRepository(t *testing.T) {
	ws, d := demoWorkspace(t)
	r := newRunner(t, ws)
	res := r.run(map[string]string{
		"binary": binary(t), "policy": "policies/demo.yaml", "trusted-root": d.World.TrustedRootPath, "sarif": "gitops-gate.sarif",
	})
	if res.code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	host := strings.ReplaceAll(d.World.Registry.Host, ":", "%3A")
	for _, want := range []string{
		"::error file=apps/web/base/deployment.yaml,line=15,title=Image not verified%3A " + host + "/demo/migrate%3A2.1.0::",
		"%0AFound signer: https://github.com/evil-fork/migrate/.github/workflows/release.yml@refs/tags/v2.1.0",
		"::error file=jobs/cleanup.yaml,line=14,title=Image not verified%3A " + host + "/demo/cleanup@sha256%3A",
		"FAIL: 4 images: 2 verified, 2 failed (web-prod, jobs)",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
		}
	}
	if n := strings.Count(res.stdout, "\n::error "); n != 2 {
		t.Errorf("%d error annotations, want 2", n)
	}
	summary, _ := os.ReadFile(r.summary)
	for _, want := range []string{"## ❌ gitops-gate: 2 of 4 images failed\\: web-prod, jobs", "| ❌ fail | web-prod |",
		"<summary>2 images passed</summary>", "`apps/web/base/deployment.yaml:15`"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("step summary lacks %q:\n%s", want, summary)
		}
	}
	out := r.outputs["check"]
	if out["result"] != "fail" || out["failed"] != "2" || out["sarif-file"] != filepath.Join(ws, "gitops-gate.sarif") {
		t.Errorf("outputs %v", out)
	}
	var rep gate.Report
	data, _ := os.ReadFile(out["report-path"])
	if err := json.Unmarshal(data, &rep); err != nil || rep.Result != gate.StatusFail || rep.Summary.Failed != 2 {
		t.Errorf("report-path %s: %v %+v", out["report-path"], err, rep.Summary)
	}
	var sarif struct {
		Runs []struct{ Results []struct{ RuleID string } }
	}
	data, _ = os.ReadFile(filepath.Join(ws, "gitops-gate.sarif"))
	if err := json.Unmarshal(data, &sarif); err != nil || len(sarif.Runs) != 1 || len(sarif.Runs[0].Results) != 2 {
		t.Errorf("SARIF: %v %s", err, data)
	}

	// fail-on: never reports the same and lets the job go on.
	r = newRunner(t, ws)
	res = r.run(map[string]string{"binary": binary(t), "policy": "policies/demo.yaml", "trusted-root": d.World.TrustedRootPath, "fail-on": "never"})
	if res.code != 0 || r.outputs["check"]["result"] != "fail" || !strings.Contains(res.stdout, "::warning title=gitops-gate::result fail; the step passes because fail-on is never") {
		t.Errorf("fail-on never: exit %d, outputs %v\n%s", res.code, r.outputs["check"], res.stdout)
	}
}

// TestActionPassingRepository: a repository in a subdirectory of the
// workspace whose images are all signed by the release workflow passes;
// no annotation, a summary that says so, result pass.
func TestActionPassingRepository(t *testing.T) {
	ws, d := demoWorkspace(t)
	// The api chart alone, moved to gitops/: its image is signed by acme.
	os.MkdirAll(filepath.Join(ws, "gitops"), 0o755)
	if err := os.Rename(filepath.Join(ws, "charts"), filepath.Join(ws, "gitops", "charts")); err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, ws)
	res := r.run(map[string]string{"binary": binary(t), "path": "gitops", "policy": "policies/demo.yaml", "trusted-root": d.World.TrustedRootPath})
	if res.code != 0 || strings.Contains(res.stdout, "::error") || !strings.Contains(res.stdout, "PASS: 1 images: 1 verified") {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	summary, _ := os.ReadFile(r.summary)
	if !strings.Contains(string(summary), "## ✅ gitops-gate: All 1 images verified") || !strings.Contains(string(summary), "`gitops/charts/api/templates/deployment.yaml`") {
		t.Errorf("step summary:\n%s", summary)
	}
	if out := r.outputs["check"]; out["result"] != "pass" || out["failed"] != "0" || out["sarif-file"] != "" {
		t.Errorf("outputs %v", out)
	}
}

// TestActionErrors: what cannot be checked fails the step unless fail-on
// says deny or never; a bad input always fails it.
func TestActionErrors(t *testing.T) {
	ws, _ := demoWorkspace(t)
	// No trust root: every keyless image is an error (exit 3).
	for _, c := range []struct {
		failOn string
		code   int
	}{{"error", 3}, {"deny", 0}} {
		r := newRunner(t, ws)
		res := r.run(map[string]string{"binary": binary(t), "policy": "policies/demo.yaml", "fail-on": c.failOn})
		if res.code != c.code || r.outputs["check"]["result"] != "error" || !strings.Contains(res.stdout, "::warning title=gitops-gate::no trust root configured") {
			t.Errorf("fail-on %s: exit %d, want %d; outputs %v\n%s", c.failOn, res.code, c.code, r.outputs["check"], res.stdout)
		}
	}
	for _, in := range []map[string]string{
		{"fail-on": "sometimes"},
		{"tuf": "yes"},
		{"fail-on": "never", "policy": "policies/missing.yaml"},
	} {
		in["binary"] = binary(t)
		if _, ok := in["policy"]; !ok {
			in["policy"] = "policies/demo.yaml"
		}
		r := newRunner(t, ws)
		if res := r.run(in); res.code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", in, res.code, res.stdout)
		}
	}
}

// TestActionInstall: a binary path is used as is; a download is run only
// when its SHA-256 matches; without either, Go installs the version asked
// for, or builds the action's own checkout.
func TestActionInstall(t *testing.T) {
	ws := t.TempDir()
	fake := []byte("#!/bin/sh\necho gitops-gate v0.0.0-fake\n")
	sum := sha256.Sum256(fake)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(fake) }))
	defer srv.Close()
	installOnly := func(r *runner) {
		r.a.Runs.Steps = r.a.Runs.Steps[:1]
	}

	r := newRunner(t, ws)
	installOnly(r)
	if res := r.run(map[string]string{"binary": binary(t)}); res.code != 0 || r.outputs["install"]["bin"] != binary(t) {
		t.Errorf("binary: exit %d, outputs %v\n%s", res.code, r.outputs["install"], res.stdout)
	}

	r = newRunner(t, ws)
	installOnly(r)
	res := r.run(map[string]string{"download-url": srv.URL + "/gitops-gate", "download-sha256": strings.ToUpper(hex.EncodeToString(sum[:]))})
	if res.code != 0 || !strings.Contains(res.stdout, "v0.0.0-fake") || r.outputs["install"]["bin"] != filepath.Join(r.temp, "gitops-gate-bin", "gitops-gate") {
		t.Errorf("download: exit %d, outputs %v\n%s\n%s", res.code, r.outputs["install"], res.stdout, res.stderr)
	}
	for _, sha := range []string{"", strings.Repeat("0", 64)} {
		r = newRunner(t, ws)
		installOnly(r)
		res := r.run(map[string]string{"download-url": srv.URL + "/gitops-gate", "download-sha256": sha})
		if res.code != 2 || strings.Contains(res.stdout, "v0.0.0-fake") || r.outputs["install"]["bin"] != "" {
			t.Errorf("download with sha256 %q: exit %d, it must not run\n%s", sha, res.code, res.stdout)
		}
	}

	// A fake go records how it is called and installs a fake binary.
	goDir := t.TempDir()
	log := filepath.Join(goDir, "log")
	os.WriteFile(filepath.Join(goDir, "go"), []byte(`#!/bin/sh
echo "$PWD|$GOBIN|$*" >> `+log+`
case $1 in
install) out=$GOBIN/gitops-gate ;;
build) out=$4 ;;
esac
printf '#!/bin/sh\necho gitops-gate built\n' > "$out"; chmod +x "$out"
`), 0o755)
	for _, c := range []struct{ version, want string }{
		{"v1.2.3", "|" + "GOBIN|install github.com/gitops-gate/gitops-gate/cmd/gitops-gate@v1.2.3"},
		{"", "|build -trimpath -o BIN ./cmd/gitops-gate"},
	} {
		os.Remove(log)
		r = newRunner(t, ws)
		r.extraPath = goDir
		installOnly(r)
		res := r.run(map[string]string{"version": c.version})
		bin := filepath.Join(r.temp, "gitops-gate-bin", "gitops-gate")
		got, _ := os.ReadFile(log)
		root, _ := filepath.Abs("../..")
		want := strings.NewReplacer("GOBIN", filepath.Dir(bin), "BIN", bin).Replace(c.want)
		if res.code != 0 || !strings.Contains(string(got), want) || r.outputs["install"]["bin"] != bin {
			t.Errorf("version %q: exit %d, go called as %q, want %q\n%s", c.version, res.code, got, want, res.stdout)
		}
		if c.version == "" {
			if dir, _, _ := strings.Cut(string(got), "|"); filepath.Clean(dir) != root {
				t.Errorf("built in %s, want the module root %s", dir, root)
			}
		}
	}
}
