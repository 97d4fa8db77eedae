package manifests

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteFilesStaysInTheRepository: pin's write-back cannot be steered
// out of the checkout by what the checkout holds (issue 12.8). Each case
// used to write outside the repository (the old code wrote a fixed temporary
// name, ".<name>.gitops-gate", with os.WriteFile, following a symlink
// planted there, and resolved a symlinked target to its destination).
func TestWriteFilesStaysInTheRepository(t *testing.T) {
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	setup := func(t *testing.T) (string, *Repo) {
		t.Helper()
		if err := os.WriteFile(victim, []byte("untouched\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "apps"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "apps/web.yaml"), []byte("old\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		r, err := Open(root, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return root, r
	}
	victimUntouched := func(t *testing.T) {
		t.Helper()
		if b, _ := os.ReadFile(victim); string(b) != "untouched\n" {
			t.Errorf("the file outside the repository was written: %q", b)
		}
	}

	t.Run("symlink at the old temporary name", func(t *testing.T) {
		root, r := setup(t)
		if err := os.Symlink(victim, filepath.Join(root, "apps/.web.yaml.gitops-gate")); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteFiles(map[string][]byte{"apps/web.yaml": []byte("new\n")}); err != nil {
			t.Fatal(err)
		}
		victimUntouched(t)
		b, _ := os.ReadFile(filepath.Join(root, "apps/web.yaml"))
		st, _ := os.Stat(filepath.Join(root, "apps/web.yaml"))
		if string(b) != "new\n" || st.Mode().Perm() != 0o640 {
			t.Errorf("the legitimate write: %q %v", b, st.Mode())
		}
		left, _ := filepath.Glob(filepath.Join(root, "apps/.web.yaml.gitops-gate-*"))
		if len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
	t.Run("target is a symlink out of the repository", func(t *testing.T) {
		root, r := setup(t)
		os.Remove(filepath.Join(root, "apps/web.yaml"))
		os.Symlink(victim, filepath.Join(root, "apps/web.yaml"))
		err := r.WriteFiles(map[string][]byte{"apps/web.yaml": []byte("new\n")})
		if err == nil || !strings.Contains(err.Error(), "apps/web.yaml") {
			t.Errorf("want a refusal naming the file, got %v", err)
		}
		victimUntouched(t)
	})
	t.Run("target is a symlink inside the repository", func(t *testing.T) {
		root, r := setup(t)
		os.WriteFile(filepath.Join(root, "apps/real.yaml"), []byte("real\n"), 0o644)
		os.Remove(filepath.Join(root, "apps/web.yaml"))
		os.Symlink("real.yaml", filepath.Join(root, "apps/web.yaml"))
		if err := r.WriteFiles(map[string][]byte{"apps/web.yaml": []byte("new\n")}); err == nil || !strings.Contains(err.Error(), "symlink") {
			t.Errorf("want a refusal, got %v", err)
		}
	})
	t.Run("parent directory is a symlink out of the repository", func(t *testing.T) {
		root, r := setup(t)
		os.Symlink(outside, filepath.Join(root, "escape"))
		err := r.WriteFiles(map[string][]byte{"escape/victim": []byte("new\n")})
		if !errors.Is(err, ErrOutsideRepo) {
			t.Errorf("want ErrOutsideRepo, got %v", err)
		}
		victimUntouched(t)
	})
	t.Run("target is a directory", func(t *testing.T) {
		root, r := setup(t)
		os.Mkdir(filepath.Join(root, "apps/dir.yaml"), 0o755)
		if err := r.WriteFiles(map[string][]byte{"apps/dir.yaml": []byte("new\n")}); err == nil || !strings.Contains(err.Error(), "directory") {
			t.Errorf("want a refusal, got %v", err)
		}
	})
	t.Run("path climbing out", func(t *testing.T) {
		_, r := setup(t)
		if err := r.WriteFiles(map[string][]byte{"../victim": []byte("new\n")}); !errors.Is(err, ErrOutsideRepo) {
			t.Errorf("want ErrOutsideRepo, got %v", err)
		}
		victimUntouched(t)
	})
}
