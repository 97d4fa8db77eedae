package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
)

func TestRenderPinArgoCDPluginMode(t *testing.T) {
	w, repo, pol, signed, unsigned := checkWorld(t)
	trust := []string{"--policy", pol, "--trusted-root", w.TrustedRootPath}

	out, stderr, code := run(t, append([]string{"render", "--pin", repo, "--app", "api"}, trust...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// mutateDigest (the default) keeps the tag, as Kyverno writes it.
	if !strings.Contains(out, "image: "+signed+"@sha256:") || strings.Count(out, "@sha256:") != 1 {
		t.Errorf("pinned output:\n%s", out)
	}

	// One unsigned image: nothing on stdout, the reason on stderr.
	out, stderr, code = run(t, append([]string{"render", "--pin", repo}, trust...)...)
	if code != exitDenied || out != "" {
		t.Errorf("exit %d, stdout %q: a failure must print nothing", code, out)
	}
	if !strings.Contains(stderr, "FAIL "+unsigned) || !strings.Contains(stderr, "no signatures found") || !strings.Contains(stderr, "worker/deploy.yaml:10") {
		t.Errorf("stderr:\n%s", stderr)
	}

	// In Argo CD the plugin runs in the app's directory.
	t.Setenv("ARGOCD_APP_SOURCE_PATH", "api")
	t.Setenv("ARGOCD_APP_NAME", "api")
	out, stderr, code = run(t, append([]string{"render", "--pin", repo + "/api"}, trust...)...)
	if code != 0 || !strings.Contains(out, "@sha256:") || strings.Contains(out, "worker") {
		t.Errorf("plugin environment: exit %d\n%s\n%s", code, out, stderr)
	}
}

func TestRenderPinCorpusImagesUnmatched(t *testing.T) {
	w, _, pol, _, _ := checkWorld(t)
	plain, _, _ := run(t, "render", corpus, "--app", "example.guestbook")
	out, stderr, code := run(t, "render", "--pin", corpus, "--app", "example.guestbook", "--policy", pol, "--trusted-root", w.TrustedRootPath)
	// The policy covers only the test registry: the public images are not
	// verified, so they are not pinned, and nothing is fetched.
	if code != 0 || !strings.Contains(out, "gcr.io/google-samples/gb-frontend:v5") || strings.Contains(out, "@sha256") {
		t.Errorf("exit %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(plain, "gcr.io/google-samples/gb-frontend:v5") {
		t.Errorf("plain render:\n%s", plain)
	}
	if _, _, code := run(t, "render", "--pin", corpus, "--app", "example.guestbook", "--policy", pol, "--trusted-root", w.TrustedRootPath, "--require-match"); code != exitDenied {
		t.Errorf("--require-match: exit %d", code)
	}
}

func TestRenderPinRecordsOnTheService(t *testing.T) {
	w, repo, pol, _, _ := checkWorld(t)
	gs := gatetest.NewGitServer(t)
	remote := gs.NewRepo("acme/gitops")
	sha := remote.Commit("api", map[string]string{"api/deploy.yaml": mustRead(t, repo+"/api/deploy.yaml")})
	remote.SetRef("refs/heads/main", sha)
	server := startService(t, fmt.Sprintf("repos:\n  - {name: acme/gitops, cloneURL: %q, policies: [%s], trustedRoot: %s}\napiTokens: [cmp-token]\nregistries: {deny: []}\n", remote.CloneURL(), pol, w.TrustedRootPath))
	t.Setenv("GITOPS_GATE_SERVER", server)
	t.Setenv("GITOPS_GATE_TOKEN", "cmp-token")
	t.Setenv("ARGOCD_APP_SOURCE_REPO_URL", remote.CloneURL())
	t.Setenv("ARGOCD_APP_REVISION", sha)
	t.Setenv("ARGOCD_APP_SOURCE_TARGET_REVISION", "main")
	t.Setenv("ARGOCD_APP_SOURCE_PATH", "api")
	out, stderr, code := run(t, "render", "--pin", repo+"/api", "--policy", pol, "--trusted-root", w.TrustedRootPath)
	if code != 0 || !strings.Contains(out, "@sha256:") || !strings.Contains(stderr, "recorded as "+server+"/evaluations/") {
		t.Errorf("exit %d\n%s\n%s", code, out, stderr)
	}
}

func mustRead(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRenderPinPluginEnv: the Application's plugin env (ARGOCD_ENV_*)
// shapes the Helm rendering Argo CD asks for, and what is verified and
// pinned is what that rendering runs.
func TestRenderPinPluginEnv(t *testing.T) {
	w, repo, pol, signed, unsigned := checkWorld(t)
	trust := []string{"--policy", pol, "--trusted-root", w.TrustedRootPath}
	chart := filepath.Join(repo, "chart")
	os.MkdirAll(filepath.Join(chart, "templates"), 0o755)
	os.WriteFile(filepath.Join(chart, "Chart.yaml"), []byte("apiVersion: v2\nname: chart\nversion: 0.1.0\n"), 0o644)
	os.WriteFile(filepath.Join(chart, "values.yaml"), []byte("image: "+unsigned+"\n"), 0o644)
	os.WriteFile(filepath.Join(chart, "prod.yaml"), []byte("replicas: 3\n"), 0o644)
	os.WriteFile(filepath.Join(chart, "templates", "deploy.yaml"), []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: "{{ .Release.Name }}", namespace: "{{ .Release.Namespace }}"}
spec:
  replicas: {{ .Values.replicas | default 1 }}
  template:
    spec:
      containers:
      - name: app
        image: {{ .Values.image }}
`), 0o644)
	t.Setenv("ARGOCD_APP_SOURCE_PATH", "chart")
	t.Setenv("ARGOCD_APP_NAME", "shop")
	t.Setenv("ARGOCD_APP_NAMESPACE", "prod")

	// The chart's default image is unsigned: nothing on stdout.
	if out, _, code := run(t, append([]string{"render", "--pin", chart}, trust...)...); code != exitDenied || out != "" {
		t.Fatalf("chart defaults: exit %d\n%s", code, out)
	}
	t.Setenv("ARGOCD_ENV_HELM_VALUES", "image: "+signed+"\n")
	t.Setenv("ARGOCD_ENV_HELM_VALUE_FILES", "prod.yaml")
	out, stderr, code := run(t, append([]string{"render", "--pin", chart}, trust...)...)
	if code != 0 || !strings.Contains(out, "image: "+signed+"@sha256:") || !strings.Contains(out, "name: shop\n") ||
		!strings.Contains(out, "namespace: prod\n") || !strings.Contains(out, "replicas: 3") {
		t.Fatalf("with the plugin env: exit %d\n%s\n%s", code, out, stderr)
	}
	t.Setenv("ARGOCD_ENV_HELM_RELEASE_NAME", "shop-eu")
	t.Setenv("ARGOCD_ENV_HELM_PARAMETERS", "replicas=5")
	if out, _, _ := run(t, append([]string{"render", "--pin", chart}, trust...)...); !strings.Contains(out, "name: shop-eu\n") || !strings.Contains(out, "replicas: 5") {
		t.Errorf("release name and parameters:\n%s", out)
	}
	// A misspelt setting is refused, not ignored.
	t.Setenv("ARGOCD_ENV_HELM_VALUEFILES", "prod.yaml")
	if out, stderr, code := run(t, append([]string{"render", "--pin", chart}, trust...)...); code != exitUsage || out != "" || !strings.Contains(stderr, "ARGOCD_ENV_HELM_VALUEFILES: gitops-gate does not know this plugin setting") {
		t.Errorf("misspelt: exit %d\n%s\n%s", code, out, stderr)
	}
}

// TestPinTagMovedDuringCheck: the tag is moved to unsigned content while
// the gate is fetching its signatures. What is pinned is the digest that
// was verified, never the tag's new target, in both pin modes.
func TestPinTagMovedDuringCheck(t *testing.T) {
	for _, mode := range [][]string{{"render", "--pin"}, {"pin", "--dry-run"}} {
		t.Run(mode[0], func(t *testing.T) {
			w, repo, pol, signed, _ := checkWorld(t)
			verified, err := crane.Digest(signed)
			if err != nil {
				t.Fatal(err)
			}
			var once sync.Once
			var moved string
			w.Registry.Log = func(req string) {
				if strings.Contains(req, "/acme/api/manifests/sha256-") && strings.HasSuffix(req, ".sig") {
					once.Do(func() {
						d, err := w.PushImage(context.Background(), "acme/api:v1")
						if err != nil {
							t.Error(err)
						}
						moved = d.DigestStr()
					})
				}
			}
			args := append(append([]string{}, mode...), repo, "--app", "api", "--policy", pol, "--trusted-root", w.TrustedRootPath)
			out, stderr, code := run(t, args...)
			if moved == "" || moved == verified {
				t.Fatalf("the tag did not move during the check (moved %q)", moved)
			}
			if code != 0 || !strings.Contains(out, signed+"@"+verified) || strings.Contains(out, moved) {
				t.Errorf("exit %d: want %s@%s and never %s\n%s\n%s", code, signed, verified, moved, out, stderr)
			}
		})
	}
}
