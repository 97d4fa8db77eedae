package tree

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/manifests/model"
)

func newDir(t *testing.T, maxFileSize int64) (*Dir, string) {
	t.Helper()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return New(root, maxFileSize), root
}

// TestConfinement: a path that climbs out, a symlink that leads out and a
// file over the size limit are errors; a file inside is read (and cached).
func TestConfinement(t *testing.T) {
	d, root := newDir(t, 16)
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "big"), []byte(strings.Repeat("x", 17)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "ok.yaml"), []byte("a: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Abs("../../etc/passwd"); !errors.Is(err, model.ErrOutsideRepo) {
		t.Errorf("Abs(../../etc/passwd) = %v, want ErrOutsideRepo", err)
	}
	if _, err := d.ReadFile(filepath.Join(root, "link")); !errors.Is(err, model.ErrOutsideRepo) {
		t.Errorf("ReadFile(link out) = %v, want ErrOutsideRepo", err)
	}
	if _, err := d.ReadFile(filepath.Join(root, "big")); !errors.Is(err, model.ErrTooLarge) {
		t.Errorf("ReadFile(big) = %v, want ErrTooLarge", err)
	}
	p, err := d.Abs("ok.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if data, err := d.ReadFile(p); err != nil || string(data) != "a: 1\n" || d.Rel(p) != "ok.yaml" {
		t.Errorf("ReadFile(ok.yaml) = %q, %v (rel %q)", data, err, d.Rel(p))
	}
}

type recording struct {
	Tree
	got []string
}

func (r *recording) RecordDir(abs string)       { r.got = append(r.got, "dir "+abs) }
func (r *recording) RecordProbe(abs string)     { r.got = append(r.got, "probe "+abs) }
func (r *recording) RecordAlways(reason string) { r.got = append(r.got, "always "+reason) }

// TestRecorder: the Record functions reach a Tree that is a Recorder and
// do nothing for one that is not.
func TestRecorder(t *testing.T) {
	d, _ := newDir(t, 16)
	RecordDir(d, "/x") // a plain Dir records nothing, and does not panic
	rec := &recording{Tree: d}
	RecordDir(rec, "/a")
	RecordProbe(rec, "/b")
	RecordAlways(rec, "c")
	if got := strings.Join(rec.got, ","); got != "dir /a,probe /b,always c" {
		t.Errorf("recorded %q", got)
	}
}

// TestSymlinksStillResolved: opening without following a final symlink is
// only the fast path. A symlink inside the repository is still read, one
// leading out (as a file or through a directory) is still refused, and
// the listing's word on a directory outside the root is ignored.
func TestSymlinksStillResolved(t *testing.T) {
	d, root := newDir(t, 1<<10)
	outside, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range map[string]string{
		filepath.Join(outside, "secret.yaml"): "secret",
		filepath.Join(root, "real.yaml"):      "inside",
	} {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"in.yaml":  filepath.Join(root, "real.yaml"),
		"out.yaml": filepath.Join(outside, "secret.yaml"),
		"outdir":   outside,
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	d.Listed(root)
	d.Listed(outside) // not in the repository: ignored
	if data, err := d.ReadFile(filepath.Join(root, "in.yaml")); err != nil || string(data) != "inside" {
		t.Errorf("ReadFile(in.yaml, a symlink inside) = %q, %v", data, err)
	}
	for _, p := range []string{filepath.Join(root, "out.yaml"), filepath.Join(root, "outdir", "secret.yaml"), filepath.Join(outside, "secret.yaml")} {
		if data, err := d.ReadFile(p); !errors.Is(err, model.ErrOutsideRepo) && !strings.Contains(fmt.Sprint(err), "outside") {
			t.Errorf("ReadFile(%s) = %q, %v, want an outside-the-repository error", p, data, err)
		}
	}
}
