package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/gitsrc"
	"github.com/gitops-gate/gitops-gate/gate/service"
	"github.com/gitops-gate/gitops-gate/gate/store"
	"github.com/gitops-gate/gitops-gate/web"
)

// fakeKube serves one Application the way Argo CD stores it, to a client
// with the right bearer token.
func fakeKube(t *testing.T, token string, app func() string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet || r.URL.Path != "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/web" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"kind":"Status","status":"Failure","reason":"NotFound"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, app())
	}))
	t.Cleanup(srv.Close)
	return srv
}

func application(repoURL, syncing, synced string) string {
	return fmt.Sprintf(`{"apiVersion":"argoproj.io/v1alpha1","kind":"Application",
 "metadata":{"name":"web","namespace":"argocd","uid":"6f4c","resourceVersion":"4242"},
 "spec":{"project":"default","destination":{"server":"https://kubernetes.default.svc","namespace":"web"},
  "source":{"repoURL":%q,"path":"apps/web","targetRevision":"main"},
  "syncPolicy":{"automated":{"prune":true,"selfHeal":true}}},
 "status":{"sync":{"status":"OutOfSync","revision":%q,"comparedTo":{"source":{"repoURL":%q,"path":"apps/web","targetRevision":"main"}}},
  "health":{"status":"Healthy"},
  "operationState":{"phase":"Running","message":"waiting for completion of hook batch/Job/gitops-gate-presync",
   "operation":{"initiatedBy":{"automated":true},"sync":{"revision":%q,"prune":true}},
   "startedAt":"2026-11-25T19:00:00Z"}}}`, repoURL, synced, repoURL, syncing)
}

func TestPresync(t *testing.T) {
	w, _, pol, signed, unsigned := checkWorld(t)
	gs := gatetest.NewGitServer(t)
	repo := gs.NewRepo("acme/gitops")
	good := repo.Commit("signed", map[string]string{"apps/web/deploy.yaml": fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers: [{name: web, image: %s}]\n", signed)})
	bad := repo.Commit("unsigned", map[string]string{"apps/web/deploy.yaml": fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers: [{name: web, image: %s}]\n", unsigned)})
	repo.SetRef("refs/heads/main", bad)

	syncing := good
	kube := fakeKube(t, "sa-token", func() string { return application(repo.CloneURL(), syncing, good) })
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("sa-token\n"), 0o600)
	kubeFlags := []string{"--app", "web", "--kube-api", kube.URL, "--kube-token-file", tokenFile}
	trust := []string{"--policy", pol, "--trusted-root", w.TrustedRootPath}

	// Without a service: the hook evaluates the revision being synced itself.
	out, stderr, code := run(t, append(append([]string{"presync"}, kubeFlags...), trust...)...)
	if code != 0 || !strings.Contains(out, "PASS: 1 images: 1 verified") || !strings.Contains(stderr, "at "+good) {
		t.Errorf("good revision: exit %d\n%s\n%s", code, out, stderr)
	}
	syncing = bad
	out, stderr, code = run(t, append(append([]string{"presync"}, kubeFlags...), trust...)...)
	if code != exitDenied || !strings.Contains(stderr, "FAIL "+unsigned) || !strings.Contains(stderr, "apps/web/deploy.yaml:7") {
		t.Errorf("bad revision: exit %d\n%s\n%s", code, out, stderr)
	}

	// With the service: POST /api/v1/evaluations?wait= with the hook's token.
	gate := startService(t, fmt.Sprintf("repos:\n  - {name: acme/gitops, cloneURL: %s, policies: [%s], trustedRoot: %s}\napiTokens: [hook-token]\nregistries: {deny: []}\n", repo.CloneURL(), pol, w.TrustedRootPath))
	serverFlags := append(kubeFlags, "--server", gate, "--token", "hook-token", "--wait", "30s")
	out, stderr, code = run(t, append([]string{"presync"}, serverFlags...)...)
	if code != exitDenied || !strings.Contains(stderr, "FAIL "+unsigned) || !strings.Contains(stderr, gate+"/evaluations/") {
		t.Errorf("service, bad revision: exit %d\n%s\n%s", code, out, stderr)
	}
	syncing = good
	if _, stderr, code := run(t, append([]string{"presync"}, serverFlags...)...); code != 0 {
		t.Errorf("service, good revision: exit %d\n%s", code, stderr)
	}
	if _, _, code := run(t, "presync", "--app", "web", "--kube-api", kube.URL, "--kube-token-file", tokenFile, "--server", gate, "--token", "wrong"); code != exitOperational {
		t.Errorf("a wrong token must not pass: exit %d", code)
	}
	// No revision known: refused.
	kube2 := fakeKube(t, "sa-token", func() string {
		return `{"kind":"Application","metadata":{"name":"web"},"spec":{"source":{"repoURL":"x","path":"apps/web"}},"status":{}}`
	})
	if _, stderr, code := run(t, "presync", "--app", "web", "--kube-api", kube2.URL, "--kube-token-file", tokenFile, "--policy", pol); code != exitOperational || !strings.Contains(stderr, "no revision being synced") {
		t.Errorf("no revision: exit %d %s", code, stderr)
	}
}

// startService runs the gate service in-process (store, workers, HTTP).
func startService(t *testing.T, config string) string {
	t.Helper()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgFile, []byte("dataDir: "+filepath.Join(dir, "data")+"\n"+config), 0o644)
	cfg, err := service.LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "gate.db"))
	if err != nil {
		t.Fatal(err)
	}
	fetcher, _ := gitsrc.New(gitsrc.Options{CacheDir: filepath.Join(dir, "git")})
	svc, err := service.New(service.Options{Config: cfg, Store: st, Fetcher: fetcher})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	srv := httptest.NewServer(web.New(web.Options{Service: svc, APITokens: cfg.APITokens}))
	t.Cleanup(func() { srv.Close(); cancel(); <-done; st.Close() })
	return srv.URL
}

// TestPresyncRendersAsTheApplication: evaluated locally, the app renders
// with the Application's own settings (here kustomize.images, and the env
// of gitops-gate's plugin), so the hook judges what Argo CD will apply.
func TestPresyncRendersAsTheApplication(t *testing.T) {
	w, _, pol, signed, unsigned := checkWorld(t)
	gs := gatetest.NewGitServer(t)
	repo := gs.NewRepo("acme/gitops")
	signedTag := signed[strings.LastIndex(signed, ":")+1:]
	sha := repo.Commit("apps", map[string]string{
		"apps/web/kustomization.yaml": "resources: [deploy.yaml]\n",
		"apps/web/deploy.yaml":        fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers: [{name: web, image: %s}]\n", unsigned),
		"apps/chart/Chart.yaml":       "apiVersion: v2\nname: chart\nversion: 0.1.0\n",
		"apps/chart/values.yaml":      "image: " + unsigned + "\n",
		"apps/chart/templates/d.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: {{ .Release.Name }}}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: {{ .Values.image }}}]\n",
	})
	repo.SetRef("refs/heads/main", sha)
	var source string
	kube := fakeKube(t, "sa-token", func() string {
		return fmt.Sprintf(`{"kind":"Application","metadata":{"name":"web","namespace":"argocd"},
 "spec":{"destination":{"namespace":"web"},"source":%s},
 "status":{"operationState":{"operation":{"sync":{"revision":%q}}}}}`, source, sha)
	})
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("sa-token"), 0o600)
	presync := func() (string, int) {
		_, stderr, code := run(t, "presync", "--app", "web", "--kube-api", kube.URL, "--kube-token-file", tokenFile, "--policy", pol, "--trusted-root", w.TrustedRootPath)
		return stderr, code
	}
	unsignedName := unsigned[:strings.LastIndex(unsigned, ":")]
	signedName := signed[:strings.LastIndex(signed, ":")]
	for _, c := range []struct {
		what, source string
		code         int
	}{
		{"kustomize app as in the repository", fmt.Sprintf(`{"repoURL":%q,"targetRevision":"main","path":"apps/web"}`, repo.CloneURL()), exitDenied},
		{"kustomize.images of the Application", fmt.Sprintf(`{"repoURL":%q,"targetRevision":"main","path":"apps/web","kustomize":{"images":[%q]}}`, repo.CloneURL(), unsignedName+"="+signedName+":"+signedTag), exitOK},
		{"helm values of the Application", fmt.Sprintf(`{"repoURL":%q,"targetRevision":"main","path":"apps/chart","helm":{"valuesObject":{"image":%q}}}`, repo.CloneURL(), signed), exitOK},
		{"gitops-gate plugin env", fmt.Sprintf(`{"repoURL":%q,"targetRevision":"main","path":"apps/chart","plugin":{"name":"gitops-gate-v1","env":[{"name":"HELM_VALUES","value":"image: %s"}]}}`, repo.CloneURL(), signed), exitOK},
		{"another plugin", fmt.Sprintf(`{"repoURL":%q,"targetRevision":"main","path":"apps/chart","plugin":{"name":"kasane"}}`, repo.CloneURL()), exitOperational},
		{"an option that changes images", fmt.Sprintf(`{"repoURL":%q,"targetRevision":"main","path":"apps/chart","helm":{"fileParameters":[{"name":"x","path":"y"}]}}`, repo.CloneURL()), exitOperational},
	} {
		source = c.source
		stderr, code := presync()
		if code != c.code {
			t.Errorf("%s: exit %d, want %d\n%s", c.what, code, c.code, stderr)
		}
	}
}
