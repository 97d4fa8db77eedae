package manifests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// BenchmarkApplicationSet1000: one ApplicationSet whose git directories
// generator makes 1,000 Applications (one per directory, a Deployment
// each), expanded, rendered and extracted. Target (issue 18): under 3 s on
// a 2-core machine.
func BenchmarkApplicationSet1000(b *testing.B) {
	dir := b.TempDir()
	files := map[string]string{"argocd/appset.yaml": `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: fleet}
spec:
  goTemplate: true
  generators:
  - git:
      repoURL: https://github.com/example/fleet.git
      revision: HEAD
      directories: [{path: 'apps/*'}]
  template:
    metadata: {name: '{{.path.basename}}'}
    spec:
      project: default
      source: {repoURL: https://github.com/example/fleet.git, path: '{{.path.path}}'}
      destination: {server: https://kubernetes.default.svc, namespace: '{{.path.basename}}'}
`}
	for i := range 1000 {
		files[fmt.Sprintf("apps/app-%04d/deploy.yaml", i)] = fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: app-%04d}
spec:
  template:
    spec:
      containers:
      - {name: app, image: "registry.example/app-%04d:1.0"}
`, i, i)
	}
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		repo, err := Open(dir, Options{RepoURL: "https://github.com/example/fleet"})
		if err != nil {
			b.Fatal(err)
		}
		inv, _, err := repo.Scan(context.Background(), ScanOptions{})
		if err != nil {
			b.Fatal(err)
		}
		generated := 0
		for _, a := range inv.Apps {
			if a.GeneratedBy != nil && len(a.Images) == 1 && a.Error == "" {
				generated++
			}
		}
		if generated != 1000 {
			b.Fatalf("%d generated apps with one image, want 1000", generated)
		}
	}
}
