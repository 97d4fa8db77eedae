package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/gate/service"
	"github.com/gitops-gate/gitops-gate/gate/service/config"
	"github.com/gitops-gate/gitops-gate/gate/store"
	"github.com/gitops-gate/gitops-gate/web"
)

// capture is a loopback server that must receive nothing: it records each
// request and its Authorization header.
type capture struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string
}

func newCapture(t *testing.T) *capture {
	c := &capture{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.seen = append(c.seen, r.Method+" "+r.URL.String()+" auth="+r.Header.Get("Authorization"))
		c.mu.Unlock()
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *capture) requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.seen...)
}

// apiCall calls the gate's JSON API with an optional bearer token.
func apiCall(t *testing.T, base, method, path, token, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &out)
	if out == nil {
		out = map[string]any{"body": string(b)}
	}
	return resp, out
}

func withTokens(tokens ...string) func(*web.Options) {
	return func(o *web.Options) { o.APITokens = tokens }
}

// TestAPICannotChooseWhereTheGateFetches: POST /api/v1/evaluations with a
// cloneUrl on a capture server (the gate would have sent its GitHub token
// there), on a local path, or on file:// is refused; the capture server
// receives nothing. Without cloneUrl, or repeating the configured one, the
// evaluation fetches the configured repository.
func TestAPICannotChooseWhereTheGateFetches(t *testing.T) {
	g := newGateWith(t, gateOptions{web: withTokens("tok-1")})
	evil := newCapture(t)
	img := g.image("acme/api:v1", true)
	sha := g.repo.Commit("main", map[string]string{"apps/api/deploy.yaml": deployment("api", img)})
	g.repo.SetRef("refs/heads/main", sha)
	for _, u := range []string{evil.srv.URL + "/evil/repo.git", "/some/dir", "file:///etc", strings.Replace(g.repo.CloneURL(), "acme/gitops", "acme/other", 1)} {
		body := `{"repo": "acme/gitops", "revision": "` + sha + `", "ref": "refs/heads/main", "cloneUrl": "` + u + `"}`
		if resp, out := apiCall(t, g.srv.URL, "POST", "/api/v1/evaluations", "tok-1", body); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("cloneUrl %s: %d %v, want 400", u, resp.StatusCode, out)
		}
	}
	for _, body := range []string{
		`{"repo": "acme/gitops", "revision": "` + sha + `", "ref": "refs/heads/main"}`,
		`{"repo": "acme/gitops", "revision": "` + sha + `", "ref": "refs/heads/main", "cloneUrl": "` + g.repo.CloneURL() + `"}`,
	} {
		resp, out := apiCall(t, g.srv.URL, "POST", "/api/v1/evaluations?wait=30s", "tok-1", body)
		if resp.StatusCode != http.StatusOK || out["result"] != "pass" {
			t.Errorf("the configured repository: %d %v", resp.StatusCode, out)
		}
	}
	if got := evil.requests(); len(got) > 0 {
		t.Errorf("the capture server received %v", got)
	}
	// Hostile values for the other fields are refused too.
	for name, body := range map[string]string{
		"path in the revision": `{"repo": "acme/gitops", "revision": "../../../etc/passwd"}`,
		"short revision":       `{"repo": "acme/gitops", "revision": "` + sha[:7] + `"}`,
		"refspec in the ref":   `{"repo": "acme/gitops", "revision": "` + sha + `", "ref": "refs/heads/main:refs/heads/x"}`,
		"path in the repo":     `{"repo": "acme/gitops/../x", "revision": "` + sha + `"}`,
	} {
		if resp, _ := apiCall(t, g.srv.URL, "POST", "/api/v1/evaluations", "tok-1", body); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, resp.StatusCode)
		}
	}
}

// TestAPIEvaluationsNeverTouchStatuses: API and Argo CD evaluations that
// name a pull request neither supersede the webhook evaluation of its
// real head (which would leave it pending for ever) nor are superseded by
// a later webhook (which would post an error to a commit the caller
// chose); no status is ever posted for their commits.
func TestAPIEvaluationsNeverTouchStatuses(t *testing.T) {
	g := newGateWith(t, gateOptions{noWorkers: true, web: withTokens("tok-1")})
	img := g.image("acme/api:v1", true)
	g.repo.SetRef("refs/heads/main", g.repo.Commit("base", map[string]string{"README.md": "gitops\n"}))
	head := g.repo.Commit("head", map[string]string{"apps/api/deploy.yaml": deployment("api", img)})
	g.repo.SetRef("refs/pull/1/head", head)
	chosen := g.repo.Commit("chosen by the caller", map[string]string{"apps/api/deploy.yaml": deployment("api", img+"x")})
	g.repo.SetRef("refs/heads/chosen", chosen)
	next := g.repo.Commit("next", map[string]string{"apps/api/deploy.yaml": deployment("api", img)})

	if resp := g.send("pull_request", "d-head", g.payload("synchronize", 1, head), secret); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook: %d", resp.StatusCode)
	}
	var apiIDs []string
	for _, trigger := range []string{"api", "argocd"} {
		body := `{"repo": "acme/gitops", "revision": "` + chosen + `", "ref": "refs/heads/chosen", "pr": 1, "trigger": "` + trigger + `"}`
		resp, out := apiCall(t, g.srv.URL, "POST", "/api/v1/evaluations", "tok-1", body)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: %d %v", trigger, resp.StatusCode, out)
		}
		apiIDs = append(apiIDs, out["id"].(string))
	}
	evs, _, _ := g.store.List(context.Background(), store.Filter{Result: store.StateQueued})
	if len(evs) != 3 {
		t.Fatalf("%d queued evaluations, want the webhook's and two API ones", len(evs))
	}
	// A later webhook of the pull request: it supersedes the webhook's
	// older head only.
	g.repo.SetRef("refs/pull/1/head", next)
	g.send("pull_request", "d-next", g.payload("synchronize", 1, next), secret)
	for _, id := range apiIDs {
		if e, _ := g.store.Get(context.Background(), id); e.State != store.StateQueued {
			t.Errorf("API evaluation %s is %s after a webhook, want queued", id, e.State)
		}
	}
	g.start()
	final := g.waitFinal(next)
	if final[len(final)-1].State != "success" {
		t.Errorf("the real head: %+v", final)
	}
	for _, id := range apiIDs {
		if e, err := g.svc.Wait(context.Background(), id, 30*time.Second); err != nil || e.State != store.StateDone {
			t.Errorf("API evaluation %s: %+v %v, want done", id, e, err)
		}
	}
	time.Sleep(300 * time.Millisecond) // let any stray status job run
	for _, s := range g.gh.Statuses() {
		if s.SHA == chosen {
			t.Errorf("a status was posted for the API caller's commit: %+v", s)
		}
	}
}

// TestDeliveriesFollowThePullRequest: a late delivery of an older head
// (pull_request.updated_at older) arrives after the current head's; it is
// recorded and evaluated but the current head is not superseded. A
// delivery without X-GitHub-Delivery is refused; the same signed body under
// a new delivery ID queues nothing.
func TestDeliveriesFollowThePullRequest(t *testing.T) {
	g := newGateWith(t, gateOptions{noWorkers: true})
	img := g.image("acme/api:v1", true)
	g.repo.SetRef("refs/heads/main", g.repo.Commit("base", map[string]string{"README.md": "gitops\n"}))
	older := g.repo.Commit("older", map[string]string{"apps/api/deploy.yaml": deployment("api", img)})
	stale := g.payload("synchronize", 1, older) // stamped first: the older state
	head := g.repo.Commit("head", map[string]string{"apps/web/deploy.yaml": deployment("web", img)})
	g.repo.SetRef("refs/pull/1/head", head)
	current := g.payload("synchronize", 1, head)

	if resp := g.send("pull_request", "d-head", current, secret); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("head: %d", resp.StatusCode)
	}
	if resp := g.send("pull_request", "d-stale", stale, secret); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("stale: %d", resp.StatusCode)
	}
	if resp := g.send("pull_request", "", current, secret); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("no delivery ID: %d, want 400", resp.StatusCode)
	}
	resp, out := g.sendJSON("pull_request", "d-replay", current, secret)
	if resp.StatusCode != http.StatusAccepted || out["outcome"] != "duplicate" {
		t.Errorf("replay under a new delivery ID: %d %v, want a duplicate", resp.StatusCode, out)
	}
	g.start()
	st := g.waitFinal(head)
	for _, s := range st {
		if s.State == "error" {
			t.Errorf("the current head got %+v", s)
		}
	}
	if st[len(st)-1].State != "success" {
		t.Errorf("the current head: %+v", st)
	}
	if st := g.waitFinal(older); st[len(st)-1].State != "success" {
		t.Errorf("the stale delivery is evaluated: %+v", st)
	}
	if _, total, _ := g.store.List(context.Background(), store.Filter{}); total != 2 {
		t.Errorf("%d evaluations, want 2 (the replay queued nothing)", total)
	}
}

// sendJSON is send, returning the decoded answer.
func (g *gateEnv) sendJSON(event, delivery string, payload []byte, key string) (*http.Response, map[string]any) {
	g.t.Helper()
	req := g.signed(event, delivery, payload, key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

// TestMalformedSignedPayload: a signed payload whose head SHA is a path
// (the gate used to post its status, with its token, to
// /repos/acme/gitops/etc/passwd) is refused with 400, not 500
// "redeliver"; GitHub receives nothing.
func TestMalformedSignedPayload(t *testing.T) {
	g := newGate(t)
	for name, sha := range map[string]string{"path": "zzzz../../../etc/passwd", "short": "abc1234"} {
		resp, out := g.sendJSON("pull_request", "d-"+name, g.payload("opened", 1, sha), secret)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %v, want 400", name, resp.StatusCode, out)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if st, bad := g.gh.Statuses(), g.gh.Bad(); len(st) > 0 || len(bad) > 0 {
		t.Errorf("GitHub received %v %v", st, bad)
	}
	if _, total, _ := g.store.List(context.Background(), store.Filter{}); total != 0 {
		t.Errorf("%d evaluations queued", total)
	}
}

// TestWebhookWorkBeforeAPIWork: API jobs queued first do not hold back a
// pull request's evaluation, and a token past its quota gets 429.
func TestWebhookWorkBeforeAPIWork(t *testing.T) {
	g := newGateWith(t, gateOptions{noWorkers: true, extra: []string{"limits: {apiQueuedPerToken: 5}"}, web: withTokens("tok-1", "tok-2")})
	img := g.image("acme/api:v1", true)
	g.repo.SetRef("refs/heads/main", g.repo.Commit("base", map[string]string{"apps/api/deploy.yaml": deployment("api", img)}))
	sha := g.repo.Commit("pr", map[string]string{"apps/web/deploy.yaml": deployment("web", img)})
	g.repo.SetRef("refs/pull/1/head", sha)
	body := `{"repo": "acme/gitops", "revision": "` + sha + `", "ref": "refs/pull/1/head"}`
	var ids []string
	for i := range 6 {
		resp, out := apiCall(t, g.srv.URL, "POST", "/api/v1/evaluations", "tok-1", body)
		if i < 5 && resp.StatusCode != http.StatusAccepted {
			t.Fatalf("API request %d: %d %v", i, resp.StatusCode, out)
		}
		if i == 5 && resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("past the quota: %d %v, want 429", resp.StatusCode, out)
		}
		if id, ok := out["id"].(string); ok {
			ids = append(ids, id)
		}
	}
	if resp, _ := apiCall(t, g.srv.URL, "POST", "/api/v1/evaluations", "tok-2", body); resp.StatusCode != http.StatusAccepted {
		t.Errorf("another token has its own quota: %d", resp.StatusCode)
	}
	_, out := g.sendJSON("pull_request", "d-1", g.payload("opened", 1, sha), secret)
	hook := out["evaluation"].(string)
	g.start()
	g.waitFinal(sha)
	he, _ := g.store.Get(context.Background(), hook)
	// The webhook's job is leased first; the other worker leases an API
	// job right after it, and either may record its start first. So at
	// most workers-1 API evaluations start before the webhook's: had the
	// API jobs queued first held it back, all of them would.
	var before []string
	for _, id := range ids {
		e, err := g.svc.Wait(context.Background(), id, 30*time.Second)
		if err != nil || e.StartedAt == nil || he.StartedAt == nil {
			t.Fatalf("evaluation %s: %+v %v", id, e, err)
		}
		if e.StartedAt.Before(*he.StartedAt) {
			before = append(before, fmt.Sprintf("%s at %v", id, e.StartedAt))
		}
	}
	if len(before) > g.cfg.Workers-1 {
		t.Errorf("%d API evaluations started before the webhook's (at %v), at most %d may: %v", len(before), he.StartedAt, g.cfg.Workers-1, before)
	}
}

// TestAccessControl: the user header counts only from a trusted proxy and
// never instead of basic auth; with any access control configured every
// read of evaluation data (pages and API) needs it.
func TestAccessControl(t *testing.T) {
	g := newGate(t)
	img := g.image("acme/api:v1", true)
	sha := g.repo.Commit("main", map[string]string{"apps/api/deploy.yaml": deployment("api", img)})
	g.repo.SetRef("refs/heads/main", sha)
	id, err := g.svc.Submit(context.Background(), serviceRequest(sha))
	if err != nil {
		t.Fatal(err)
	}
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	elsewhere := []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}
	front := func(o web.Options) string {
		o.Service = g.svc
		srv := httptest.NewServer(web.New(o))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	type cred struct{ user, pass, header, token string }
	get := func(base, path string, c cred) int {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		if c.header != "" {
			req.Header.Set("X-Forwarded-User", c.header)
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	reads := []string{"/", "/evaluations/" + id, "/api/v1/evaluations", "/api/v1/evaluations/" + id, "/api/v1/images?ref=x", "/images?ref=x", "/api/v1/summaries"}
	for _, tc := range []struct {
		name string
		o    web.Options
		c    cred
		want int
	}{
		{"no access control", web.Options{}, cred{}, 200},
		{"header from an untrusted client", web.Options{TrustedUserHeader: "X-Forwarded-User", TrustedProxies: elsewhere}, cred{header: "admin"}, 401},
		{"header from the trusted proxy", web.Options{TrustedUserHeader: "X-Forwarded-User", TrustedProxies: loopback}, cred{header: "admin"}, 200},
		{"header instead of basic auth", web.Options{BasicUser: "u", BasicPassword: "p", TrustedUserHeader: "X-Forwarded-User", TrustedProxies: loopback}, cred{header: "admin"}, 401},
		{"basic auth", web.Options{BasicUser: "u", BasicPassword: "p"}, cred{user: "u", pass: "p"}, 200},
		{"wrong password", web.Options{BasicUser: "u", BasicPassword: "p"}, cred{user: "u", pass: "x"}, 401},
		{"UI auth on, anonymous API read", web.Options{BasicUser: "u", BasicPassword: "p"}, cred{}, 401},
		{"API tokens only, anonymous", web.Options{APITokens: []string{"tok"}}, cred{}, 401},
		{"API tokens only, token", web.Options{APITokens: []string{"tok"}}, cred{token: "tok"}, 200},
		{"UI auth and tokens, token", web.Options{BasicUser: "u", BasicPassword: "p", APITokens: []string{"tok"}}, cred{token: "tok"}, 200},
	} {
		base := front(tc.o)
		for _, p := range reads {
			if got := get(base, p, tc.c); got != tc.want {
				t.Errorf("%s: GET %s: %d, want %d", tc.name, p, got, tc.want)
			}
		}
	}
	// /healthz, /readyz and /metrics stay open.
	base := front(web.Options{BasicUser: "u", BasicPassword: "p", Gatherer: nil})
	for _, p := range []string{"/healthz", "/readyz"} {
		if got := get(base, p, cred{}); got != 200 {
			t.Errorf("GET %s: %d, want 200", p, got)
		}
	}
}

// TestStaticServesOnlyAssets: /static/ serves the stylesheet and script,
// not the template sources and not a directory listing.
func TestStaticServesOnlyAssets(t *testing.T) {
	srv := httptest.NewServer(web.New(web.Options{}))
	defer srv.Close()
	for path, want := range map[string]int{
		"/static/style.css": 200, "/static/app.js": 200,
		"/static/": 404, "/static": 404, "/static/templates/layout.html": 404, "/static/..%2ftemplates/layout.html": 404,
		"/static/../templates/layout.html": 404, "/static/static/style.css": 404, "/static/%2e%2e/templates/list.html": 404,
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
		if strings.Contains(string(b), "{{") || strings.Contains(string(b), "<pre>") {
			t.Errorf("GET %s served a template or a listing:\n%.200s", path, b)
		}
	}
}

// TestAppModeForAPIEvaluations: as a GitHub App, an API evaluation (no
// webhook installation ID) looks up its repository's installation with
// the App's JWT, which the fake GitHub checks, and is evaluated.
func TestAppModeForAPIEvaluations(t *testing.T) {
	g := newGateWith(t, gateOptions{app: map[string]int64{"acme/gitops": 4242}, web: withTokens("tok-1")})
	img := g.image("acme/api:v1", true)
	sha := g.repo.Commit("main", map[string]string{"apps/api/deploy.yaml": deployment("api", img)})
	g.repo.SetRef("refs/heads/main", sha)
	for _, trigger := range []string{"api", "argocd"} {
		body := `{"repo": "acme/gitops", "revision": "` + sha + `", "ref": "refs/heads/main", "trigger": "` + trigger + `"}`
		resp, out := apiCall(t, g.srv.URL, "POST", "/api/v1/evaluations?wait=30s", "tok-1", body)
		if resp.StatusCode != http.StatusOK || out["result"] != "pass" {
			t.Errorf("%s in App mode: %d %v", trigger, resp.StatusCode, out)
		}
	}
	if got := g.gh.Lookups(); len(got) != 1 || got[0] != "acme/gitops" {
		t.Errorf("installation lookups %v, want one (cached) for acme/gitops", got)
	}
	if bad := g.gh.Bad(); len(bad) > 0 {
		t.Errorf("requests GitHub would refuse: %v", bad)
	}
	// A webhook in App mode reports (as a check run) with its
	// installation's token.
	pr := g.repo.Commit("pr", map[string]string{"apps/web/deploy.yaml": deployment("web", img)})
	g.repo.SetRef("refs/pull/2/head", pr)
	payload := g.payload("opened", 2, pr)
	var p map[string]any
	json.Unmarshal(payload, &p)
	p["installation"] = map[string]any{"id": 4242}
	payload, _ = json.Marshal(p)
	g.send("pull_request", "d-app", payload, secret)
	runs := g.waitChecks(pr, 1)
	if last := runs[len(runs)-1]; last.Conclusion != "success" || last.Authorization != "token ghs_installation_4242" {
		t.Errorf("webhook check run in App mode: %+v", last)
	}
}

func serviceRequest(sha string) service.Request {
	return service.Request{Repo: "acme/gitops", Revision: sha, Ref: "refs/heads/main"}
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestForwardedForOnlyFromTrustedProxies: a client's X-Forwarded-For does
// not choose the address the gate logs, unless the connection comes from
// a configured proxy.
func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	for name, tc := range map[string]struct {
		proxies []netip.Prefix
		want    string
	}{
		"no trusted proxy":     {nil, `"remote":"127.0.0.1"`},
		"another proxy":        {[]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, `"remote":"127.0.0.1"`},
		"from the trusted one": {[]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, `"remote":"203.0.113.9"`},
	} {
		var logs syncBuffer
		srv := httptest.NewServer(web.New(web.Options{WebhookSecret: []byte(secret), TrustedProxies: tc.proxies,
			Logger: slog.New(slog.NewJSONHandler(&logs, nil))}))
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/github", strings.NewReader("{}"))
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		req.Header.Set("X-Real-IP", "203.0.113.9")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		srv.Close()
		if !strings.Contains(logs.String(), tc.want) {
			t.Errorf("%s: log %s, want %s", name, logs.String(), tc.want)
		}
	}
}

// TestReadyzKeepsItsReasonForTheLog: with trust material missing, /readyz
// answers 503 without the error text (it names files and hosts); the log
// has it.
func TestReadyzKeepsItsReasonForTheLog(t *testing.T) {
	dir := t.TempDir()
	pol, _ := filepath.Abs("../testdata/policies/demo.yaml")
	cfgFile := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgFile, []byte("dataDir: "+dir+"\nrepos: [{name: acme/gitops, policies: ["+pol+"], trustedRoot: /secret-mount/trusted_root.json}]\n"), 0o644)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := service.New(service.Options{Config: cfg, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	srv := httptest.NewServer(web.New(web.Options{Service: svc, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(string(b), "secret-mount") || strings.Contains(string(b), "trust") {
		t.Errorf("readyz: %d %q", resp.StatusCode, b)
	}
	if !strings.Contains(logs.String(), "secret-mount") {
		t.Errorf("the log lacks the reason: %s", logs.String())
	}
}

// TestHostileRepositoryReachesNoLoopbackRegistry: a pull request names
// 150 images on 127.0.0.X (the gate's own host) under a policy whose
// imageReferences is "*" (every host). With registries.deny at its
// default the gate connects to none of them (a canary counts), every image
// is an error naming the deny list, and the status is not success.
func TestHostileRepositoryReachesNoLoopbackRegistry(t *testing.T) {
	g := newGateWith(t, gateOptions{denyDefault: true, images: "*"})
	canary, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer canary.Close()
	var conns atomic.Int64
	go func() {
		for {
			c, err := canary.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(canary.Addr().String())
	files := map[string]string{}
	for i := range 150 {
		host := fmt.Sprintf("127.0.0.%d:%s", i%250+1, port)
		if i%2 == 1 {
			host = fmt.Sprintf("127.0.0.%d:%d", i%250+1, 1000+i)
		}
		files[fmt.Sprintf("apps/a%03d/deploy.yaml", i)] = deployment(fmt.Sprintf("a%d", i), host+"/acme/app:v1")
	}
	g.repo.SetRef("refs/heads/main", g.repo.Commit("base", map[string]string{"README.md": "x\n"}))
	sha := g.repo.Commit("scan", files)
	g.repo.SetRef("refs/pull/1/head", sha)
	g.send("pull_request", "d-scan", g.payload("opened", 1, sha), secret)
	st := g.waitFinal(sha)
	if last := st[len(st)-1]; last.State == "success" {
		t.Errorf("status %+v", last)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections reached the loopback canary", n)
	}
	evs, _, _ := g.store.List(context.Background(), store.Filter{})
	ev, _ := g.store.Get(context.Background(), evs[0].ID)
	if !strings.Contains(string(ev.Report), "registries.deny") {
		t.Errorf("the report does not name the deny list: %.400s", ev.Report)
	}
}
