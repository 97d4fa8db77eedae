package gitsrc

import (
	"context"
	"io/fs"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
)

// gitServer serves repositories under root with git's own http-backend on
// loopback, the way GitHub serves them over HTTPS.
func gitServer(t *testing.T, root string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(gitHandler(t, root))
	t.Cleanup(srv.Close)
	return srv
}

// gitHandler is git's http-backend serving the repositories under root.
func gitHandler(t *testing.T, root string) http.Handler {
	t.Helper()
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git is needed for the git server test: %v", err)
	}
	h := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	return h
}

func runGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// makeRepo builds acme/gitops.git with a main commit and a pull request
// (refs/pull/1/head) that changes a manifest and adds a symlink.
func makeRepo(t *testing.T) (root, mainSHA, prSHA string) {
	root = t.TempDir()
	work := t.TempDir()
	runGit(t, work, "init", "-q", "-b", "main")
	os.MkdirAll(filepath.Join(work, "apps/web"), 0o755)
	os.WriteFile(filepath.Join(work, "apps/web/deploy.yaml"), []byte("image: web:v1\n"), 0o644)
	runGit(t, work, "add", ".")
	runGit(t, work, "commit", "-q", "-m", "main")
	mainSHA = runGit(t, work, "rev-parse", "HEAD")
	runGit(t, work, "checkout", "-q", "-b", "feature")
	os.WriteFile(filepath.Join(work, "apps/web/deploy.yaml"), []byte("image: web:v2\n"), 0o644)
	os.Symlink("deploy.yaml", filepath.Join(work, "apps/web/link.yaml"))
	runGit(t, work, "add", ".")
	runGit(t, work, "commit", "-q", "-m", "bump")
	prSHA = runGit(t, work, "rev-parse", "HEAD")
	bare := filepath.Join(root, "acme", "gitops.git")
	os.MkdirAll(filepath.Dir(bare), 0o755)
	runGit(t, root, "clone", "-q", "--bare", work, bare)
	runGit(t, bare, "update-ref", "refs/pull/1/head", prSHA)
	runGit(t, bare, "update-ref", "-d", "refs/heads/feature")
	return root, mainSHA, prSHA
}

func TestCheckoutPullRequestHeadAndReuseCache(t *testing.T) {
	root, mainSHA, prSHA := makeRepo(t)
	srv := gitServer(t, root)
	f, err := New(Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	url := srv.URL + "/acme/gitops.git"
	dir, cleanup, err := f.Checkout(ctx, Request{CloneURL: url, Ref: "refs/pull/1/head", SHA: prSHA}, "")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "apps/web/deploy.yaml")); string(b) != "image: web:v2\n" {
		t.Errorf("checked-out file %q", b)
	}
	if l, err := os.Readlink(filepath.Join(dir, "apps/web/link.yaml")); err != nil || l != "deploy.yaml" {
		t.Errorf("symlink %q %v", l, err)
	}
	cleanup()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Error("cleanup left the checkout")
	}
	// main is an ancestor of the PR head: already in the cache, no fetch needed.
	dir, cleanup, err = f.Checkout(ctx, Request{CloneURL: "http://127.0.0.1:1/unreachable.git", Ref: "refs/heads/main", SHA: mainSHA}, "")
	if err == nil {
		cleanup()
		t.Error("a different URL must not reuse another repository's cache")
	}
	dir, cleanup, err = f.Checkout(ctx, Request{CloneURL: url, Ref: "refs/heads/main", SHA: mainSHA}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if b, _ := os.ReadFile(filepath.Join(dir, "apps/web/deploy.yaml")); string(b) != "image: web:v1\n" {
		t.Errorf("main file %q", b)
	}
}

func TestCheckoutErrors(t *testing.T) {
	root, _, prSHA := makeRepo(t)
	srv := gitServer(t, root)
	ctx := context.Background()
	f, _ := New(Options{CacheDir: t.TempDir()})
	if _, _, err := f.Checkout(ctx, Request{CloneURL: srv.URL + "/acme/gitops.git", Ref: "refs/pull/1/head", SHA: strings.Repeat("a", 40)}, ""); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("unknown SHA: %v", err)
	}
	if _, _, err := f.Checkout(ctx, Request{CloneURL: srv.URL + "/acme/missing.git", Ref: "refs/pull/1/head", SHA: prSHA}, ""); err == nil {
		t.Error("missing repository: want an error")
	}
	small, _ := New(Options{CacheDir: t.TempDir(), MaxCheckoutBytes: 5})
	if _, _, err := small.Checkout(ctx, Request{CloneURL: srv.URL + "/acme/gitops.git", Ref: "refs/pull/1/head", SHA: prSHA}, ""); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("checkout limit: %v", err)
	}
	if got := redact("https://x-access-token:secret@github.com/acme/gitops.git"); strings.Contains(got, "secret") {
		t.Errorf("redact: %s", got)
	}
}

// TestCheckoutPlaceholders: a file past PlaceholderOver is a sparse file of
// its size, so the renderer can name it without anyone reading the blob;
// files up to the limit are written whole.
func TestCheckoutPlaceholders(t *testing.T) {
	root, _, prSHA := makeRepo(t)
	srv := gitServer(t, root)
	f, _ := New(Options{CacheDir: t.TempDir(), PlaceholderOver: int64(len("image: web:v2\n")) - 1})
	dir, cleanup, err := f.Checkout(context.Background(), Request{CloneURL: srv.URL + "/acme/gitops.git", Ref: "refs/pull/1/head", SHA: prSHA}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if b, _ := os.ReadFile(filepath.Join(dir, "apps/web/deploy.yaml")); string(b) != strings.Repeat("\x00", len("image: web:v2\n")) {
		t.Errorf("file past the limit: %q, want zeros of its size", b)
	}
	if l, err := os.Readlink(filepath.Join(dir, "apps/web/link.yaml")); err != nil || l != "deploy.yaml" {
		t.Errorf("symlinks are kept: %q %v", l, err)
	}
}

// TestCheckoutOfATreeMissingASubtreeFails: go-git's walker stops without
// an error at a subtree it cannot read. A cache repository missing one
// (an interrupted fetch, a damaged object) must fail the checkout, not
// hand out a checkout without that directory and everything after it.
func TestCheckoutOfATreeMissingASubtreeFails(t *testing.T) {
	work := t.TempDir()
	runGit(t, work, "init", "-q", "-b", "main")
	for _, f := range []string{"a/app.yaml", "b/app.yaml", "c/app.yaml"} {
		if err := os.MkdirAll(filepath.Join(work, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, f), []byte("kind: ConfigMap\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runGit(t, work, "add", "-A")
	runGit(t, work, "commit", "-q", "-m", "three apps")
	sub := runGit(t, work, "rev-parse", "HEAD:b")
	if err := os.Remove(filepath.Join(work, ".git", "objects", sub[:2], sub[2:])); err != nil {
		t.Fatal(err) // loose, as nothing was packed
	}
	repo, err := git.PlainOpen(work)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := repo.Head()
	c, err := repo.CommitObject(head.Hash())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := writeTree(context.Background(), repo.Storer, c, dir, 1<<20, defaultPlaceholderOver); err == nil {
		var got []string
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, _ error) error {
			if !d.IsDir() {
				got = append(got, strings.TrimPrefix(p, dir+"/"))
			}
			return nil
		})
		t.Fatalf("checkout of a commit missing tree b succeeded with %v", got)
	} else if !strings.Contains(err.Error(), "b") {
		t.Errorf("error %q does not name the unreadable tree", err)
	}
}
