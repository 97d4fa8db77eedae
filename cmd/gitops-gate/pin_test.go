package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

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
	server := startService(t, fmt.Sprintf("repos:\n  - {name: acme/gitops, policies: [%s], trustedRoot: %s}\napiTokens: [cmp-token]\n", pol, w.TrustedRootPath))
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
