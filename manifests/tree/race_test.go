package tree

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/manifests/model"
)

// TestListedDirectorySwappedForSymlink: discovery lists apps/a as a
// directory; before the app renders, a local `check` racing the scan
// replaces apps/a with a symlink to a directory outside the checkout.
// Reading apps/a/secret.yaml must be refused: the listing said what the
// directory was, not what it is when the file is opened.
func TestListedDirectorySwappedForSymlink(t *testing.T) {
	bothOpens(t, testListedDirectorySwappedForSymlink)
}

func testListedDirectorySwappedForSymlink(t *testing.T, newDir func(*testing.T, int64) (*Dir, string)) {
	d, root := newDir(t, 1<<10)
	outside, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(root, "apps", "a")
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "ok.yaml"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.Listed(root)
	d.Listed(filepath.Join(root, "apps"))
	d.Listed(app)
	// The legitimate variant: the listed directory is still a directory.
	if data, err := d.ReadFile(filepath.Join(app, "ok.yaml")); err != nil || string(data) != "inside" {
		t.Fatalf("ReadFile(apps/a/ok.yaml) = %q, %v", data, err)
	}
	// The swap, of the app directory and, separately, of its parent.
	if err := os.RemoveAll(app); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, app); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(root, "other")
	if err := os.Symlink(outside, other); err != nil {
		t.Fatal(err)
	}
	d.Listed(other) // a listing made just before the swap
	for _, p := range []string{filepath.Join(app, "secret.yaml"), filepath.Join(other, "secret.yaml")} {
		data, err := d.ReadFile(p)
		if !errors.Is(err, model.ErrOutsideRepo) {
			t.Errorf("ReadFile(%s) = %q, %v, want %v", d.Rel(p), data, err, model.ErrOutsideRepo)
		}
	}
}

// TestSymlinksInsideStillRead: the confined open follows a symlink that
// stays in the repository, relative or absolute, at the last component or
// in the middle of the path, and refuses one that leaves it at any depth.
func TestSymlinksInsideStillRead(t *testing.T) { bothOpens(t, testSymlinksInsideStillRead) }

func testSymlinksInsideStillRead(t *testing.T, newDir func(*testing.T, int64) (*Dir, string)) {
	d, root := newDir(t, 1<<10)
	outside, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "base", "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "base", "deep", "f.yaml"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"rel":            "base",
		"abs":            filepath.Join(root, "base"),
		"base/up":        "..",
		"base/deep/file": "f.yaml",
		"base/deep/absf": filepath.Join(root, "base", "deep", "f.yaml"),
		"base/out":       outside,
		"base/deep/outf": filepath.Join(outside, "secret.yaml"),
		"base/deep/rout": "../../../" + filepath.Base(outside),
		"base/chain":     "../rel/deep/../out",
		"base/backin":    "../../" + filepath.Base(root) + "/base/deep", // out of the root by name, and back in
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	d.Listed(root)
	d.Listed(filepath.Join(root, "base"))
	d.Listed(filepath.Join(root, "base", "deep"))
	for _, rel := range []string{"rel/deep/f.yaml", "abs/deep/f.yaml", "base/up/base/deep/f.yaml", "base/deep/file", "base/deep/absf", "rel/deep/absf", "base/backin/f.yaml"} {
		if data, err := d.ReadFile(filepath.Join(root, filepath.FromSlash(rel))); err != nil || string(data) != "inside" {
			t.Errorf("ReadFile(%s) = %q, %v, want the file inside", rel, data, err)
		}
	}
	for _, rel := range []string{"base/out/secret.yaml", "rel/out/secret.yaml", "abs/out/secret.yaml", "base/deep/outf", "rel/deep/outf", "base/chain/secret.yaml"} {
		if data, err := d.ReadFile(filepath.Join(root, filepath.FromSlash(rel))); !errors.Is(err, model.ErrOutsideRepo) {
			t.Errorf("ReadFile(%s) = %q, %v, want %v", rel, data, err, model.ErrOutsideRepo)
		}
	}
	if data, err := d.ReadFile(filepath.Join(root, "base", "deep", "rout", "secret.yaml")); err == nil || strings.Contains(string(data), "secret") {
		t.Errorf("ReadFile(base/deep/rout/secret.yaml) = %q, %v, want an error", data, err)
	}
}

// bothOpens runs a test with the kernel's confined open (openat2, on
// Linux) and with os.Root's, which serves where openat2 is missing.
func bothOpens(t *testing.T, test func(*testing.T, func(*testing.T, int64) (*Dir, string))) {
	t.Run("openat2", func(t *testing.T) { test(t, newDir) })
	t.Run("os.Root", func(t *testing.T) {
		test(t, func(t *testing.T, max int64) (*Dir, string) {
			d, root := newDir(t, max)
			d.noBeneath.Store(true)
			return d, root
		})
	})
}
