package web_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/service"
	"github.com/gitops-gate/gitops-gate/gate/store"
)

// waitDone waits until no evaluation is queued or running.
func (g *gateEnv) waitDone() []*store.Evaluation {
	g.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		evs, _, err := g.store.List(context.Background(), store.Filter{Limit: 500})
		if err != nil {
			g.t.Fatal(err)
		}
		done := true
		for _, e := range evs {
			done = done && e.Done()
		}
		if done {
			return evs
		}
	}
	g.t.Fatal("evaluations still pending")
	return nil
}

// TestListLinksPullRequestsAndSumsUpRepositories: the list links each
// pull request evaluation to its pull request on the configured GitHub
// (here not github.com), an API evaluation of a branch to nothing on
// GitHub; it sums up the repository (last result per branch or pull
// request, pass rate, failing images); and the evaluation page marks
// the owner that signed instead of the expected one.
func TestListLinksPullRequestsAndSumsUpRepositories(t *testing.T) {
	g := newGate(t)
	api := g.image("acme/api:v1", true)
	forked, err := g.world.PushImage(context.Background(), "acme/worker:v1")
	must(t, err)
	must(t, g.world.Sigstore.SignImage(context.Background(), forked, gatetest.SignOptions{Identity: gatetest.IdentityFor("evil-fork/worker", "refs/tags/v1")}))
	main := g.repo.Commit("base", map[string]string{"apps/api/deploy.yaml": deployment("api", api)})
	g.repo.SetRef("refs/heads/main", main)
	failing := g.repo.Commit("forked worker", map[string]string{"apps/worker/deploy.yaml": deployment("worker", forked.String())})
	g.repo.SetRef("refs/pull/1/head", failing)
	g.send("pull_request", "s-1", g.payload("opened", 1, failing), secret)
	g.waitFinal(failing)
	passing := g.repo.Commit("api only", map[string]string{"apps/worker/deploy.yaml": ""})
	g.repo.SetRef("refs/pull/2/head", passing)
	g.send("pull_request", "s-2", g.payload("opened", 2, passing), secret)
	g.waitFinal(passing)
	if _, err := g.svc.Submit(context.Background(), service.Request{Repo: "acme/gitops", Revision: main, Ref: "refs/heads/main"}); err != nil {
		t.Fatal(err)
	}
	evs := g.waitDone()
	if len(evs) != 3 {
		t.Fatalf("%d evaluations", len(evs))
	}

	page := get(t, g.srv.URL+"/")
	origin := strings.TrimSuffix(g.cfg.GitHub.BaseURL, "/")
	u, _ := url.Parse(origin)
	origin = "http://" + u.Host
	for _, want := range []string{
		`<a class="github" href="` + origin + `/acme/gitops/pull/1">on GitHub<span class="vh">: pull request #1 of acme/gitops</span></a>`,
		`href="` + origin + `/acme/gitops/pull/2"`,
		// The summary.
		`Repositories over the last 30 days`, `<a href="/?repo=acme%2fgitops">acme/gitops</a>`,
		`<strong>66%</strong> passed (2 of 3 finished evaluations)`,
		`>#1</a>`, `>#2</a>`, `>main</a>`,
		`title="` + forked.String() + `"`, `in 1 evaluation<`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("list page lacks %s", want)
		}
	}
	// The API evaluation is not linked to GitHub; the two webhook ones are.
	if n := strings.Count(page, `class="github"`); n != 2 {
		t.Errorf("%d links to GitHub, want 2", n)
	}
	// Paging on: the summary heads the first page only.
	if p := get(t, g.srv.URL+"/?offset=1"); strings.Contains(p, "Repositories over the last 30 days") {
		t.Error("the summary is repeated on a later page")
	}

	// The API says the same.
	var sums struct {
		Since        time.Time           `json:"since"`
		Repositories []store.RepoSummary `json:"repositories"`
	}
	must(t, json.Unmarshal([]byte(get(t, g.srv.URL+"/api/v1/summaries?repo=acme/gitops")), &sums))
	if len(sums.Repositories) != 1 || sums.Repositories[0].Finished != 3 || sums.Repositories[0].Passed != 2 || len(sums.Repositories[0].Changes) != 3 ||
		len(sums.Repositories[0].FailingImages) != 1 || time.Since(sums.Since) < 29*24*time.Hour {
		t.Errorf("/api/v1/summaries: %+v", sums)
	}

	var failed *store.Evaluation
	for _, e := range evs {
		if e.Result == "fail" {
			failed = e
		}
	}
	page = get(t, g.srv.URL+"/evaluations/"+failed.ID)
	for _, want := range []string{
		`<code class="identity"><mark><span class="vh">differs: </span>acme</mark>/*/.github/workflows/release.yml@refs/tags/*</code>`,
		`<code class="identity"><mark><span class="vh">differs: </span>evil-fork</mark>/worker/.github/workflows/release.yml@refs/tags/v1</code>`,
		`href="` + origin + `/acme/gitops/pull/1"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("evaluation page lacks %s", want)
		}
	}
}
