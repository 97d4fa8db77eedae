package gitsrc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// benchRepo is a monorepo like the issue 19 benchmark's: 90 Kustomize
// bases and 4,500 overlays on them (4,680 files), packed by git gc, and a
// second commit that changes one overlay.
func benchRepo(b *testing.B) (repo *gogit.Repository, base, change *object.Commit) {
	b.Helper()
	work := b.TempDir()
	git := func(args ...string) string {
		b.Helper()
		return runGit(b, work, args...)
	}
	git("init", "-q", "-b", "main")
	git("config", "gc.auto", "0") // one gc, below, when every object is there
	write := func(rel, content string) {
		full := filepath.Join(work, rel)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 90; i++ {
		write(fmt.Sprintf("bases/base-%d/kustomization.yaml", i), "resources:\n- deployment.yaml\n")
		write(fmt.Sprintf("bases/base-%d/deployment.yaml", i), fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      containers:
      - name: app
        image: registry.example/team/base-%d:v1
`, i))
	}
	overlay := func(j int, tag string) string {
		return fmt.Sprintf("resources:\n- ../../bases/base-%d\nnamePrefix: app-%d-\nimages:\n- name: registry.example/team/base-%d\n  newTag: %s\n", j%90, j, j%90, tag)
	}
	for j := 0; j < 4500; j++ {
		write(fmt.Sprintf("overlays/app-%d/kustomization.yaml", j), overlay(j, "v1"))
	}
	git("add", "-A")
	git("commit", "-q", "-m", "base")
	write("overlays/app-1234/kustomization.yaml", overlay(1234, "v2"))
	git("commit", "-q", "-am", "one overlay")
	git("gc", "-q")
	repo, err := gogit.PlainOpen(work)
	if err != nil {
		b.Fatal(err)
	}
	head, _ := repo.Head()
	change, err = repo.CommitObject(head.Hash())
	if err != nil {
		b.Fatal(err)
	}
	base, err = repo.CommitObject(change.ParentHashes[0])
	if err != nil {
		b.Fatal(err)
	}
	return repo, base, change
}

// BenchmarkCheckout compares, per evaluation (checkout and cleanup), a
// whole checkout of the changed commit with an idle worktree brought to it
// from its parent and back: what the service pays for a one-overlay PR on
// a 4,590-app repository. The cleanup of a whole checkout deletes it; that
// of an updated one compares it with its snapshot.
//
//	go test -run '^$' -bench BenchmarkCheckout -benchtime 20x ./gate/gitsrc/
func BenchmarkCheckout(b *testing.B) {
	repo, base, change := benchRepo(b)
	ctx := context.Background()
	b.Run("whole", func(b *testing.B) {
		f, _ := New(Options{CacheDir: b.TempDir()})
		tmp := b.TempDir()
		var m split
		for i := 0; i < b.N; i++ {
			m.run(b, func() (func(), error) {
				_, cleanup, err := f.checkout(ctx, repo, "cache", change, tmp)
				return cleanup, err
			})
		}
		m.report(b)
	})
	// What the service pays when no checkout is idle: the whole checkout,
	// then the checks that let it be kept (its tree plain, its snapshot).
	b.Run("whole-kept", func(b *testing.B) {
		tmp := b.TempDir()
		var m split
		for i := 0; i < b.N; i++ {
			f, _ := New(Options{CacheDir: b.TempDir(), IdleWorktrees: 1})
			m.run(b, func() (func(), error) {
				_, cleanup, err := f.checkout(ctx, repo, "cache", change, tmp)
				return cleanup, err
			})
			f.Close()
		}
		m.report(b)
	})
	b.Run("incremental", func(b *testing.B) {
		f, _ := New(Options{CacheDir: b.TempDir(), IdleWorktrees: 1})
		defer f.Close()
		tmp := b.TempDir()
		_, cleanup, err := f.checkout(ctx, repo, "cache", base, tmp)
		if err != nil {
			b.Fatal(err)
		}
		cleanup()
		b.ResetTimer()
		var m split
		for i := 0; i < b.N; i++ {
			c := change
			if i%2 == 1 {
				c = base
			}
			m.run(b, func() (func(), error) {
				_, cleanup, err := f.checkout(ctx, repo, "cache", c, tmp)
				return cleanup, err
			})
		}
		b.StopTimer()
		m.report(b)
		if f.pool.applied.Load() != int64(b.N) {
			b.Fatalf("%d of %d checkouts were updates", f.pool.applied.Load(), b.N)
		}
	})
}

// split times a checkout and its cleanup apart: the cleanup is where a
// whole checkout is deleted and a worktree compared with its snapshot.
type split struct{ checkout, cleanup time.Duration }

func (m *split) run(b *testing.B, checkout func() (func(), error)) {
	start := time.Now()
	cleanup, err := checkout()
	if err != nil {
		b.Fatal(err)
	}
	mid := time.Now()
	cleanup()
	m.checkout += mid.Sub(start)
	m.cleanup += time.Since(mid)
}

func (m *split) report(b *testing.B) {
	b.ReportMetric(float64(m.checkout.Milliseconds())/float64(b.N), "checkout-ms/op")
	b.ReportMetric(float64(m.cleanup.Milliseconds())/float64(b.N), "cleanup-ms/op")
}
