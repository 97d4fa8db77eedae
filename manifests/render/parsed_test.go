package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/manifests/tree"
)

type countingTree struct {
	tree.Tree
	reads int
}

func (c *countingTree) ReadFile(abs string) ([]byte, error) {
	c.reads++
	return c.Tree.ReadFile(abs)
}

// TestParsedSharesByContent: a file is decoded once for many readers, is
// still read through each reader's tree (so it is recorded as an input),
// is decoded again when its content differs, and past the byte bound is
// decoded every time, correctly.
func TestParsedSharesByContent(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "deploy.yaml")
	write := func(img string) {
		doc := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: a, image: " + img + "}\n"
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("one")
	var cache Parsed
	t1 := &countingTree{Tree: tree.New(dir, 1<<20)}
	a, err := cache.ReadManifests(t1, p, 0)
	if err != nil || len(a) != 1 {
		t.Fatalf("first read: %v, %d objects", err, len(a))
	}
	b, _ := cache.ReadManifests(t1, p, 0)
	if &a[0] != &b[0] {
		t.Error("the same content was decoded twice")
	}
	if t1.reads != 2 {
		t.Errorf("%d reads through the tree, want 2: each reader must still read (and record) the file", t1.reads)
	}
	// Another checkout (another tree) where the file says something else.
	write("two-and-longer")
	t2 := &countingTree{Tree: tree.New(dir, 1<<20)}
	c, _ := cache.ReadManifests(t2, p, 0)
	if len(c) != 1 || &c[0] == &a[0] || c[0].Node == nil {
		t.Fatalf("changed content: got the old objects back")
	}
	data, _ := t2.ReadFile(p)
	if !strings.Contains(string(data), "two") {
		t.Fatal("fixture")
	}
	if cache.bytes != int64(len(data)) {
		t.Errorf("%d bytes counted for one file of %d: a replaced entry's bytes were not taken back", cache.bytes, len(data))
	}
	// Past the bound nothing more is kept, and answers stay right.
	full := Parsed{bytes: maxParsedBytes}
	other := filepath.Join(dir, "other.yaml")
	if err := os.WriteFile(other, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res, err := full.ReadManifests(t2, other, 0); err != nil || len(res) != 1 || res[0].Kind != "ConfigMap" {
		t.Errorf("past the bound: %v, %+v", err, res)
	}
	if len(full.files) != 0 {
		t.Errorf("%d files kept past the bound", len(full.files))
	}
	// A nil cache decodes.
	var none *Parsed
	if res, err := none.ReadManifests(t2, p, 0); err != nil || len(res) != 1 {
		t.Errorf("nil cache: %v, %d", err, len(res))
	}
}
