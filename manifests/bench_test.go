package manifests

import (
	"context"
	"testing"

	"github.com/gitops-gate/gitops-gate/manifests/internal/synthrepo"
)

// BenchmarkScanSynthetic500 renders and extracts 500 Kustomize overlay apps.
// Target (issue 2): under 1.5 s and 300 MB on a 2-core machine.
func BenchmarkScanSynthetic500(b *testing.B) {
	dir := b.TempDir()
	if _, err := synthrepo.WriteKustomizeApps(dir, 500); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		// A fresh Repo each time: its read cache must start cold, as in a real run.
		repo, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		inv, _, err := repo.Scan(context.Background(), ScanOptions{})
		if err != nil || len(inv.Apps) != 500 {
			b.Fatalf("scan: %v, %d apps", err, len(inv.Apps))
		}
	}
}

// BenchmarkScanCorpus renders Argo CD's example repository.
func BenchmarkScanCorpus(b *testing.B) {
	for b.Loop() {
		repo, err := Open(corpusDir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := repo.Scan(context.Background(), ScanOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
