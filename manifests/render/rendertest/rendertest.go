// Package rendertest helps the renderers' tests: a checkout written to a
// temporary directory, seen through a tree.Tree that records every file
// read, so a test can show that a renderer reads only through its Tree.
package rendertest

import (
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/gitops-gate/gitops-gate/manifests/tree"
)

// Recorder is a tree.Tree that records the repository-relative paths read
// through it.
type Recorder struct {
	tree.Tree
	mu    sync.Mutex
	reads map[string]bool
}

// ReadFile reads through the wrapped Tree and records the path.
func (r *Recorder) ReadFile(abs string) ([]byte, error) {
	r.mu.Lock()
	r.reads[r.Rel(abs)] = true
	r.mu.Unlock()
	return r.Tree.ReadFile(abs)
}

// Reads are the paths read so far, sorted.
func (r *Recorder) Reads() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for p := range r.reads {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Tree writes files (repository-relative path -> content) to a temporary
// directory and returns its recording Tree.
func Tree(t *testing.T, files map[string]string) *Recorder {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &Recorder{Tree: tree.New(dir, 1<<20), reads: map[string]bool{}}
}
