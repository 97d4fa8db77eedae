package service

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/gate/store"
)

// TestCommentJobWithoutGitHub: a comment job queued by a replica that had
// GitHub credentials is completed by one that has none, not crashed on.
func TestCommentJobWithoutGitHub(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "gate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, _, err := st.Accept(ctx, store.Intake{Spec: &store.Spec{Repo: "acme/gitops", PR: 1, SHA: "abc", Trigger: "pull_request"}}); err != nil {
		t.Fatal(err)
	}
	job, err := st.Lease(ctx, "other-replica", time.Minute)
	if err != nil || job == nil {
		t.Fatalf("lease: %v %v", job, err)
	}
	if err := st.FinishEvaluation(ctx, job, "other-replica", store.Finish{Result: "pass", Report: []byte(`{"result":"pass"}`), CommentKey: "acme/gitops#1"}); err != nil {
		t.Fatal(err)
	}
	cfg := loadYAML(t, "workers: 1\ndataDir: "+t.TempDir()+"\ndemo: false\n", "")
	svc, err := New(Options{Config: cfg, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		depth, err := st.QueueDepth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if depth[store.JobComment] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the comment job is still queued: %v", depth)
		}
	}
	cancel()
	<-done
}
