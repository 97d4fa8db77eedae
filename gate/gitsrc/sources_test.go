package gitsrc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSourcesResolveRevisions: an allowed Application source names a
// revision as Argo CD accepts it (targetRevision: a commit, a branch, a tag
// or HEAD); the checkout is of the commit it resolves to, and Close removes
// every checkout.
func TestSourcesResolveRevisions(t *testing.T) {
	root, mainSHA, _ := makeRepo(t)
	bare := filepath.Join(root, "acme", "gitops.git")
	runGit(t, bare, "tag", "-a", "-m", "release", "v1", mainSHA)
	runGit(t, bare, "symbolic-ref", "HEAD", "refs/heads/main")
	srv := gitServer(t, root)
	f, err := New(Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s := &Sources{Fetcher: f, TmpRoot: t.TempDir()}
	url := srv.URL + "/acme/gitops.git"
	var dirs []string
	for _, rev := range []string{"main", "HEAD", "", "v1", "refs/heads/main", mainSHA} {
		dir, commit, err := s.FetchGit(context.Background(), url, rev)
		if err != nil {
			t.Fatalf("%q: %v", rev, err)
		}
		if commit != mainSHA {
			t.Errorf("%q resolved to %s, want %s", rev, commit, mainSHA)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "apps/web/deploy.yaml")); string(b) != "image: web:v1\n" {
			t.Errorf("%q: file %q", rev, b)
		}
		dirs = append(dirs, dir)
	}
	if _, _, err := s.FetchGit(context.Background(), url, "no-such-branch"); err == nil || !strings.Contains(err.Error(), "no-such-branch") {
		t.Errorf("unknown revision: %v", err)
	}
	s.Close()
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("Close left %s", d)
		}
	}
}
