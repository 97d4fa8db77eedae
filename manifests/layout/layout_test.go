package layout

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"

// TestScanOrderAndUses: the lists come in the sequential walk's order
// (directories before what they hold, plain directories after theirs,
// "a-b" before "a/…" as the listing sorts names), whatever order the
// parallel listing finished in; and two kustomizations with one content
// (one parse, by content hash) each load from their own directory.
func TestScanOrderAndUses(t *testing.T) {
	kust := "resources: [../base]\n"
	dir := writeTree(t, map[string]string{
		"a/x.yaml":                    deployment,
		"a/b/y.yaml":                  deployment,
		"a-b/z.yaml":                  deployment,
		"env/one/kustomization.yaml":  kust,
		"env/two/kustomization.yaml":  kust,
		"env/base/kustomization.yaml": "resources: [d.yaml]\n",
		"env/base/d.yaml":             deployment,
		"chart/Chart.yaml":            "name: c\n",
		"chart/templates/app.yaml":    "kind: Application\n",
		"apps/root.yaml":              "apiVersion: argoproj.io/v1alpha1\nkind: Application\n",
		"lib/main.jsonnet":            "{}\n",
		".hidden/secret.yaml":         deployment,
	})
	for i := 0; i < 20; i++ {
		var mu sync.Mutex
		var listed []string
		lay, err := Scan(context.Background(), dir, Options{Concurrency: 4, ReadFile: os.ReadFile,
			Rel:    func(p string) string { r, _ := filepath.Rel(dir, p); return filepath.ToSlash(r) },
			Listed: func(d string, _ []os.DirEntry) { mu.Lock(); listed = append(listed, d); mu.Unlock() }})
		if err != nil {
			t.Fatal(err)
		}
		rel := func(ps []string) []string {
			var out []string
			for _, p := range ps {
				r, _ := filepath.Rel(dir, p)
				out = append(out, filepath.ToSlash(r))
			}
			return out
		}
		if got, want := rel(lay.PlainDirs), []string{"a/b", "a", "a-b", "apps"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("plain directories %v, want %v", got, want)
		}
		if got, want := rel(lay.Kustomizations), []string{"env/base", "env/one", "env/two"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("kustomizations %v, want %v", got, want)
		}
		if got := rel(lay.Charts); !reflect.DeepEqual(got, []string{"chart"}) || !lay.MentionsApplication["chart"] {
			t.Fatalf("charts %v, mentions %v", got, lay.MentionsApplication)
		}
		if got := rel(lay.JsonnetDirs); !reflect.DeepEqual(got, []string{"lib"}) {
			t.Fatalf("jsonnet %v", got)
		}
		if got := rel(lay.ApplicationFiles); !reflect.DeepEqual(got, []string{"apps/root.yaml"}) {
			t.Fatalf("application files %v", got)
		}
		if !lay.UsedByKustomize[filepath.Join(dir, "env", "base")] || !lay.UsedByKustomize[filepath.Join(dir, "env", "base")+string(filepath.Separator)+"*"] {
			t.Fatalf("uses %v", lay.UsedByKustomize)
		}
		for _, l := range listed {
			if strings.Contains(l, ".hidden") {
				t.Fatalf("a hidden directory was listed: %s", l)
			}
		}
	}
}
