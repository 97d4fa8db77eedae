package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/gate/gatetest/fakegithub"
	"github.com/gitops-gate/gitops-gate/gate/github"
	"github.com/gitops-gate/gitops-gate/gate/gitsrc"
	"github.com/gitops-gate/gitops-gate/gate/service"
	"github.com/gitops-gate/gitops-gate/gate/store"
)

// The gate runs as GitHub App 7 (gateOptions.app), installed on
// acme/gitops as installation 42.
const (
	testAppID        = 7
	testInstallation = 42
)

func newAppGate(t *testing.T, extra ...string) *gateEnv {
	return newGateWith(t, gateOptions{app: map[string]int64{"acme/gitops": testInstallation}, extra: extra})
}

// appPayload is GitHub's own payload of file (testdata/github-webhooks,
// from the shared corpus) pointed at the test repository and App, then
// changed by edit; the caller signs it with the test webhook secret.
func (g *gateEnv) appPayload(file string, edit func(p map[string]any)) []byte {
	g.t.Helper()
	raw, err := os.ReadFile(filepath.Join("../testdata/github-webhooks", file))
	if err != nil {
		g.t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		g.t.Fatal(err)
	}
	repo := p["repository"].(map[string]any)
	repo["full_name"], repo["clone_url"] = "acme/gitops", g.repo.CloneURL()
	p["installation"] = map[string]any{"id": testInstallation}
	for _, k := range []string{"check_run", "check_suite"} {
		if m, ok := p[k].(map[string]any); ok {
			m["app"].(map[string]any)["id"] = testAppID
		}
	}
	if edit != nil {
		edit(p)
	}
	out, _ := json.Marshal(p)
	return out
}

// checkRunPayload is a check_run delivery about the gate's check run on
// sha of pull request pr (0: none), reporting evaluation evalID.
func (g *gateEnv) checkRunPayload(action, sha string, pr int, evalID string, edit func(cr map[string]any)) []byte {
	return g.appPayload("check_run."+action+".payload.json", func(p map[string]any) {
		cr := p["check_run"].(map[string]any)
		cr["head_sha"], cr["name"], cr["external_id"] = sha, "gitops-gate", evalID
		prs := []any{}
		if pr > 0 {
			prs = append(prs, map[string]any{"number": pr, "head": map[string]any{"sha": sha}})
		}
		cr["pull_requests"] = prs
		cr["check_suite"].(map[string]any)["head_branch"] = "feature"
		if edit != nil {
			edit(cr)
		}
	})
}

func (g *gateEnv) checkSuitePayload(action, sha, branch string, pr int) []byte {
	return g.appPayload("check_suite."+action+".payload.json", func(p map[string]any) {
		cs := p["check_suite"].(map[string]any)
		cs["head_sha"], cs["head_branch"], cs["after"] = sha, branch, sha
		prs := []any{}
		if pr > 0 {
			prs = append(prs, map[string]any{"number": pr, "head": map[string]any{"sha": sha}})
		}
		cs["pull_requests"] = prs
	})
}

// prPayload is a pull_request delivery from installation 42.
func (g *gateEnv) prPayload(action string, pr int, sha string) []byte {
	var p map[string]any
	json.Unmarshal(g.payload(action, pr, sha), &p)
	p["installation"] = map[string]any{"id": testInstallation}
	out, _ := json.Marshal(p)
	return out
}

// waitChecks waits until sha has n completed check runs and returns all
// of its check runs, oldest first.
func (g *gateEnv) waitChecks(sha string, n int) []fakegithub.CheckRun {
	g.t.Helper()
	var mine []fakegithub.CheckRun
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mine = mine[:0]
		done := 0
		for _, r := range g.gh.CheckRuns() {
			if r.SHA == sha {
				mine = append(mine, r)
				if r.Status == "completed" {
					done++
				}
			}
		}
		if done >= n && g.queueEmpty() {
			return mine
		}
	}
	g.t.Fatalf("%s: want %d completed check runs, got %+v\nbad requests: %v", sha, n, mine, g.gh.Bad())
	return nil
}

// queueEmpty says no job is queued or running.
func (g *gateEnv) queueEmpty() bool {
	depth, err := g.store.QueueDepth(context.Background())
	if err != nil {
		return false
	}
	for _, n := range depth {
		if n > 0 {
			return false
		}
	}
	return true
}

func (g *gateEnv) mustAccept(event, delivery string, payload []byte) map[string]any {
	g.t.Helper()
	resp, out := g.sendJSON(event, delivery, payload, secret)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		g.t.Fatalf("%s %s: %d %v", event, delivery, resp.StatusCode, out)
	}
	return out
}

func (g *gateEnv) evaluationsOf(sha string) []*store.Evaluation {
	evs, _, err := g.store.List(context.Background(), store.Filter{Limit: 500})
	if err != nil {
		g.t.Fatal(err)
	}
	var out []*store.Evaluation
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Spec.SHA == sha {
			out = append(out, evs[i])
		}
	}
	return out
}

// TestCheckRunOnPullRequest: as a GitHub App, a pull request gets one
// check run moved queued → in_progress → completed, with the evaluation
// page as details_url, the evaluation ID as external_id, a title naming
// the failing app, the Markdown summary, and a failure annotation at the
// unsigned image's file and line; no commit status is posted.
func TestCheckRunOnPullRequest(t *testing.T) {
	g := newAppGate(t)
	api := g.image("acme/api:v1", true)
	unsigned := g.image("acme/worker:v1", false)
	sha := g.repo.Commit("use the worker", map[string]string{
		"apps/api/deploy.yaml":    deployment("api", api),
		"apps/worker/deploy.yaml": deployment("worker", unsigned),
	})
	g.repo.SetRef("refs/pull/1/head", sha)
	g.mustAccept("pull_request", "cr-1", g.prPayload("opened", 1, sha))
	runs := g.waitChecks(sha, 1)
	if len(runs) != 1 {
		t.Fatalf("%d check runs, want 1: %+v", len(runs), runs)
	}
	run := runs[0]
	evs := g.evaluationsOf(sha)
	if len(evs) != 1 {
		t.Fatalf("%d evaluations", len(evs))
	}
	if strings.Join(run.Statuses, ",") != "queued,in_progress,completed" || run.Conclusion != "failure" || run.Name != "gitops-gate" {
		t.Errorf("check run went %v to %q (%s), want queued,in_progress,completed to failure", run.Statuses, run.Conclusion, run.Name)
	}
	if run.DetailsURL != "https://gate.example.com/evaluations/"+evs[0].ID || run.ExternalID != evs[0].ID {
		t.Errorf("details_url %q, external_id %q; evaluation %s", run.DetailsURL, run.ExternalID, evs[0].ID)
	}
	if run.Authorization != fmt.Sprintf("token ghs_installation_%d", testInstallation) {
		t.Errorf("posted with %q", run.Authorization)
	}
	if run.Title != "1 of 2 images failed: apps/worker" {
		t.Errorf("title %q", run.Title)
	}
	fail := strings.Index(run.Summary, "Images that did not pass")
	passed := strings.Index(run.Summary, "<details>")
	if fail < 0 || passed < fail || !strings.Contains(run.Summary, "no signatures found") {
		t.Errorf("summary: failed table first, passed folded after:\n%s", run.Summary)
	}
	if len(run.Annotations) != 1 {
		t.Fatalf("annotations %+v", run.Annotations)
	}
	if a := run.Annotations[0]; a.Path != "apps/worker/deploy.yaml" || a.StartLine != 10 || a.Level != "failure" ||
		!strings.Contains(a.Title, unsigned) || !strings.Contains(a.Message, "no signatures found") {
		t.Errorf("annotation %+v", a)
	}
	if got, _ := g.store.Get(context.Background(), evs[0].ID); got.CheckRunID != run.ID {
		t.Errorf("stored check run %d, GitHub's %d", got.CheckRunID, run.ID)
	}
	if st := g.gh.Statuses(); len(st) != 0 {
		t.Errorf("commit statuses posted in check-run mode: %+v", st)
	}
	metrics := get(t, g.srv.URL+"/metrics")
	for _, step := range []string{"create", "start", "complete"} {
		if want := `gitops_gate_check_run_steps_total{outcome="posted",step="` + step + `"} 1`; !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if bad := g.gh.Bad(); len(bad) > 0 {
		t.Errorf("requests GitHub would refuse: %v", bad)
	}
}

// TestCheckRunAnnotationBatches: 120 failing image occurrences give 120
// annotations in three requests (50, 50, 20): the completing update and
// two appending updates, each within GitHub's 50 (the fake refuses more).
func TestCheckRunAnnotationBatches(t *testing.T) {
	g := newAppGate(t)
	sha := g.manyFailing(120)
	g.mustAccept("pull_request", "batches-1", g.prPayload("opened", 4, sha))
	run := g.waitChecks(sha, 1)[0]
	if run.Conclusion != "failure" || len(run.Annotations) != 120 {
		t.Fatalf("conclusion %q, %d annotations, want failure and 120", run.Conclusion, len(run.Annotations))
	}
	var sizes []int
	for _, r := range g.gh.CheckRequests() {
		if r.RunID == run.ID && r.Annotations > 0 {
			sizes = append(sizes, r.Annotations)
		}
	}
	if fmt.Sprint(sizes) != "[50 50 20]" {
		t.Errorf("annotation batches %v, want [50 50 20]", sizes)
	}
	assertDistinct(t, run.Annotations)
	if !strings.HasPrefix(run.Title, "120 of 120 images failed") {
		t.Errorf("title %q", run.Title)
	}
	if bad := g.gh.Bad(); len(bad) > 0 {
		t.Errorf("requests GitHub would refuse: %v", bad)
	}
}

// manyFailing commits n occurrences of an unsigned image (three apps) to
// refs/pull/4/head.
func (g *gateEnv) manyFailing(n int) string {
	unsigned := g.image("acme/worker:v9", false)
	files := map[string]string{}
	for i := 0; i < n; i++ {
		f := fmt.Sprintf("apps/app-%d/deploy.yaml", i%3)
		if files[f] != "" {
			files[f] += "---\n"
		}
		files[f] += deployment(fmt.Sprintf("w%03d", i), unsigned)
	}
	sha := g.repo.Commit("many", files)
	g.repo.SetRef("refs/pull/4/head", sha)
	return sha
}

func assertDistinct(t *testing.T, as []fakegithub.CheckAnnotation) {
	t.Helper()
	seen := map[string]bool{}
	for _, a := range as {
		k := fmt.Sprintf("%s:%d", a.Path, a.StartLine)
		if seen[k] {
			t.Errorf("annotation %s posted twice", k)
		}
		seen[k] = true
	}
}

// TestCheckRunReruns: GitHub's check_run.rerequested and
// check_suite.rerequested payloads re-evaluate the commit, resolving its
// tag again (now pointing at a signed image); check_suite.requested
// evaluates a push to a configured branch and nothing else; deliveries are
// deduplicated and signatures checked as for every webhook; check runs and
// suites of other Apps, or other check names, are ignored.
func TestCheckRunReruns(t *testing.T) {
	g := newAppGate(t)
	reg := g.world.Registry.Host
	g.image("acme/web:v1", false) // the tag names an unsigned image first
	sha := g.repo.Commit("web", map[string]string{"apps/web/deploy.yaml": deployment("web", reg+"/acme/web:v1")})
	g.repo.SetRef("refs/pull/3/head", sha)
	g.mustAccept("pull_request", "rr-0", g.prPayload("opened", 3, sha))
	if run := g.waitChecks(sha, 1)[0]; run.Conclusion != "failure" {
		t.Fatalf("first run %q", run.Conclusion)
	}
	first := g.evaluationsOf(sha)[0].ID

	// The tag moves to a signed image; Re-run resolves it again.
	g.image("acme/web:v1", true)
	g.mustAccept("check_run", "rr-1", g.checkRunPayload("rerequested", sha, 3, first, nil))
	runs := g.waitChecks(sha, 2)
	if len(runs) != 2 || runs[1].Conclusion != "success" || runs[1].ExternalID == first {
		t.Fatalf("after check_run.rerequested: %+v", runs)
	}
	evs := g.evaluationsOf(sha)
	if len(evs) != 2 || evs[1].Spec.Trigger != "pull_request" || evs[1].Spec.PR != 3 {
		t.Fatalf("re-run evaluation %+v", evs[len(evs)-1].Spec)
	}
	if d0, d1 := g.digestOf(evs[0].ID), g.digestOf(evs[1].ID); d0 == "" || d0 == d1 {
		t.Errorf("the re-run verified %q, the first run %q: the tag was not resolved again", d1, d0)
	}
	// GitHub redelivers: nothing new.
	if out := g.mustAccept("check_run", "rr-1", g.checkRunPayload("rerequested", sha, 3, first, nil)); out["outcome"] != "duplicate" {
		t.Errorf("redelivery: %v", out)
	}
	// Re-run all checks: check_suite.rerequested.
	g.mustAccept("check_suite", "rr-2", g.checkSuitePayload("rerequested", sha, "feature", 3))
	if runs := g.waitChecks(sha, 3); len(runs) != 3 || runs[2].Conclusion != "success" {
		t.Fatalf("after check_suite.rerequested: %+v", runs)
	}

	// A push to main: check_suite.requested evaluates it (as a push), the
	// push event itself is left to it, and a push to another branch is not
	// evaluated.
	img := g.image("acme/api:v1", true)
	main := g.repo.Commit("main", map[string]string{"apps/api/deploy.yaml": deployment("api", img)})
	g.repo.SetRef("refs/heads/main", main)
	push := pushPayload(t, main, g.repo.CloneURL())
	if out := g.mustAccept("push", "rr-push", push); out["outcome"] != "ignored" {
		t.Errorf("push in check-run mode: %v, want ignored (check_suite.requested evaluates it)", out)
	}
	g.mustAccept("check_suite", "rr-3", g.checkSuitePayload("requested", main, "main", 0))
	if runs := g.waitChecks(main, 1); len(runs) != 1 || runs[0].Conclusion != "success" {
		t.Fatalf("push to main: %+v", runs)
	}
	if evs := g.evaluationsOf(main); len(evs) != 1 || evs[0].Spec.Trigger != "push" || evs[0].Spec.Ref != "refs/heads/main" {
		t.Fatalf("push evaluation %+v", evs)
	}
	other := g.repo.Commit("other", map[string]string{"x.txt": "x"})
	for name, c := range map[string]struct {
		event string
		body  []byte
	}{
		"suite of another branch":       {"check_suite", g.checkSuitePayload("requested", other, "feature", 0)},
		"re-run outside PRs and main":   {"check_suite", g.checkSuitePayload("rerequested", other, "feature", 0)},
		"another App's check run":       {"check_run", g.checkRunPayload("rerequested", sha, 3, first, func(cr map[string]any) { cr["app"].(map[string]any)["id"] = 29310 })},
		"another check's name":          {"check_run", g.checkRunPayload("rerequested", sha, 3, first, func(cr map[string]any) { cr["name"] = "Octocoders-linter" })},
		"our own check run, created":    {"check_run", g.checkRunPayload("created", sha, 3, first, nil)},
		"our own check run, completed":  {"check_run", g.checkRunPayload("completed", sha, 3, first, nil)},
		"check suite completed":         {"check_suite", g.checkSuitePayload("completed", sha, "feature", 3)},
		"another App's check suite run": {"check_suite", g.appPayload("check_suite.rerequested.payload.json", func(p map[string]any) { p["check_suite"].(map[string]any)["app"].(map[string]any)["id"] = 29310 })},
	} {
		if out := g.mustAccept(c.event, "ign-"+name, c.body); out["outcome"] != "ignored" {
			t.Errorf("%s: %v, want ignored", name, out)
		}
	}
	// A forged re-run (wrong secret) is refused.
	if resp := g.send("check_run", "forged", g.checkRunPayload("rerequested", sha, 3, first, func(cr map[string]any) { cr["id"] = 99 }), "wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged check_run: %d", resp.StatusCode)
	}
	if n := len(g.evaluationsOf(sha)); n != 3 {
		t.Errorf("%d evaluations of %s, want 3", n, sha)
	}
	if bad := g.gh.Bad(); len(bad) > 0 {
		t.Errorf("requests GitHub would refuse: %v", bad)
	}
}

func pushPayload(t *testing.T, sha, cloneURL string) []byte {
	raw, err := os.ReadFile("../testdata/github-webhooks/push.payload.json")
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	json.Unmarshal(raw, &p)
	p["ref"], p["after"], p["deleted"] = "refs/heads/main", sha, false
	repo := p["repository"].(map[string]any)
	repo["full_name"], repo["clone_url"] = "acme/gitops", cloneURL
	p["installation"] = map[string]any{"id": testInstallation}
	out, _ := json.Marshal(p)
	return out
}

// TestCheckRunProposePins: a pull request whose images all pass but use
// tags gets a success check run with a "Propose pins" button; GitHub's
// requested_action delivery for it writes the pins comment once (a
// redelivery does not write it again); a button press naming another
// evaluation is ignored.
func TestCheckRunProposePins(t *testing.T) {
	g := newAppGate(t)
	reg := g.world.Registry.Host
	api := g.image("acme/api:v1", true)
	sha := g.repo.Commit("tags", map[string]string{"apps/api/deploy.yaml": deployment("api", reg+"/acme/api:v1")})
	g.repo.SetRef("refs/pull/6/head", sha)
	g.mustAccept("pull_request", "pins-a", g.prPayload("opened", 6, sha))
	run := g.waitChecks(sha, 1)[0]
	if run.Conclusion != "success" || len(run.Actions) != 1 || run.Actions[0].Identifier != "propose-pins" || run.Actions[0].Label != "Propose pins" {
		t.Fatalf("check run %q with actions %+v, want success with Propose pins", run.Conclusion, run.Actions)
	}
	if len(g.gh.Comments()) != 0 {
		t.Fatal("a comment was written before the button was pressed")
	}
	evID := run.ExternalID
	press := g.checkRunPayload("requested_action", sha, 6, evID, nil)
	var p map[string]any
	json.Unmarshal(press, &p)
	p["requested_action"] = map[string]any{"identifier": "propose-pins"}
	press, _ = json.Marshal(p)
	g.mustAccept("check_run", "press-1", press)
	c := g.waitComment(6, func(c fakegithub.Comment) bool { return strings.Contains(c.Body, "```diff") })
	digest := api[strings.Index(api, "@")+1:]
	if !strings.Contains(c.Body, "+          image: "+reg+"/acme/api:v1@"+digest) || !strings.Contains(c.Body, "version="+evID) {
		t.Errorf("pins comment:\n%s", c.Body)
	}
	g.mustAccept("check_run", "press-1", press)
	time.Sleep(300 * time.Millisecond)
	if cs := g.gh.Comments(); len(cs) != 1 || cs[0].Edits != 0 {
		t.Errorf("after a redelivery: %+v", cs)
	}

	// A failing pull request offers no button, and a press naming it (or
	// an evaluation of another commit) is ignored.
	unsigned := g.image("acme/worker:v1", false)
	bad := g.repo.Commit("bad", map[string]string{"apps/w/deploy.yaml": deployment("w", unsigned)})
	g.repo.SetRef("refs/pull/7/head", bad)
	g.mustAccept("pull_request", "pins-b", g.prPayload("opened", 7, bad))
	badRun := g.waitChecks(bad, 1)[0]
	if len(badRun.Actions) != 0 {
		t.Errorf("a failing check run offers %+v", badRun.Actions)
	}
	for name, body := range map[string][]byte{
		"failed evaluation":       withAction(g.checkRunPayload("requested_action", bad, 7, badRun.ExternalID, nil), "propose-pins"),
		"evaluation of a sibling": withAction(g.checkRunPayload("requested_action", bad, 7, evID, nil), "propose-pins"),
		"unknown button":          withAction(g.checkRunPayload("requested_action", sha, 6, evID, nil), "lgtm|26764"),
	} {
		if out := g.mustAccept("check_run", "press-"+name, body); out["outcome"] != "ignored" {
			t.Errorf("%s: %v, want ignored", name, out)
		}
	}
	if cs := g.gh.Comments(); len(cs) != 1 {
		t.Errorf("comments %+v", cs)
	}
	if bad := g.gh.Bad(); len(bad) > 0 {
		t.Errorf("requests GitHub would refuse: %v", bad)
	}
}

func withAction(payload []byte, id string) []byte {
	var p map[string]any
	json.Unmarshal(payload, &p)
	p["requested_action"] = map[string]any{"identifier": id}
	out, _ := json.Marshal(p)
	return out
}

// TestTokenModeKeepsStatuses: with a token (no App) a pull request gets
// commit statuses and no check run, and check_run deliveries are ignored;
// as an App, a repository with checkRuns: false keeps statuses too.
func TestTokenModeKeepsStatuses(t *testing.T) {
	for name, g := range map[string]*gateEnv{
		"token":                newGate(t),
		"App, checkRuns false": newAppGateStatuses(t),
	} {
		img := g.image("acme/api:v1", true)
		sha := g.repo.Commit("api", map[string]string{"apps/api/deploy.yaml": deployment("api", img)})
		g.repo.SetRef("refs/pull/1/head", sha)
		g.mustAccept("pull_request", "tok-1", g.prPayload("opened", 1, sha))
		if st := g.waitFinal(sha); st[len(st)-1].State != "success" {
			t.Errorf("%s: statuses %+v", name, st)
		}
		if out := g.mustAccept("check_run", "tok-2", g.checkRunPayload("rerequested", sha, 1, "x", nil)); out["outcome"] != "ignored" {
			t.Errorf("%s: check_run delivery %v, want ignored", name, out)
		}
		if runs := g.gh.CheckRuns(); len(runs) != 0 {
			t.Errorf("%s: check runs %+v", name, runs)
		}
		if bad := g.gh.Bad(); len(bad) > 0 {
			t.Errorf("%s: requests GitHub would refuse: %v", name, bad)
		}
	}
}

func newAppGateStatuses(t *testing.T) *gateEnv {
	return newGateWith(t, gateOptions{app: map[string]int64{"acme/gitops": testInstallation}, extra: []string{"defaults: {checkRuns: false}"}})
}

// TestCheckRunRestartNeverDoublePosts: the process dies after GitHub
// applied the completing update (50 annotations) and before the gate
// recorded it; another process takes the step over when its lease ends,
// finds the update applied, and goes on: every annotation is on the
// check run once, and there is one check run.
func TestCheckRunRestartNeverDoublePosts(t *testing.T) {
	g := newGateWith(t, gateOptions{app: map[string]int64{"acme/gitops": testInstallation}, noWorkers: true, extra: []string{"leaseTimeout: 2s"}})
	sha := g.manyFailing(120)
	applied, release := g.gh.HoldCheck(func(r fakegithub.CheckRequest) bool { return r.Annotations > 0 })
	defer release()
	g.mustAccept("pull_request", "restart-1", g.prPayload("opened", 4, sha))

	ctxA, stopA := context.WithCancel(context.Background())
	doneA := make(chan struct{})
	go func() { g.svc.Run(ctxA); close(doneA) }()
	select {
	case <-applied:
	case <-time.After(60 * time.Second):
		t.Fatalf("the completing update never came; check runs %+v", g.gh.CheckRuns())
	}
	stopA() // the process dies with GitHub's answer unread
	<-doneA

	svcB := g.secondService()
	ctxB, stopB := context.WithCancel(context.Background())
	doneB := make(chan struct{})
	go func() { svcB.Run(ctxB); close(doneB) }()
	defer func() { stopB(); <-doneB }()

	runs := g.waitChecks(sha, 1)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && len(g.gh.CheckRuns()[0].Annotations) < 120; {
		time.Sleep(50 * time.Millisecond)
	}
	runs = g.gh.CheckRuns()
	if len(runs) != 1 {
		t.Fatalf("%d check runs, want 1", len(runs))
	}
	if n := len(runs[0].Annotations); n != 120 {
		t.Errorf("%d annotations, want 120 (each once)", n)
	}
	assertDistinct(t, runs[0].Annotations)
	var sizes []int
	for _, r := range g.gh.CheckRequests() {
		if r.Annotations > 0 {
			sizes = append(sizes, r.Annotations)
		}
	}
	if fmt.Sprint(sizes) != "[50 50 20]" {
		t.Errorf("annotation requests %v, want [50 50 20]: none sent twice", sizes)
	}
	if bad := g.gh.Bad(); len(bad) > 0 {
		t.Errorf("requests GitHub would refuse: %v", bad)
	}
}

// secondService is another gate process on the same store and
// configuration (a restart).
func (g *gateEnv) secondService() *service.Service {
	g.t.Helper()
	key, err := os.ReadFile(g.cfg.GitHub.PrivateKeyFile)
	if err != nil {
		g.t.Fatal(err)
	}
	ghc, err := github.NewClient(github.Auth{AppID: g.cfg.GitHub.AppID, PrivateKey: key, BaseURL: g.cfg.GitHub.BaseURL}, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	origin, _ := github.WebOrigin(g.cfg.GitHub.BaseURL)
	fetcher, _ := gitsrc.New(gitsrc.Options{CacheDir: filepath.Join(g.t.TempDir(), "git"), TokenOrigin: origin})
	svc, err := service.New(service.Options{Config: g.cfg, Store: g.store, GitHub: ghc, Fetcher: fetcher,
		HelmCommand: []string{os.Args[0]}, HelmEnv: []string{helmChildEnv + "=1"}})
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(svc.Close)
	return svc
}

// TestRerunStormQueuesOne: Re-run pressed (or redelivered) fifty times
// while the commit's evaluation is still queued queues nothing more: each
// delivery is a duplicate of the queued evaluation of that commit and pull
// request, so a storm costs one evaluation per commit at a time.
func TestRerunStormQueuesOne(t *testing.T) {
	g := newGateWith(t, gateOptions{app: map[string]int64{"acme/gitops": testInstallation}, noWorkers: true})
	img := g.image("acme/api:v1", true)
	sha := g.repo.Commit("api", map[string]string{"apps/api/deploy.yaml": deployment("api", img)})
	g.repo.SetRef("refs/pull/8/head", sha)
	g.mustAccept("pull_request", "storm-0", g.prPayload("opened", 8, sha))
	for i := 0; i < 50; i++ {
		event, body := "check_run", g.checkRunPayload("rerequested", sha, 8, "", func(cr map[string]any) { cr["id"] = 5000 + i })
		if i%2 == 1 {
			event, body = "check_suite", g.appPayload("check_suite.rerequested.payload.json", func(p map[string]any) {
				cs := p["check_suite"].(map[string]any)
				cs["head_sha"], cs["id"], cs["pull_requests"] = sha, 6000+i, []any{map[string]any{"number": 8}}
			})
		}
		if out := g.mustAccept(event, fmt.Sprintf("storm-%d", i+1), body); out["outcome"] != "duplicate" {
			t.Fatalf("re-run %d: %v, want a duplicate of the queued evaluation", i, out)
		}
	}
	if n := len(g.evaluationsOf(sha)); n != 1 {
		t.Errorf("%d evaluations queued, want 1", n)
	}
	g.start()
	if runs := g.waitChecks(sha, 1); len(runs) != 1 || runs[0].Conclusion != "success" {
		t.Errorf("check runs %+v", runs)
	}
}

// TestCheckRunForkRerunAndSupersede: a newer commit of a pull request
// cancels the check run of the queued older one; Re-run of a fork's pull
// request (GitHub lists no pull request in the payload) re-evaluates it as
// that pull request, found from the evaluation the check run reports.
func TestCheckRunForkRerunAndSupersede(t *testing.T) {
	g := newGateWith(t, gateOptions{app: map[string]int64{"acme/gitops": testInstallation}, noWorkers: true})
	img := g.image("acme/api:v1", true)
	sha1 := g.repo.Commit("one", map[string]string{"apps/api/deploy.yaml": deployment("api", img)})
	sha2 := g.repo.Commit("two", map[string]string{"apps/api/deploy.yaml": deployment("api", img), "README.md": "x"})
	g.repo.SetRef("refs/pull/9/head", sha2)
	g.mustAccept("pull_request", "sup-1", g.prPayload("opened", 9, sha1))
	g.mustAccept("pull_request", "sup-2", g.prPayload("synchronize", 9, sha2))
	g.start()
	old := g.waitChecks(sha1, 1)[0]
	if old.Conclusion != "cancelled" || !strings.HasPrefix(old.Title, "Superseded") {
		t.Errorf("superseded commit's check run: %s %q", old.Conclusion, old.Title)
	}
	cur := g.waitChecks(sha2, 1)[0]
	if cur.Conclusion != "success" {
		t.Fatalf("head's check run %s", cur.Conclusion)
	}
	g.mustAccept("check_run", "fork-rr", g.checkRunPayload("rerequested", sha2, 0, cur.ExternalID, nil))
	g.waitChecks(sha2, 2)
	evs := g.evaluationsOf(sha2)
	if len(evs) != 2 || evs[1].Spec.PR != 9 || evs[1].Spec.Ref != "refs/pull/9/head" || evs[1].Spec.Trigger != "pull_request" {
		t.Errorf("fork re-run evaluated %+v", evs[len(evs)-1].Spec)
	}
	if bad := g.gh.Bad(); len(bad) > 0 {
		t.Errorf("requests GitHub would refuse: %v", bad)
	}
}

// TestCheckRunShownWhenAnnotationsRefused: when GitHub refuses an
// annotation (a value from the repository it does not take), the check
// run still completes with its conclusion and summary, without
// annotations and with a note: the verdict is never lost over them.
func TestCheckRunShownWhenAnnotationsRefused(t *testing.T) {
	g := newAppGate(t)
	g.gh.RefuseAnnotationPath("refuse-me")
	unsigned := g.image("acme/worker:v1", false)
	sha := g.repo.Commit("w", map[string]string{"apps/w/refuse-me.yaml": deployment("w", unsigned)})
	g.repo.SetRef("refs/pull/2/head", sha)
	g.mustAccept("pull_request", "refused-1", g.prPayload("opened", 2, sha))
	run := g.waitChecks(sha, 1)[0]
	if run.Conclusion != "failure" || len(run.Annotations) != 0 || !strings.Contains(run.Text, "GitHub refused this check run's annotations") ||
		!strings.Contains(run.Summary, "refuse-me.yaml") {
		t.Errorf("check run %s, %d annotations, text %q", run.Conclusion, len(run.Annotations), run.Text)
	}
	if bad := g.gh.Bad(); len(bad) != 1 || !strings.Contains(bad[0], "annotation path refused") {
		t.Errorf("refusals %v, want the one annotation", bad)
	}
}

// digestOf is the digest an evaluation verified for its only image.
func (g *gateEnv) digestOf(id string) string {
	ev, err := g.store.Get(context.Background(), id)
	if err != nil {
		g.t.Fatal(err)
	}
	var rep struct {
		Apps []struct{ Images []struct{ Digest string } }
	}
	json.Unmarshal(ev.Report, &rep)
	if len(rep.Apps) != 1 || len(rep.Apps[0].Images) != 1 {
		return ""
	}
	return rep.Apps[0].Images[0].Digest
}
