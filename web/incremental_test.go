package web_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/store"
)

// TestIncrementalEvaluationEndToEnd: the second commit of a pull request
// renders only the app it changed, carries the other over from the first
// commit's stored inventory, says so in the verdict and on the page, and
// still judges every image; with incremental: false every app renders.
func TestIncrementalEvaluationEndToEnd(t *testing.T) {
	for _, off := range []bool{false, true} {
		extra := []string{}
		if off {
			extra = append(extra, "incremental: false")
		}
		g := newGate(t, extra...)
		api := g.image("acme/api:v1", true)
		worker := g.image("acme/worker:v1", true)
		worker2 := g.image("acme/worker:v2", true)
		sha1 := g.repo.Commit("two apps", map[string]string{
			"apps/api/deploy.yaml":    deployment("api", api),
			"apps/worker/deploy.yaml": deployment("worker", worker),
		})
		g.repo.SetRef("refs/pull/1/head", sha1)
		g.send("pull_request", "d1", g.payload("opened", 1, sha1), secret)
		g.waitFinal(sha1)
		sha2 := g.repo.Commit("bump the worker", map[string]string{"apps/worker/deploy.yaml": deployment("worker", worker2)})
		g.repo.SetRef("refs/pull/1/head", sha2)
		g.send("pull_request", "d2", g.payload("synchronize", 1, sha2), secret)
		if st := g.waitFinal(sha2); st[len(st)-1].State != "success" {
			t.Fatalf("statuses %+v", st)
		}
		evs, _, err := g.store.List(context.Background(), store.Filter{})
		if err != nil || len(evs) != 2 {
			t.Fatalf("evaluations %d, %v", len(evs), err)
		}
		first, second := evs[1], evs[0]
		ev, err := g.store.Get(context.Background(), second.ID)
		if err != nil {
			t.Fatal(err)
		}
		var rep gate.Report
		if err := json.Unmarshal(ev.Report, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Summary.Images != 2 || rep.Summary.Passed != 2 || rep.Rendering == nil {
			t.Fatalf("incremental: false = %v: report %+v, rendering %+v", off, rep.Summary, rep.Rendering)
		}
		page := get(t, g.srv.URL+"/evaluations/"+second.ID)
		if off {
			if rep.Rendering.Mode != gate.RenderFull || rep.Rendering.CarriedOver != 0 {
				t.Errorf("incremental: false: rendering %+v", rep.Rendering)
			}
			continue
		}
		if r := rep.Rendering; r.Mode != gate.RenderIncremental || r.Rendered != 1 || r.CarriedOver != 1 || r.Base != first.ID || r.BaseCommit != sha1 {
			t.Errorf("rendering %+v, want 1 rendered and 1 carried over from %s", r, first.ID)
		}
		for _, a := range rep.Apps {
			if a.CarriedOver != (a.Name == "apps/api") {
				t.Errorf("app %s carried over: %v", a.Name, a.CarriedOver)
			}
		}
		for _, want := range []string{"1 apps rendered, 1 carried over unchanged", "/evaluations/" + first.ID, "carried over</span>"} {
			if !strings.Contains(page, want) {
				t.Errorf("evaluation page lacks %q", want)
			}
		}
	}
}
