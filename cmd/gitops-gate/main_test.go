package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/manifests"
)

const corpus = "../../testdata/corpus/argocd-example-apps"

// TestMain lets the test binary stand in for gitops-gate as the Helm
// sandbox's child: commands run in process start os.Executable() with the
// hidden helm-sandbox command.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == helmSandboxCmd {
		os.Exit(manifests.RunHelmChild(os.Stdin, os.Stdout))
	}
	// Run under GitHub Actions, the tests must not write to the job's step
	// summary or see its workspace; tests that want them set them.
	for _, v := range []string{"GITHUB_STEP_SUMMARY", "GITHUB_WORKSPACE", "GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"} {
		os.Unsetenv(v)
	}
	os.Exit(m.Run())
}

// run executes the CLI in-process and returns stdout, stderr and exit code.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := newRootCmd()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	code := exitOK
	if err != nil {
		code = exitCode(err)
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), code
}

func TestVersion(t *testing.T) {
	out, _, code := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "gitops-gate ") {
		t.Errorf("version: %q, exit %d", out, code)
	}
}

func TestImagesJSONMatchesGolden(t *testing.T) {
	out, stderr, code := run(t, "images", corpus, "-o", "json")
	if code != exitDenied {
		t.Errorf("exit %d, want %d (some corpus apps cannot be rendered)", code, exitDenied)
	}
	if !strings.Contains(stderr, "4 problem(s)") { // helm-dependency and the three plugin apps
		t.Errorf("stderr %q", stderr)
	}
	want, err := os.ReadFile("../../testdata/corpus/argocd-example-apps.images.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("`images -o json` differs from the golden file")
	}
	var inv manifests.Inventory
	if err := json.Unmarshal([]byte(out), &inv); err != nil || inv.APIVersion != manifests.InventoryAPIVersion {
		t.Errorf("output is not the documented shape: %v", err)
	}
}

func TestImagesTable(t *testing.T) {
	out, _, _ := run(t, "images", corpus, "--app", "example.sock-shop")
	if !strings.Contains(out, "weaveworksdemos/carts:0.4.8") || !strings.Contains(out, "sock-shop/base/carts-dep.yaml:20") {
		t.Errorf("table:\n%s", out)
	}
	if !strings.Contains(out, "15 images in 1 apps, 0 apps failed to render") {
		t.Errorf("summary missing:\n%s", out)
	}
}

func TestRenderOneApp(t *testing.T) {
	out, _, code := run(t, "render", corpus, "--app", "kustomize-guestbook")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out, "# app: example.kustomize-guestbook (kustomize, kustomize-guestbook)") ||
		!strings.Contains(out, "name: kustomize-guestbook-ui") || strings.Contains(out, "config.kubernetes.io/origin") {
		t.Errorf("render output:\n%s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"images", corpus, "-o", "xml"},
		{"images", "/nonexistent/dir"},
		{"images"},
	} {
		if _, _, code := run(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	bad := t.TempDir()
	os.WriteFile(bad+"/.gitops-gate.yaml", []byte("apps:\n- path: a\n  kindd: helm\n"), 0o644)
	if _, stderr, code := run(t, "images", bad); code != exitUsage || !strings.Contains(stderr, ".gitops-gate.yaml:3") {
		t.Errorf("invalid .gitops-gate.yaml: exit %d, %q", code, stderr)
	}
	if _, stderr, code := run(t, "images", corpus, "--app", "nope"); code != exitOperational || !strings.Contains(stderr, `no app named "nope"`) {
		t.Errorf("unknown app: exit %d, %q", code, stderr)
	}
}

// TestHelmLoopIsStopped: a chart whose template never ends fails its app
// at --helm-timeout; the other apps are still listed.
func TestHelmLoopIsStopped(t *testing.T) {
	dir := t.TempDir()
	for p, c := range map[string]string{
		"spin/Chart.yaml":       "apiVersion: v2\nname: spin\nversion: 0.1.0\n",
		"spin/templates/l.yaml": "{{ range $i := until 100000 }}{{ range $j := until 100000 }}{{ end }}{{ end }}\n",
		"fine/Chart.yaml":       "apiVersion: v2\nname: fine\nversion: 0.1.0\n",
		"fine/templates/p.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: registry.example/fine:{{ .Chart.Version }}\n",
	} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644)
	}
	out, stderr, code := run(t, "images", dir, "--helm-timeout", "1s")
	if code != exitDenied || !strings.Contains(out, "Helm chart spin: templates still rendering after 1s") || !strings.Contains(out, "registry.example/fine:0.1.0") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, out, stderr)
	}
}
