// Package storetest is the conformance suite every Store implementation
// passes: deduplication, atomic intake, supersession, leases and their
// expiry, status ordering, retries, queries and retention.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/gate/store"
)

// Run runs the suite against stores made by open (a fresh, empty store each).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("DeduplicatesDeliveries", func(t *testing.T) { dedup(t, open(t)) })
	t.Run("Supersedes", func(t *testing.T) { supersede(t, open(t)) })
	t.Run("LeaseExpiryAndLostLease", func(t *testing.T) { leases(t, open(t)) })
	t.Run("StatusesInOrder", func(t *testing.T) { statusOrder(t, open(t)) })
	t.Run("CommentsInOrder", func(t *testing.T) { commentOrder(t, open(t)) })
	t.Run("RetryAndFail", func(t *testing.T) { retry(t, open(t)) })
	t.Run("FinishAndQuery", func(t *testing.T) { finish(t, open(t)) })
	t.Run("ConcurrentLeasesAreExclusive", func(t *testing.T) { concurrent(t, open(t)) })
	t.Run("Prune", func(t *testing.T) { prune(t, open(t)) })
	t.Run("StaleDeliveryNeverSupersedes", func(t *testing.T) { staleDelivery(t, open(t)) })
	t.Run("APINeverSupersedesNorIsSuperseded", func(t *testing.T) { apiAndWebhook(t, open(t)) })
	t.Run("ReplayedBodyIsDuplicate", func(t *testing.T) { replayedBody(t, open(t)) })
	t.Run("WebhookJobsFirst", func(t *testing.T) { webhookFirst(t, open(t)) })
	t.Run("QuotaPerRequester", func(t *testing.T) { quota(t, open(t)) })
	t.Run("Summaries", func(t *testing.T) { summaries(t, open(t)) })
	t.Run("BaseInventory", func(t *testing.T) { baseInventory(t, open(t)) })
	t.Run("CheckStepsInOrder", func(t *testing.T) { checkSteps(t, open(t)) })
}

// checkSteps: a check run's steps (create at intake, start once when the
// evaluation starts, complete and annotation batches at the end) run one
// at a time in order per commit and name; its ID is stored with the
// evaluation; a step that gives up leaves its evaluation alone; a comment
// asked for by a delivery is queued once.
func checkSteps(t *testing.T, s store.Store) {
	step := func(op string, batch int) func(string) []store.CheckRun {
		return func(id string) []store.CheckRun {
			return []store.CheckRun{{Repo: "acme/gitops", SHA: "c1", Name: "gitops-gate", EvaluationID: id, Op: op, Batch: batch}}
		}
	}
	id, _, err := s.Accept(ctx, store.Intake{DeliveryID: "c", Spec: spec(1, "c1"), Checks: step(store.CheckCreate, 0)})
	if err != nil {
		t.Fatal(err)
	}
	ev := mustLease(t, s, "w1")
	create := mustLease(t, s, "w2")
	if ev.Kind != store.JobEvaluate || create.Kind != store.JobCheck || create.Check.Op != store.CheckCreate || create.Check.EvaluationID != id {
		t.Fatalf("jobs %+v %+v", ev, create)
	}
	if err := s.Start(ctx, ev, "w1", step(store.CheckStart, 0)(id)...); err != nil {
		t.Fatal(err)
	}
	// A second Start (a job taken over) queues no second start step.
	if err := s.Start(ctx, ev, "w1", step(store.CheckStart, 0)(id)...); err != nil {
		t.Fatal(err)
	}
	final := append(step(store.CheckComplete, 0)(id), step(store.CheckAnnotate, 1)(id)...)
	if err := s.FinishEvaluation(ctx, ev, "w1", store.Finish{Result: "fail", Checks: final}); err != nil {
		t.Fatal(err)
	}
	if j, _ := s.Lease(ctx, "w3", time.Minute); j != nil {
		t.Fatalf("a step was leased while the create runs: %+v", j.Check)
	}
	if err := s.SetCheckRunID(ctx, id, 77); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, create, "w2"); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for {
		j, err := s.Lease(ctx, "w", time.Minute)
		if err != nil || j == nil {
			break
		}
		ops = append(ops, fmt.Sprintf("%s%d", j.Check.Op, j.Check.Batch))
		if j.Check.Op == store.CheckComplete {
			s.Fail(ctx, j, "w", "GitHub said no")
		} else {
			s.Complete(ctx, j, "w")
		}
	}
	if strings.Join(ops, ",") != "start0,complete0,annotate1" {
		t.Errorf("steps %v, want start0,complete0,annotate1", ops)
	}
	e, _ := s.Get(ctx, id)
	if e.CheckRunID != 77 || e.State != store.StateDone || e.Result != "fail" {
		t.Errorf("evaluation %+v: want check run 77, done, fail (a failed step leaves it alone)", e)
	}
	// A button press queues the evaluation's comment, once.
	for i := 0; i < 2; i++ {
		got, dup, err := s.Accept(ctx, store.Intake{DeliveryID: "press", Event: "check_run", Payload: []byte(`{"p":1}`), CommentFor: id, CommentKey: "acme/gitops#1"})
		if err != nil || got != id || dup != (i == 1) {
			t.Fatalf("press %d: %s %v %v", i, got, dup, err)
		}
	}
	c := mustLease(t, s, "w")
	if c.Kind != store.JobComment || c.EvaluationID != id {
		t.Fatalf("comment job %+v", c)
	}
	s.Fail(ctx, c, "w", "GitHub said no")
	if e, _ := s.Get(ctx, id); e.State != store.StateDone {
		t.Errorf("a failed comment failed its evaluation: %s", e.State)
	}
	if j, _ := s.Lease(ctx, "w", time.Minute); j != nil {
		t.Errorf("left over: %+v", j)
	}
}

var ctx = context.Background()

// prClock hands out pull_request.updated_at values in the order specs are
// made, as GitHub stamps a pull request's successive states.
var prClock = struct {
	sync.Mutex
	t time.Time
}{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}

func spec(pr int, sha string) *store.Spec {
	prClock.Lock()
	defer prClock.Unlock()
	prClock.t = prClock.t.Add(time.Second)
	return &store.Spec{Repo: "acme/gitops", PR: pr, SHA: sha, Ref: fmt.Sprintf("refs/pull/%d/head", pr), Trigger: "pull_request", PRUpdatedAt: prClock.t}
}

func pending(repo, sha string) func(string) []store.Status {
	return func(id string) []store.Status {
		return []store.Status{{Repo: repo, SHA: sha, State: "pending", Context: "gitops-gate", Description: "queued", TargetURL: "http://gate/evaluations/" + id}}
	}
}

func mustLease(t *testing.T, s store.Store, owner string) *store.Job {
	t.Helper()
	j, err := s.Lease(ctx, owner, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if j == nil {
		t.Fatal("no job to lease")
	}
	return j
}

func dedup(t *testing.T, s store.Store) {
	id1, dup, err := s.Accept(ctx, store.Intake{DeliveryID: "d-1", Event: "pull_request", Payload: []byte(`{}`), Spec: spec(1, "aaa"), Statuses: pending("acme/gitops", "aaa")})
	if err != nil || dup || id1 == "" {
		t.Fatalf("first: %q %v %v", id1, dup, err)
	}
	id2, dup, err := s.Accept(ctx, store.Intake{DeliveryID: "d-1", Event: "pull_request", Payload: []byte(`{}`), Spec: spec(1, "aaa"), Statuses: pending("acme/gitops", "aaa")})
	if err != nil || !dup || id2 != id1 {
		t.Fatalf("redelivery: %q %v %v, want duplicate of %q", id2, dup, err, id1)
	}
	_, total, err := s.List(ctx, store.Filter{})
	if err != nil || total != 1 {
		t.Fatalf("%d evaluations, want 1 (%v)", total, err)
	}
	depth, _ := s.QueueDepth(ctx)
	if depth[store.JobEvaluate] != 1 || depth[store.JobStatus] != 1 {
		t.Errorf("queue %v: want one evaluation and one pending status", depth)
	}
	// A delivery without a spec (ping) is recorded once too.
	if _, dup, err := s.Accept(ctx, store.Intake{DeliveryID: "ping-1", Event: "ping"}); err != nil || dup {
		t.Fatal(err)
	}
	if _, dup, _ := s.Accept(ctx, store.Intake{DeliveryID: "ping-1", Event: "ping"}); !dup {
		t.Error("ping redelivery not deduplicated")
	}
}

func supersede(t *testing.T, s store.Store) {
	superseded := func(old *store.Evaluation, newID string) []store.Status {
		return []store.Status{{Repo: old.Spec.Repo, SHA: old.Spec.SHA, State: "error", Context: "gitops-gate", Description: "superseded by " + newID}}
	}
	old, _, err := s.Accept(ctx, store.Intake{DeliveryID: "a", Spec: spec(7, "old"), Statuses: pending("acme/gitops", "old"), Superseded: superseded})
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := s.Accept(ctx, store.Intake{DeliveryID: "b", Spec: spec(8, "other"), Superseded: superseded})
	nw, _, err := s.Accept(ctx, store.Intake{DeliveryID: "c", Spec: spec(7, "new"), Statuses: pending("acme/gitops", "new"), Superseded: superseded})
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Get(ctx, old)
	if err != nil || e.State != store.StateSuperseded || e.SupersededBy != nw {
		t.Fatalf("old evaluation %+v %v", e, err)
	}
	if e, _ := s.Get(ctx, other); e.State != store.StateQueued {
		t.Errorf("another PR's evaluation is untouched: %s", e.State)
	}
	var evals []string
	var states []string
	for {
		j, err := s.Lease(ctx, "w", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if j == nil {
			break
		}
		if j.Kind == store.JobEvaluate {
			evals = append(evals, j.EvaluationID)
		} else {
			states = append(states, j.Status.SHA+":"+j.Status.State)
		}
		if err := s.Complete(ctx, j, "w"); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(evals) != fmt.Sprint([]string{other, nw}) {
		t.Errorf("evaluated %v, want %v (the superseded one skipped)", evals, []string{other, nw})
	}
	if fmt.Sprint(states) != "[old:pending old:error new:pending]" {
		t.Errorf("statuses %v", states)
	}
}

func leases(t *testing.T, s store.Store) {
	id, _, _ := s.Accept(ctx, store.Intake{DeliveryID: "x", Spec: spec(1, "s")})
	j, err := s.Lease(ctx, "crashed-worker", 50*time.Millisecond)
	if err != nil || j == nil || j.EvaluationID != id || j.Attempts != 1 {
		t.Fatalf("lease %+v %v", j, err)
	}
	if j2, _ := s.Lease(ctx, "other", time.Minute); j2 != nil {
		t.Fatalf("a leased job was handed out twice: %+v", j2)
	}
	time.Sleep(80 * time.Millisecond)
	j2, err := s.Lease(ctx, "rescuer", time.Minute)
	if err != nil || j2 == nil || j2.ID != j.ID || j2.Attempts != 2 {
		t.Fatalf("expired lease not taken over: %+v %v", j2, err)
	}
	if err := s.FinishEvaluation(ctx, j, "crashed-worker", store.Finish{Result: "pass"}); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("the old owner finished a job it lost: %v", err)
	}
	if err := s.Extend(ctx, j, "crashed-worker", time.Minute); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("the old owner extended a lease it lost: %v", err)
	}
	if err := s.Extend(ctx, j2, "rescuer", time.Minute); err != nil {
		t.Error(err)
	}
	if err := s.Start(ctx, j2, "rescuer"); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Get(ctx, id); e.State != store.StateRunning || e.StartedAt == nil {
		t.Errorf("started evaluation %+v", e)
	}
	if err := s.FinishEvaluation(ctx, j2, "rescuer", store.Finish{Result: "pass"}); err != nil {
		t.Fatal(err)
	}
}

func statusOrder(t *testing.T, s store.Store) {
	id, _, _ := s.Accept(ctx, store.Intake{DeliveryID: "d", Spec: spec(1, "sha1"), Statuses: pending("acme/gitops", "sha1")})
	ev := mustLease(t, s, "w1")
	if ev.Kind != store.JobEvaluate || ev.EvaluationID != id {
		t.Fatalf("first job %+v", ev)
	}
	pend := mustLease(t, s, "w2")
	if pend.Kind != store.JobStatus || pend.Status.State != "pending" {
		t.Fatalf("second job %+v", pend)
	}
	// The evaluation finishes while the pending status is still being posted.
	final := []store.Status{{Repo: "acme/gitops", SHA: "sha1", State: "failure", Context: "gitops-gate"}}
	if err := s.FinishEvaluation(ctx, ev, "w1", store.Finish{Result: "fail", Statuses: final}); err != nil {
		t.Fatal(err)
	}
	if j, _ := s.Lease(ctx, "w3", time.Minute); j != nil {
		t.Fatalf("the final status was leased before the pending one was done: %+v", j)
	}
	if err := s.Complete(ctx, pend, "w2"); err != nil {
		t.Fatal(err)
	}
	j := mustLease(t, s, "w3")
	if j.Status == nil || j.Status.State != "failure" {
		t.Fatalf("then the final status: %+v", j)
	}
}

// commentOrder: a finished evaluation queues its comment job with its ID;
// comment jobs of one pull request run one at a time, in order, while
// other pull requests' go ahead.
func commentOrder(t *testing.T, s store.Store) {
	var ids []string
	for _, c := range []struct {
		pr  int
		sha string
	}{{1, "a1"}, {2, "b1"}} {
		id, _, _ := s.Accept(ctx, store.Intake{Spec: spec(c.pr, c.sha)})
		ids = append(ids, id)
	}
	for i := range ids {
		ev := mustLease(t, s, "w")
		key := fmt.Sprintf("acme/gitops#%d", i+1)
		if err := s.FinishEvaluation(ctx, ev, "w", store.Finish{Result: "pass", CommentKey: key}); err != nil {
			t.Fatal(err)
		}
	}
	id3, _, _ := s.Accept(ctx, store.Intake{Spec: spec(1, "a2")})
	c1 := mustLease(t, s, "w1")
	c2 := mustLease(t, s, "w2")
	if c1.Kind != store.JobComment || c1.EvaluationID != ids[0] || c2.Kind != store.JobComment || c2.EvaluationID != ids[1] {
		t.Fatalf("comment jobs %+v %+v, want PR 1's first comment, then PR 2's", c1, c2)
	}
	// A newer commit of PR 1 finishes while its first comment is posted.
	ev := mustLease(t, s, "w")
	if ev.EvaluationID != id3 {
		t.Fatalf("job %+v, want the evaluation of the newer commit", ev)
	}
	if err := s.FinishEvaluation(ctx, ev, "w", store.Finish{Result: "pass", CommentKey: "acme/gitops#1"}); err != nil {
		t.Fatal(err)
	}
	if j, _ := s.Lease(ctx, "w3", time.Minute); j != nil {
		t.Fatalf("PR 1's second comment was leased while its first runs: %+v", j)
	}
	if err := s.Complete(ctx, c1, "w1"); err != nil {
		t.Fatal(err)
	}
	if j := mustLease(t, s, "w3"); j.Kind != store.JobComment || j.EvaluationID != id3 {
		t.Fatalf("then PR 1's second comment: %+v", j)
	}
}

func retry(t *testing.T, s store.Store) {
	s.Accept(ctx, store.Intake{Spec: spec(0, "r")})
	j := mustLease(t, s, "w")
	if err := s.Retry(ctx, j, "w", time.Now().Add(150*time.Millisecond), "registry down"); err != nil {
		t.Fatal(err)
	}
	if j2, _ := s.Lease(ctx, "w", time.Minute); j2 != nil {
		t.Fatal("a job was leased before its retry time")
	}
	time.Sleep(200 * time.Millisecond)
	j = mustLease(t, s, "w")
	if j.Attempts != 2 {
		t.Errorf("attempts %d", j.Attempts)
	}
	if err := s.Fail(ctx, j, "w", "gave up: registry down"); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Get(ctx, j.EvaluationID); e.State != store.StateFailed || e.Error != "gave up: registry down" {
		t.Errorf("failed evaluation %+v", e)
	}
}

func finish(t *testing.T, s store.Store) {
	id, _, _ := s.Accept(ctx, store.Intake{DeliveryID: "f", Spec: &store.Spec{Repo: "acme/gitops", PR: 3, PRTitle: "Bump api", SHA: "abc", Trigger: "pull_request"}})
	s.Accept(ctx, store.Intake{DeliveryID: "g", Spec: &store.Spec{Repo: "acme/other", SHA: "def", Trigger: "push"}})
	j := mustLease(t, s, "w")
	report := json.RawMessage(`{"result":"fail","apps":[]}`)
	err := s.FinishEvaluation(ctx, j, "w", store.Finish{Result: "fail", Summary: json.RawMessage(`{"images":2,"failed":1}`), Report: report,
		Images: []store.ImageRow{{App: "api", Image: "ghcr.io/acme/api:v1", Digest: "sha256:1", Status: "fail", Reason: "no signatures found"},
			{App: "web", Image: "ghcr.io/acme/web:v2", Digest: "sha256:2", Status: "pass"}}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Get(ctx, id)
	if err != nil || e.State != store.StateDone || e.Result != "fail" || string(e.Report) != string(report) || e.Spec.PRTitle != "Bump api" || e.FinishedAt == nil {
		t.Fatalf("get: %+v %v", e, err)
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	for _, c := range []struct {
		f    store.Filter
		want int
	}{
		{store.Filter{}, 2}, {store.Filter{Repo: "acme/gitops"}, 1}, {store.Filter{Result: "fail"}, 1},
		{store.Filter{PR: 3}, 1}, {store.Filter{Image: "acme/api"}, 1}, {store.Filter{Image: "nothing"}, 0},
		{store.Filter{Result: store.StateQueued}, 1}, {store.Filter{Image: "%"}, 0},
	} {
		list, total, err := s.List(ctx, c.f)
		if err != nil || total != c.want || len(list) != c.want {
			t.Errorf("filter %+v: %d (%d listed), want %d: %v", c.f, total, len(list), c.want, err)
		}
	}
	list, _, _ := s.List(ctx, store.Filter{})
	if list[0].Spec.Repo != "acme/other" {
		t.Errorf("newest first: %s", list[0].Spec.Repo)
	}
	h, err := s.ImageHistory(ctx, "ghcr.io/acme/api:v1", 10)
	if err != nil || len(h) != 1 || h[0].EvaluationID != id || h[0].Status != "fail" {
		t.Errorf("history %+v %v", h, err)
	}
	if h, _ := s.ImageHistory(ctx, "sha256:2", 10); len(h) != 1 || h[0].App != "web" {
		t.Errorf("history by digest %+v", h)
	}
}

func concurrent(t *testing.T, s store.Store) {
	const n = 40
	for i := 0; i < n; i++ {
		if _, _, err := s.Accept(ctx, store.Intake{DeliveryID: fmt.Sprintf("c-%d", i), Spec: spec(0, fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("w%d", w)
			for {
				j, err := s.Lease(ctx, owner, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if j == nil {
					return
				}
				mu.Lock()
				seen[j.ID]++
				mu.Unlock()
				if err := s.FinishEvaluation(ctx, j, owner, store.Finish{Result: "pass"}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d jobs leased, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("job %d leased %d times", id, c)
		}
	}
}

func prune(t *testing.T, s store.Store) {
	id, _, _ := s.Accept(ctx, store.Intake{DeliveryID: "p", Payload: []byte("x"), Spec: spec(0, "p")})
	j := mustLease(t, s, "w")
	s.FinishEvaluation(ctx, j, "w", store.Finish{Result: "pass", Images: []store.ImageRow{{App: "a", Image: "i", Status: "pass"}}})
	if n, err := s.Prune(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("pruned %d recent evaluations: %v", n, err)
	}
	if n, err := s.Prune(ctx, time.Now().Add(time.Second)); err != nil || n != 1 {
		t.Errorf("pruned %d, want 1: %v", n, err)
	}
	if _, err := s.Get(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("pruned evaluation still there: %v", err)
	}
	if _, dup, _ := s.Accept(ctx, store.Intake{DeliveryID: "p", Spec: spec(0, "p")}); !dup {
		t.Error("a pruned evaluation's delivery must still deduplicate")
	}
}

// drain leases and completes every runnable job, returning the evaluated
// IDs and the statuses as sha:state, in lease order.
func drain(t *testing.T, s store.Store) (evals, statuses []string) {
	t.Helper()
	for {
		j, err := s.Lease(ctx, "w", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if j == nil {
			return evals, statuses
		}
		if j.Kind == store.JobEvaluate {
			evals = append(evals, j.EvaluationID)
		} else if j.Status != nil {
			statuses = append(statuses, j.Status.SHA+":"+j.Status.State)
		}
		if err := s.Complete(ctx, j, "w"); err != nil {
			t.Fatal(err)
		}
	}
}

func supersededError(old *store.Evaluation, newID string) []store.Status {
	return []store.Status{{Repo: old.Spec.Repo, SHA: old.Spec.SHA, State: "error", Context: "gitops-gate", Description: "superseded by " + newID}}
}

// staleDelivery: a late (or replayed) delivery of an older head arrives
// after the current head's. It is recorded and evaluated, and the current
// head is neither superseded nor given an error status.
func staleDelivery(t *testing.T, s store.Store) {
	older := spec(7, "older") // stamped first: the older state of the PR
	head, _, err := s.Accept(ctx, store.Intake{DeliveryID: "head", Spec: spec(7, "head"), Statuses: pending("acme/gitops", "head"), Superseded: supersededError})
	if err != nil {
		t.Fatal(err)
	}
	stale, dup, err := s.Accept(ctx, store.Intake{DeliveryID: "stale", Spec: older, Statuses: pending("acme/gitops", "older"), Superseded: supersededError})
	if err != nil || dup {
		t.Fatalf("stale delivery: %v dup=%v, want it recorded", err, dup)
	}
	if e, _ := s.Get(ctx, head); e.State != store.StateQueued {
		t.Fatalf("the current head is %s after a stale delivery, want queued", e.State)
	}
	evals, statuses := drain(t, s)
	if fmt.Sprint(evals) != fmt.Sprint([]string{head, stale}) {
		t.Errorf("evaluated %v, want both %v", evals, []string{head, stale})
	}
	for _, st := range statuses {
		if st == "head:error" {
			t.Errorf("the current head got an error status: %v", statuses)
		}
	}
	// Without updated_at the order is unknown: nothing is superseded.
	a := spec(9, "a")
	a.PRUpdatedAt = time.Time{}
	ida, _, _ := s.Accept(ctx, store.Intake{DeliveryID: "no-time-a", Spec: a, Superseded: supersededError})
	b := spec(9, "b")
	b.PRUpdatedAt = time.Time{}
	s.Accept(ctx, store.Intake{DeliveryID: "no-time-b", Spec: b, Superseded: supersededError})
	if e, _ := s.Get(ctx, ida); e.State != store.StateQueued {
		t.Errorf("an evaluation without updated_at was superseded: %s", e.State)
	}
}

// apiAndWebhook: an API (or Argo CD) evaluation naming a pull request
// does not supersede its webhook evaluation, and is not superseded by a
// later webhook (which would post an error to a commit the API caller
// chose).
func apiAndWebhook(t *testing.T, s store.Store) {
	hook, _, _ := s.Accept(ctx, store.Intake{DeliveryID: "h1", Spec: spec(7, "real-head"), Statuses: pending("acme/gitops", "real-head"), Superseded: supersededError})
	for _, trigger := range []string{"api", "argocd"} {
		sp := spec(7, "chosen-"+trigger)
		sp.Trigger = trigger
		api, _, err := s.Accept(ctx, store.Intake{Spec: sp, Superseded: supersededError})
		if err != nil {
			t.Fatal(err)
		}
		if e, _ := s.Get(ctx, hook); e.State != store.StateQueued {
			t.Fatalf("a %s evaluation superseded the webhook's: %s", trigger, e.State)
		}
		hook2, _, _ := s.Accept(ctx, store.Intake{DeliveryID: "h-" + trigger, Spec: spec(7, "next-"+trigger), Superseded: supersededError})
		if e, _ := s.Get(ctx, api); e.State != store.StateQueued {
			t.Fatalf("a webhook superseded the %s evaluation: %s", trigger, e.State)
		}
		if e, _ := s.Get(ctx, hook); e.State != store.StateSuperseded || e.SupersededBy != hook2 {
			t.Fatalf("the webhook's older evaluation: %s by %s, want superseded by %s", e.State, e.SupersededBy, hook2)
		}
		hook = hook2
	}
	_, statuses := drain(t, s)
	for _, st := range statuses {
		if strings.HasPrefix(st, "chosen-") {
			t.Errorf("a status was queued for an API evaluation's commit: %v", statuses)
		}
	}
}

// replayedBody: the same signed body re-sent under a new delivery ID, or
// a second delivery asking for an evaluation that is still queued, queues
// nothing.
func replayedBody(t *testing.T, s store.Store) {
	body := []byte(`{"action":"synchronize","number":7}`)
	sp := spec(7, "abc")
	id1, dup, err := s.Accept(ctx, store.Intake{DeliveryID: "r-1", Event: "pull_request", Payload: body, Spec: sp})
	if err != nil || dup {
		t.Fatal(err, dup)
	}
	id2, dup, err := s.Accept(ctx, store.Intake{DeliveryID: "r-2", Event: "pull_request", Payload: body, Spec: sp})
	if err != nil || !dup || id2 != id1 {
		t.Fatalf("replay under a new ID: %q dup=%v %v, want a duplicate of %q", id2, dup, err, id1)
	}
	id3, dup, err := s.Accept(ctx, store.Intake{DeliveryID: "r-3", Event: "pull_request", Payload: []byte(`{"action":"reopened"}`), Spec: sp})
	if err != nil || !dup || id3 != id1 {
		t.Fatalf("same commit while queued: %q dup=%v %v, want a duplicate of %q", id3, dup, err, id1)
	}
	evals, _ := drain(t, s)
	if len(evals) != 1 {
		t.Errorf("%d evaluations run, want 1", len(evals))
	}
	// Replayed later, after the evaluation finished: still a duplicate.
	if _, dup, _ := s.Accept(ctx, store.Intake{DeliveryID: "r-4", Event: "pull_request", Payload: body, Spec: sp}); !dup {
		t.Error("a replay after the evaluation finished queued another")
	}
	// An API request for the same commit is not a delivery: it is queued.
	api := spec(7, "abc")
	api.Trigger = "api"
	if _, dup, _ := s.Accept(ctx, store.Intake{Spec: api}); dup {
		t.Error("an API request was taken for a duplicate delivery")
	}
}

// webhookFirst: API jobs queued first do not hold a webhook's evaluation
// and statuses back.
func webhookFirst(t *testing.T, s store.Store) {
	for i := range 5 {
		sp := spec(0, fmt.Sprintf("api-%d", i))
		sp.Trigger = "api"
		s.Accept(ctx, store.Intake{Spec: sp})
	}
	hook, _, _ := s.Accept(ctx, store.Intake{DeliveryID: "w", Spec: spec(3, "hook"), Statuses: pending("acme/gitops", "hook")})
	j := mustLease(t, s, "w")
	if j.Kind != store.JobEvaluate || j.EvaluationID != hook {
		t.Fatalf("first lease %+v, want the webhook's evaluation %s", j, hook)
	}
	if j := mustLease(t, s, "w"); j.Kind != store.JobStatus {
		t.Fatalf("second lease %+v, want the webhook's pending status", j)
	}
	if j := mustLease(t, s, "w"); j.Kind != store.JobEvaluate || j.EvaluationID == hook {
		t.Fatalf("third lease %+v, want an API evaluation", j)
	}
}

// quota: a requester may have quota evaluations queued or running.
func quota(t *testing.T, s store.Store) {
	api := func(who, sha string) store.Intake {
		sp := spec(0, sha)
		sp.Trigger, sp.Requester = "api", who
		return store.Intake{Spec: sp, Quota: 2}
	}
	for i := range 2 {
		if _, _, err := s.Accept(ctx, api("tok-a", fmt.Sprint("a", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Accept(ctx, api("tok-a", "a2")); !errors.Is(err, store.ErrQuota) {
		t.Fatalf("third queued evaluation: %v, want ErrQuota", err)
	}
	if _, total, _ := s.List(ctx, store.Filter{}); total != 2 {
		t.Errorf("%d evaluations recorded, want 2 (the refused one leaves nothing)", total)
	}
	if _, _, err := s.Accept(ctx, api("tok-b", "b0")); err != nil {
		t.Errorf("another requester: %v", err)
	}
	j := mustLease(t, s, "w")
	if err := s.FinishEvaluation(ctx, j, "w", store.Finish{Result: "pass"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Accept(ctx, api("tok-a", "a3")); err != nil {
		t.Errorf("after one finished: %v", err)
	}
}

// summaries: the last result per branch or pull request (superseded
// evaluations left out), the pass rate of finished evaluations, the images
// that failed in the most evaluations, and the bounds.
func summaries(t *testing.T, s store.Store) {
	start := time.Now().Add(-time.Minute)
	run := func(sp *store.Spec, result string, images ...store.ImageRow) string {
		t.Helper()
		id, _, err := s.Accept(ctx, store.Intake{DeliveryID: "s-" + sp.SHA, Spec: sp})
		if err != nil {
			t.Fatal(err)
		}
		if result == "" {
			return id // left queued
		}
		j := mustLease(t, s, "w")
		if j.EvaluationID != id {
			t.Fatalf("leased %s, want %s", j.EvaluationID, id)
		}
		if err := s.FinishEvaluation(ctx, j, "w", store.Finish{Result: result, Images: images}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	push := func(sha string) *store.Spec {
		return &store.Spec{Repo: "acme/gitops", SHA: sha, Ref: "refs/heads/main", Trigger: "push"}
	}
	worker := store.ImageRow{App: "worker", Image: "ghcr.io/acme/worker:v1", Status: "fail"}
	jobs := store.ImageRow{App: "jobs", Image: "ghcr.io/acme/jobs:v1", Status: "error"}
	api := store.ImageRow{App: "api", Image: "ghcr.io/acme/api:v1", Status: "pass"}
	workerAgain := worker
	workerAgain.App = "worker-2"
	run(spec(1, "a1"), "fail", worker, workerAgain, api)
	pr1 := run(spec(1, "a2"), "pass", api)
	pr2 := run(spec(2, "b1"), "fail", worker, jobs, api)
	run(push("m1"), "error", jobs)
	main := run(push("m2"), "pass", api)
	run(spec(3, "c1"), "")
	pr3 := run(spec(3, "c2"), "") // supersedes c1
	if j := mustLease(t, s, "w"); j.EvaluationID != pr3 {
		t.Fatalf("leased %s, want %s", j.EvaluationID, pr3) // and left queued
	}
	time.Sleep(5 * time.Millisecond)
	other := run(&store.Spec{Repo: "acme/other", PR: 9, SHA: "o1", Trigger: "pull_request"}, "pass", api)

	got, err := s.Summaries(ctx, store.SummaryOptions{Repo: "acme/gitops", Since: start})
	if err != nil || len(got) != 1 {
		t.Fatalf("summaries: %+v %v", got, err)
	}
	r := got[0]
	if r.Repo != "acme/gitops" || r.Finished != 5 || r.Passed != 2 || r.PassRate() != 40 {
		t.Errorf("pass rate: %d of %d (%d%%), want 2 of 5", r.Passed, r.Finished, r.PassRate())
	}
	var changes []string
	for _, c := range r.Changes {
		changes = append(changes, fmt.Sprintf("%s pr=%d ref=%s %s/%s", c.EvaluationID, c.PR, c.Ref, c.State, c.Result))
	}
	want := []string{pr3 + " pr=3 ref= queued/", main + " pr=0 ref=refs/heads/main done/pass", pr2 + " pr=2 ref= done/fail", pr1 + " pr=1 ref= done/pass"}
	if strings.Join(changes, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(changes, "\n"), strings.Join(want, "\n"))
	}
	if fmt.Sprint(r.FailingImages) != "[{ghcr.io/acme/jobs:v1 2} {ghcr.io/acme/worker:v1 2}]" {
		t.Errorf("failing images %v: an image counts once per evaluation", r.FailingImages)
	}

	// All repositories, the most recently evaluated first; bounds.
	got, err = s.Summaries(ctx, store.SummaryOptions{Since: start, Changes: 2, Images: 1})
	if err != nil || len(got) != 2 || got[0].Repo != "acme/other" || got[0].Changes[0].EvaluationID != other || got[1].Repo != "acme/gitops" {
		t.Fatalf("all repositories: %+v %v", got, err)
	}
	if len(got[1].Changes) != 2 || len(got[1].FailingImages) != 1 || got[1].FailingImages[0].Image != "ghcr.io/acme/jobs:v1" {
		t.Errorf("bounded: %+v", got[1])
	}
	if got, _ := s.Summaries(ctx, store.SummaryOptions{Since: start, Repos: 1}); len(got) != 1 || got[0].Repo != "acme/other" {
		t.Errorf("one repository: %+v", got)
	}
	// Nothing in the window: nothing to sum up.
	if got, err := s.Summaries(ctx, store.SummaryOptions{Since: time.Now().Add(time.Hour)}); err != nil || len(got) != 0 {
		t.Errorf("empty window: %+v %v", got, err)
	}
	if got, err := s.Summaries(ctx, store.SummaryOptions{Repo: "acme/none", Since: start}); err != nil || len(got) != 0 {
		t.Errorf("unknown repository: %+v %v", got, err)
	}
}

// baseInventory: inventories are kept with their evaluation and found by
// repository, fingerprint and preferred commit.
func baseInventory(t *testing.T, s store.Store) {
	if _, err := s.BaseInventory(ctx, "acme/gitops", "fp1", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("empty store: %v", err)
	}
	finishWith := func(sha, fp, data string) string {
		t.Helper()
		id, _, err := s.Accept(ctx, store.Intake{Spec: &store.Spec{Repo: "acme/gitops", SHA: sha, Trigger: "api"}})
		if err != nil {
			t.Fatal(err)
		}
		j := mustLease(t, s, "w")
		if j.EvaluationID != id {
			t.Fatalf("leased %s, want %s", j.EvaluationID, id)
		}
		var inv *store.Inventory
		if data != "" {
			inv = &store.Inventory{Fingerprint: fp, Data: []byte(data)}
		}
		if err := s.FinishEvaluation(ctx, j, "w", store.Finish{Result: "pass", Report: json.RawMessage(`{}`), Inventory: inv}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	a := finishWith("aaa", "fp1", "A\x00binary")
	b := finishWith("bbb", "fp1", "B")
	finishWith("ccc", "fp1", "") // no inventory kept
	d := finishWith("ddd", "fp2", "D")
	for _, c := range []struct {
		fp     string
		prefer []string
		want   string
	}{
		{"fp1", []string{"aaa"}, a},        // the preferred commit
		{"fp1", []string{"zzz", "aaa"}, a}, // any of them
		{"fp1", []string{"ccc"}, b},        // no inventory there: newest of the fingerprint
		{"fp1", nil, b},                    // newest of the fingerprint
		{"fp3", []string{"aaa"}, d},        // none of the fingerprint: newest, to say why not
	} {
		got, err := s.BaseInventory(ctx, "acme/gitops", c.fp, c.prefer)
		if err != nil || got.EvaluationID != c.want {
			t.Errorf("BaseInventory(%s, %v) = %+v, %v; want evaluation %s", c.fp, c.prefer, got, err, c.want)
		}
	}
	got, _ := s.BaseInventory(ctx, "acme/gitops", "fp1", []string{"aaa"})
	if got == nil || string(got.Data) != "A\x00binary" || got.SHA != "aaa" || got.Repo != "acme/gitops" || got.Fingerprint != "fp1" || got.CreatedAt.IsZero() {
		t.Errorf("stored inventory: %+v", got)
	}
	if _, err := s.BaseInventory(ctx, "acme/other", "fp1", nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another repository's inventory: %v", err)
	}
	// Pruning the evaluation prunes its inventory.
	if _, err := s.Prune(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.BaseInventory(ctx, "acme/gitops", "fp1", nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after prune: %+v, %v", got, err)
	}
}
