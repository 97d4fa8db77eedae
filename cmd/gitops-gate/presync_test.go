package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
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
	"github.com/gitops-gate/gitops-gate/gate/service/config"
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
	gate := startService(t, fmt.Sprintf("repos:\n  - {name: acme/gitops, cloneURL: %q, policies: [%s], trustedRoot: %s}\napiTokens: [hook-token]\nregistries: {deny: []}\n", repo.CloneURL(), pol, w.TrustedRootPath))
	serverFlags := append(kubeFlags, "--server", gate, "--token", "hook-token", "--wait", "30s", "--insecure-http")
	out, stderr, code = run(t, append([]string{"presync"}, serverFlags...)...)
	if code != exitDenied || !strings.Contains(stderr, "FAIL "+unsigned) || !strings.Contains(stderr, gate+"/evaluations/") {
		t.Errorf("service, bad revision: exit %d\n%s\n%s", code, out, stderr)
	}
	syncing = good
	if _, stderr, code := run(t, append([]string{"presync"}, serverFlags...)...); code != 0 {
		t.Errorf("service, good revision: exit %d\n%s", code, stderr)
	}
	if _, _, code := run(t, "presync", "--app", "web", "--kube-api", kube.URL, "--kube-token-file", tokenFile, "--server", gate, "--token", "wrong", "--insecure-http"); code != exitOperational {
		t.Errorf("a wrong token must not pass: exit %d", code)
	}
	// No revision known: refused.
	kube2 := fakeKube(t, "sa-token", func() string {
		return `{"kind":"Application","metadata":{"name":"web"},"spec":{"source":{"repoURL":"x","path":"apps/web"}},"status":{}}`
	})
	if _, stderr, code := run(t, "presync", "--app", "web", "--kube-api", kube2.URL, "--kube-token-file", tokenFile, "--policy", pol); code != exitOperational || !strings.Contains(stderr, "the revision being synced is not known") || !strings.Contains(stderr, "--revision") {
		t.Errorf("no revision: exit %d %s", code, stderr)
	}
}

// startService runs the gate service in-process (store, workers, HTTP).
func startService(t *testing.T, yml string) string {
	t.Helper()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgFile, []byte("dataDir: "+filepath.Join(dir, "data")+"\n"+yml), 0o644)
	cfg, err := config.Load(cfgFile)
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

// TestPresyncFindsItsApplication: the hook learns its Application from
// its Job, where Argo CD writes it (issue 14.2): the tracking annotation
// argocd.argoproj.io/tracking-id (Argo CD 3.x's default; the value is
// <app>:<group>/<kind>:<namespace>/<name>, util/argo/resource_tracking.go
// BuildAppInstanceValue, with <app> = <namespace>_<name> for an Application
// outside Argo CD's namespace, types.go InstanceName), else the instance
// label of label tracking. Argo CD labels the Job, never its pod template.
func TestPresyncFindsItsApplication(t *testing.T) {
	w, _, pol, signed, _ := checkWorld(t)
	gs := gatetest.NewGitServer(t)
	repo := gs.NewRepo("acme/gitops")
	sha := repo.Commit("signed", map[string]string{"apps/web/deploy.yaml": deployment("web", signed)})
	repo.SetRef("refs/heads/main", sha)
	app := fmt.Sprintf(`{"kind":"Application","metadata":{"name":"web","namespace":"%%s"},"spec":{"source":{"repoURL":%q,"path":"apps/web","targetRevision":"main"}},
 "status":{"operationState":{"operation":{"sync":{}},"syncResult":{"revision":%q}}}}`, repo.CloneURL(), sha)
	var jobMeta string
	kube := kubeAPI(t, "sa-token", func(p string) (string, bool) {
		switch p {
		case "/apis/batch/v1/namespaces/shop/jobs/gitops-gate-presync":
			return `{"kind":"Job","metadata":{"name":"gitops-gate-presync","namespace":"shop",` + jobMeta + `}}`, true
		case "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/web":
			return fmt.Sprintf(app, "argocd"), true
		case "/apis/argoproj.io/v1alpha1/namespaces/teams/applications/web":
			return fmt.Sprintf(app, "teams"), true
		}
		return "", false
	})
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("sa-token"), 0o600)
	t.Setenv("ARGOCD_APP_NAME", "")
	hook := []string{"presync", "--kube-api", kube.URL, "--kube-token-file", tokenFile, "--policy", pol, "--trusted-root", w.TrustedRootPath}
	t.Setenv("GITOPS_GATE_JOB", "gitops-gate-presync")
	t.Setenv("POD_NAMESPACE", "shop")
	for _, c := range []struct {
		what, meta string
		code       int
		stderr     string
	}{
		{"tracking annotation", `"annotations":{"argocd.argoproj.io/tracking-id":"web:batch/Job:shop/gitops-gate-presync"}`, exitOK, "checking web spec.source"},
		{"tracking annotation of an Application in another namespace", `"annotations":{"argocd.argoproj.io/tracking-id":"teams_web:batch/Job:shop/gitops-gate-presync"}`, exitOK, "checking web spec.source"},
		{"instance label", `"labels":{"app.kubernetes.io/instance":"web"}`, exitOK, "checking web spec.source"},
		{"nothing on the Job", `"labels":{}`, exitUsage, "--app is required: it was expected from the hook's Job shop/gitops-gate-presync"},
		{"a malformed tracking id", `"annotations":{"argocd.argoproj.io/tracking-id":"web"}`, exitUsage, "want <app>:<group>/<kind>:<namespace>/<name>"},
	} {
		jobMeta = c.meta
		_, stderr, code := run(t, hook...)
		if code != c.code || !strings.Contains(stderr, c.stderr) {
			t.Errorf("%s: exit %d, want %d with %q\n%s", c.what, code, c.code, c.stderr, stderr)
		}
	}
	t.Setenv("GITOPS_GATE_JOB", "")
	if _, stderr, code := run(t, hook...); code != exitUsage || !strings.Contains(stderr, "ARGOCD_APP_NAME") || !strings.Contains(stderr, "downward API") {
		t.Errorf("no app and no Job: exit %d\n%s", code, stderr)
	}
}

// TestPresyncServerTransport: the gate service is reached over https by
// default, with a CA of the user's choosing; plain http needs
// --insecure-http (issue 12.6).
func TestPresyncServerTransport(t *testing.T) {
	kube := kubeAPI(t, "sa-token", func(string) (string, bool) {
		return `{"kind":"Application","metadata":{"name":"web","namespace":"argocd"},"spec":{"source":{"repoURL":"https://github.com/acme/gitops.git","path":"apps/web"}},
 "status":{"operationState":{"operation":{"sync":{}},"syncResult":{"revision":"0123456789012345678901234567890123456789"}}}}`, true
	})
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("sa-token"), 0o600)
	hook := []string{"presync", "--app", "web", "--kube-api", kube.URL, "--kube-token-file", tokenFile, "--token", "t", "--wait", "5s"}
	var asked int
	svc := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked++
		var q map[string]any
		json.NewDecoder(r.Body).Decode(&q)
		fmt.Fprint(w, answer(q, `{"result":"pass","apps":[{"name":"apps/web","path":"apps/web","images":[]}]}`, nil))
	}))
	t.Cleanup(svc.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: svc.Certificate().Raw}), 0o644)

	if _, stderr, code := run(t, append(hook, "--server", strings.Replace(svc.URL, "https://", "http://", 1))...); code != exitUsage || !strings.Contains(stderr, "--insecure-http") || asked != 0 {
		t.Errorf("plain http without the flag: exit %d, asked %d\n%s", code, asked, stderr)
	}
	if _, _, code := run(t, append(hook, "--server", svc.URL)...); code == exitOK {
		t.Error("a certificate from an unknown CA was accepted")
	}
	if _, stderr, code := run(t, append(hook, "--server", svc.URL, "--server-ca", ca)...); code != exitOK {
		t.Errorf("https with --server-ca: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := run(t, append(hook, "--server", strings.TrimPrefix(svc.URL, "https://"), "--server-ca", ca)...); code != exitOK {
		t.Errorf("no scheme means https: exit %d\n%s", code, stderr)
	}
}
