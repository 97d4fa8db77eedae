package web_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/gatetest/fakegithub"
	"github.com/gitops-gate/gitops-gate/gate/github"
	"github.com/gitops-gate/gitops-gate/gate/gitsrc"
	"github.com/gitops-gate/gitops-gate/gate/service"
	"github.com/gitops-gate/gitops-gate/gate/service/config"
	"github.com/gitops-gate/gitops-gate/gate/store"
	"github.com/gitops-gate/gitops-gate/manifests"
	"github.com/gitops-gate/gitops-gate/web"
)

const secret = "webhook-s3cret"

const e2ePolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: acme-signed}
spec:
  validationFailureAction: Enforce
  rules:
  - name: release-workflow
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["REGISTRY/*"]
      attestors:
      - entries:
        - keyless:
            issuer: https://token.actions.githubusercontent.com
            subject: "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*"
`

// gate is a running service on the real HTTP stack, with a registry and
// Sigstore, a git server, and a fake GitHub.
type gateEnv struct {
	t      *testing.T
	world  *gatetest.World
	git    *gatetest.GitServer
	repo   *gatetest.Repo
	gh     *fakegithub.GitHub
	srv    *httptest.Server
	store  store.Store
	cfg    *config.Config
	cancel context.CancelFunc
	svc    *service.Service
	// start starts the workers (newGate has already).
	start func()
}

// helmChildEnv makes the test binary the service's Helm sandbox child, as
// the gitops-gate binary is in production.
const helmChildEnv = "GITOPS_GATE_TEST_HELM_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(helmChildEnv) == "1" {
		os.Exit(manifests.RunHelmChild(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// newGate starts the service with the e2e configuration; extraConfig is
// appended to its YAML, except that "github.key: value" lines go into its
// github section.
func newGate(t *testing.T, extraConfig ...string) *gateEnv {
	t.Helper()
	return newGateWith(t, gateOptions{extra: extraConfig})
}

// gateOptions vary the e2e gate.
type gateOptions struct {
	extra []string
	// noWorkers leaves the queue alone until start is called.
	noWorkers bool
	// app runs the gate as GitHub App 7, installed on these repositories.
	app map[string]int64
	// denyDefault leaves registries.deny at its default (loopback denied:
	// the test registry is unreachable).
	denyDefault bool
	// web changes the HTTP options.
	web func(*web.Options)
	// images replaces the policy's imageReferences glob (REGISTRY/*).
	images string
}

func newGateWith(t *testing.T, o gateOptions) *gateEnv {
	t.Helper()
	g := &gateEnv{t: t, world: gatetest.NewWorld(t), git: gatetest.NewGitServer(t), gh: fakegithub.New(t)}
	g.repo = g.git.NewRepo("acme/gitops")
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	polText := strings.ReplaceAll(e2ePolicy, "REGISTRY", g.world.Registry.Host)
	if o.images != "" {
		polText = strings.Replace(polText, g.world.Registry.Host+"/*", o.images, 1)
	}
	os.WriteFile(pol, []byte(polText), 0o644)
	var githubExtra string
	var extra []string
	for _, e := range o.extra {
		if k, ok := strings.CutPrefix(e, "github."); ok {
			githubExtra += "  " + k + "\n"
		} else {
			extra = append(extra, e)
		}
	}
	credentials := "  token: ghp_test\n"
	if o.app != nil {
		keyFile := filepath.Join(dir, "app.pem")
		os.WriteFile(keyFile, g.gh.App(7, o.app), 0o600)
		credentials = "  appID: 7\n  privateKeyFile: " + keyFile + "\n"
	}
	deny := "registries: {deny: []} # the test registry listens on loopback\n"
	if o.denyDefault {
		deny = ""
	}
	cfgFile := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`dataDir: %s
externalURL: https://gate.example.com
github:
  baseURL: %s/
%s  webhookSecret: %s
%srepos:
  - name: acme/gitops
    cloneURL: %s
    policies: [%s]
    trustedRoot: %s
    branches: [main]
workers: 2
%s`, filepath.Join(dir, "data"), g.gh.Server.URL, credentials, secret, githubExtra, g.repo.CloneURL(), pol, g.world.TrustedRootPath, deny)+strings.Join(extra, "\n")), 0o644)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	g.cfg = cfg
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "gate.db"))
	if err != nil {
		t.Fatal(err)
	}
	g.store = st
	auth := github.Auth{Token: cfg.GitHub.Token, BaseURL: cfg.GitHub.BaseURL}
	if o.app != nil {
		auth = github.Auth{AppID: cfg.GitHub.AppID, BaseURL: cfg.GitHub.BaseURL}
		auth.PrivateKey, _ = os.ReadFile(cfg.GitHub.PrivateKeyFile)
	}
	ghc, err := github.NewClient(auth, nil)
	if err != nil {
		t.Fatal(err)
	}
	// As serve does: the token goes only to the configured GitHub.
	origin, err := github.WebOrigin(cfg.GitHub.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	fetcher, _ := gitsrc.New(gitsrc.Options{CacheDir: filepath.Join(dir, "git"), TokenOrigin: origin, IdleWorktrees: cfg.Workers})
	t.Cleanup(fetcher.Close)
	reg := prometheus.NewRegistry()
	metrics := service.NewMetrics(reg, st)
	svc, err := service.New(service.Options{Config: cfg, Store: st, GitHub: ghc, Fetcher: fetcher, Metrics: metrics,
		HelmCommand: []string{os.Args[0]}, HelmEnv: []string{helmChildEnv + "=1"}})
	if err != nil {
		t.Fatal(err)
	}
	g.svc = svc
	done := make(chan struct{})
	var started atomic.Bool
	g.start = func() {
		started.Store(true)
		go func() { svc.Run(ctx); close(done) }()
	}
	if !o.noWorkers {
		g.start()
	}
	wo := web.Options{Service: svc, WebhookSecret: []byte(secret), Gatherer: reg, Metrics: metrics}
	if o.web != nil {
		o.web(&wo)
	}
	g.srv = httptest.NewServer(web.New(wo))
	t.Cleanup(func() {
		g.srv.Close()
		cancel()
		if started.Load() {
			<-done
		}
		svc.Close()
		st.Close()
	})
	return g
}

func (g *gateEnv) image(repoTag string, signed bool) string {
	g.t.Helper()
	d, err := g.world.PushImage(context.Background(), repoTag)
	if err != nil {
		g.t.Fatal(err)
	}
	if signed {
		if err := g.world.Sigstore.SignImage(context.Background(), d, gatetest.SignOptions{}); err != nil {
			g.t.Fatal(err)
		}
	}
	return d.String()
}

func deployment(name, image string) string {
	return fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n      containers:\n        - name: %s\n          image: %s\n", name, name, image)
}

// payload is the corpus pull_request payload rewritten to point at the
// test repository.
func (g *gateEnv) payload(action string, pr int, sha string) []byte {
	g.t.Helper()
	raw, err := os.ReadFile("../testdata/github-webhooks/pull_request.opened.payload.json")
	if err != nil {
		g.t.Fatal(err)
	}
	var p map[string]any
	json.Unmarshal(raw, &p)
	p["action"] = action
	p["number"] = pr
	prm := p["pull_request"].(map[string]any)
	prm["number"] = pr
	prm["title"] = "Bump the worker"
	prm["head"].(map[string]any)["sha"] = sha
	// GitHub stamps each state of the pull request: later payloads of a
	// test describe later states.
	prm["updated_at"] = nextUpdatedAt()
	repo := p["repository"].(map[string]any)
	repo["full_name"] = "acme/gitops"
	repo["clone_url"] = g.repo.CloneURL()
	out, _ := json.Marshal(p)
	return out
}

var prClock = struct {
	sync.Mutex
	t time.Time
}{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}

// nextUpdatedAt is a pull_request.updated_at later than every earlier one.
func nextUpdatedAt() string {
	prClock.Lock()
	defer prClock.Unlock()
	prClock.t = prClock.t.Add(time.Second)
	return prClock.t.Format(time.RFC3339)
}

// signed is a webhook request signed with key; an empty delivery leaves
// out X-GitHub-Delivery.
func (g *gateEnv) signed(event, delivery string, payload []byte, key string) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, g.srv.URL+"/webhooks/github", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	if delivery != "" {
		req.Header.Set("X-GitHub-Delivery", delivery)
	}
	m := hmac.New(sha256.New, []byte(key))
	m.Write(payload)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	return req
}

func (g *gateEnv) send(event, delivery string, payload []byte, key string) *http.Response {
	g.t.Helper()
	resp, err := http.DefaultClient.Do(g.signed(event, delivery, payload, key))
	if err != nil {
		g.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// waitFinal waits for the statuses of sha to reach a final state.
func (g *gateEnv) waitFinal(sha string) []fakegithub.PostedStatus {
	g.t.Helper()
	return g.waitFinalWithin(sha, 30*time.Second)
}

func (g *gateEnv) waitFinalWithin(sha string, d time.Duration) []fakegithub.PostedStatus {
	g.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		var mine []fakegithub.PostedStatus
		for _, s := range g.gh.Statuses() {
			if s.SHA == sha {
				mine = append(mine, s)
			}
		}
		if n := len(mine); n > 0 && mine[n-1].State != "pending" {
			return mine
		}
		time.Sleep(50 * time.Millisecond)
	}
	g.t.Fatalf("no final status for %s; got %+v", sha, g.gh.Statuses())
	return nil
}

func TestPullRequestEndToEnd(t *testing.T) {
	g := newGate(t)
	api := g.image("acme/api:v1", true)
	unsigned := g.image("acme/worker:v1", false)
	signedWorker := g.image("acme/worker:v2", true)
	g.repo.SetRef("refs/heads/main", g.repo.Commit("base", map[string]string{"README.md": "gitops\n"}))
	sha1 := g.repo.Commit("use the worker", map[string]string{
		"apps/api/deploy.yaml":    deployment("api", api),
		"apps/worker/deploy.yaml": deployment("worker", unsigned),
	})
	g.repo.SetRef("refs/pull/1/head", sha1)

	// A forged delivery is refused and leaves nothing behind.
	if resp := g.send("pull_request", "forged-1", g.payload("opened", 1, sha1), "wrong-secret"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged webhook: %d, want 401", resp.StatusCode)
	}
	if _, total, _ := g.store.List(context.Background(), store.Filter{}); total != 0 {
		t.Fatalf("a forged delivery created %d evaluations", total)
	}

	start := time.Now()
	resp := g.send("pull_request", "delivery-1", g.payload("opened", 1, sha1), secret)
	if resp.StatusCode != http.StatusAccepted || time.Since(start) > time.Second {
		t.Fatalf("webhook: %d after %v, want 202 within a second", resp.StatusCode, time.Since(start))
	}
	// GitHub redelivers: the same delivery is one evaluation.
	if resp := g.send("pull_request", "delivery-1", g.payload("opened", 1, sha1), secret); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("redelivery: %d", resp.StatusCode)
	}
	statuses := g.waitFinal(sha1)
	if len(statuses) != 2 || statuses[0].State != "pending" || statuses[1].State != "failure" {
		t.Fatalf("statuses for %s: %+v, want pending then failure", sha1, statuses)
	}
	final := statuses[1]
	if final.Context != "gitops-gate" || final.Description != "2 images: 1 verified, 1 failed (apps/worker)" || final.Authorization != "Bearer ghp_test" {
		t.Errorf("final status %+v", final)
	}
	evs, total, _ := g.store.List(context.Background(), store.Filter{})
	if total != 1 {
		t.Fatalf("%d evaluations, want 1 (the redelivery is deduplicated)", total)
	}
	if final.TargetURL != "https://gate.example.com/evaluations/"+evs[0].ID || statuses[0].TargetURL != final.TargetURL {
		t.Errorf("target URL %q, evaluation %s", final.TargetURL, evs[0].ID)
	}

	// The verdict page names the failing image, its reason and its file.
	page := get(t, g.srv.URL+"/evaluations/"+evs[0].ID)
	for _, want := range []string{"Failed", unsigned, "no signatures found", "apps/worker/deploy.yaml:10", "/blob/" + sha1 + "/apps/worker/deploy.yaml#L10"} {
		if !strings.Contains(page, want) {
			t.Errorf("evaluation page lacks %q", want)
		}
	}

	// The author replaces the unsigned image with a signed digest.
	sha2 := g.repo.Commit("pin a signed worker", map[string]string{"apps/worker/deploy.yaml": deployment("worker", signedWorker)})
	g.repo.SetRef("refs/pull/1/head", sha2)
	g.send("pull_request", "delivery-2", g.payload("synchronize", 1, sha2), secret)
	statuses = g.waitFinal(sha2)
	if statuses[len(statuses)-1].State != "success" || statuses[len(statuses)-1].Description != "2 images: 2 verified" {
		t.Errorf("statuses for %s: %+v, want success", sha2, statuses)
	}
	if bad := g.gh.Bad(); len(bad) > 0 {
		t.Errorf("requests GitHub would not accept: %v", bad)
	}
	metrics := get(t, g.srv.URL+"/metrics")
	for _, want := range []string{`gitops_gate_evaluations_total{result="fail"} 1`, `gitops_gate_webhooks_total{event="pull_request",outcome="duplicate"} 1`,
		`gitops_gate_status_posts_total{outcome="posted"} 4`, "gitops_gate_queue_depth", "gitops_gate_registry_requests_total"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}
