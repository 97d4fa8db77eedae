package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/gate/service"
	"github.com/gitops-gate/gitops-gate/gate/service/config"
	"github.com/gitops-gate/gitops-gate/gate/store"
	"github.com/gitops-gate/gitops-gate/web"
)

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAPIInputIsValidated: a bad query parameter or body is a 400 at once
// that names the parameter in the API's words (no decoder internals), and
// queues nothing; an app that is not in the repository is never a retried
// job and never left out in silence.
func TestAPIInputIsValidated(t *testing.T) {
	g := newGate(t)
	img := g.image("acme/api:v1", true)
	sha := g.repo.Commit("main", map[string]string{"apps/api/deploy.yaml": deployment("api", img)})
	g.repo.SetRef("refs/heads/main", sha)
	svc, err := service.New(service.Options{Config: g.cfg, Store: g.store})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(web.Options{Service: svc, Demo: true}))
	defer srv.Close()
	evals := srv.URL + "/api/v1/evaluations"
	good := `{"repo": "acme/gitops", "revision": "` + sha + `", "ref": "refs/heads/main", "cloneUrl": "` + g.repo.CloneURL() + `"`

	for _, c := range []struct{ method, url, body, want string }{
		{"GET", evals + "?result=bogus", "", `result \"bogus\": want one of pass, fail, error, queued, running, superseded`},
		{"GET", evals + "?limit=0", "", `limit \"0\": want a whole number from 1 to 200`},
		{"GET", evals + "?limit=201", "", `limit \"201\"`},
		{"GET", evals + "?limit=ten", "", `limit \"ten\"`},
		{"GET", evals + "?offset=-1", "", `offset \"-1\"`},
		{"GET", evals + "?pr=abc", "", `pr \"abc\"`},
		{"POST", evals, "not json", "body: not valid JSON"},
		{"POST", evals, "", "body: empty; want a JSON object"},
		{"POST", evals, `{"repo": "acme/gitops"`, "body: the JSON ends too early"},
		{"POST", evals, `["acme/gitops"]`, "body: want a JSON object, got a JSON array"},
		{"POST", evals, `{"repo": 5}`, "body: repo: want a string, got a JSON number"},
		{"POST", evals, good + `, "revison": "x"}`, `body: unknown field \"revison\" (known: repo, cloneUrl, revision`},
		{"POST", evals, good + `} {}`, "body: want one JSON object"},
		{"POST", evals, good + `, "apps": ["../etc"]}`, `apps[0] \"../etc\": want an app name or a path`},
		{"POST", evals, good + `, "apps": ["apps/api/"]}`, `apps[0] \"apps/api/\"`},
		{"POST", evals + "?wait=forever", good + `}`, "wait: want a duration"},
	} {
		code, body := do(t, c.method, c.url, c.body)
		if code != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("%s %s %s: %d %s\nwant 400 and %q", c.method, strings.TrimPrefix(c.url, srv.URL), c.body, code, body, c.want)
		}
		for _, leak := range []string{"code=", "message=", "internal=", "Syntax error", "Unmarshal type error", "json: "} {
			if strings.Contains(body, leak) {
				t.Errorf("%s %s: the answer leaks %q: %s", c.method, c.url, leak, body)
			}
		}
	}
	if code, body := do(t, "GET", srv.URL+"/?result=bogus", ""); code != http.StatusBadRequest || !strings.Contains(body, "result") {
		t.Errorf("the list page with a bad filter: %d %s", code, body)
	}
	if _, total, _ := g.store.List(context.Background(), store.Filter{}); total != 0 {
		t.Errorf("%d evaluations queued by bad requests", total)
	}
	if code, _ := do(t, "GET", evals+"?limit=200&offset=0&result=queued", ""); code != http.StatusOK {
		t.Errorf("good filters: %d", code)
	}

	// An app the commit does not have ends the evaluation in error at once,
	// naming it; it is not retried (each retry waits 5 s and more).
	start := time.Now()
	code, body := do(t, "POST", evals+"?wait=30s", good+`, "apps": ["apps/api", "apps/nope"]}`)
	var ev struct{ State, Result, Error string }
	json.Unmarshal([]byte(body), &ev)
	if code != http.StatusOK || ev.Result != "error" || !strings.Contains(ev.Error, `apps "apps/nope": not in acme/gitops`) || !strings.Contains(ev.Error, "its apps: apps/api") {
		t.Errorf("an unknown app: %d %s", code, body)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("an unknown app took %v: it was retried", d)
	}
	// The legitimate request passes.
	if code, body := do(t, "POST", evals+"?wait=30s", good+`, "apps": ["apps/api"]}`); code != http.StatusOK || !strings.Contains(body, `"result":"pass"`) {
		t.Errorf("a known app: %d %s", code, body)
	}
}

// TestAPIUnknownAppOfTheDemoIsRefusedAtOnce: the demo repository is local,
// so an unknown app is a 400 before anything is queued.
func TestAPIUnknownAppOfTheDemoIsRefusedAtOnce(t *testing.T) {
	srv, st := newDemoGate(t)
	code, body := do(t, "POST", srv.URL+"/api/v1/evaluations", `{"repo": "demo/gitops", "revision": "demo0000", "trigger": "demo", "apps": ["nope"]}`)
	if code != http.StatusBadRequest || !strings.Contains(body, `apps: \"nope\" not in demo/gitops (its apps: `) {
		t.Errorf("an unknown demo app: %d %s", code, body)
	}
	if _, total, _ := st.List(context.Background(), store.Filter{}); total != 1 {
		t.Errorf("%d evaluations, want only the demo's own", total)
	}
	if code, body := do(t, "POST", srv.URL+"/api/v1/evaluations", `{"repo": "demo/gitops", "revision": "demo0000", "trigger": "demo", "apps": ["jobs"]}`); code != http.StatusAccepted {
		t.Errorf("a demo app: %d %s", code, body)
	}
}

// newDemoGate runs the service in demo mode (the built-in demo repository,
// registry and Sigstore) with its workers, behind the web server.
func newDemoGate(t *testing.T) (*httptest.Server, store.Store) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = dir
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "gate.db"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(service.Options{Config: cfg, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.StartDemo(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	srv := httptest.NewServer(web.New(web.Options{Service: svc, Demo: true}))
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		svc.Close()
		st.Close()
	})
	return srv, st
}
