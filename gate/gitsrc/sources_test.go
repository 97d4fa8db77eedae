package gitsrc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// TestSourcesMirrorAndCredentials: an allowed repository with a mirror is
// fetched from the mirror, with the credentials of its entry, sent to the
// mirror only; a repository without an entry gets no credentials, and the
// Application still names the repository it asked for.
func TestSourcesMirrorAndCredentials(t *testing.T) {
	root, mainSHA, _ := makeRepo(t)
	runGit(t, filepath.Join(root, "acme", "gitops.git"), "symbolic-ref", "HEAD", "refs/heads/main")
	var mu sync.Mutex
	var seen []string
	git := gitHandler(t, root)
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/private/") {
			if !ok || u != "gate" || p != "s3cret" {
				w.Header().Set("WWW-Authenticate", `Basic realm="mirror"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
			r.URL.Path = strings.TrimPrefix(r.URL.Path, "/private")
		}
		git.ServeHTTP(w, r)
	}))
	defer mirror.Close()
	f, err := New(Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	const orig = "https://git.example.invalid/acme/gitops"
	s := &Sources{Fetcher: f, TmpRoot: t.TempDir(), Repositories: []Repository{
		{URL: orig + ".git", Mirror: mirror.URL + "/private/acme/gitops.git", Username: "gate", Password: "s3cret"},
	}}
	defer s.Close()
	dir, commit, err := s.FetchGit(context.Background(), orig, "main")
	if err != nil {
		t.Fatal(err)
	}
	if commit != mainSHA {
		t.Errorf("commit %s, want %s", commit, mainSHA)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "apps/web/deploy.yaml")); string(b) != "image: web:v1\n" {
		t.Errorf("file %q", b)
	}
	// Without the entry's credentials the mirror refuses.
	bare := &Sources{Fetcher: f, TmpRoot: t.TempDir(), Repositories: []Repository{{URL: orig, Mirror: mirror.URL + "/private/acme/gitops.git"}}}
	defer bare.Close()
	if _, _, err := bare.FetchGit(context.Background(), orig, "main"); err == nil {
		t.Error("fetched from the private mirror without credentials")
	}
	// A repository without an entry is fetched as named, with nothing sent.
	mu.Lock()
	seen = nil
	mu.Unlock()
	if _, _, err := s.FetchGit(context.Background(), mirror.URL+"/acme/gitops.git", "main"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, a := range seen {
		if a != "" {
			t.Errorf("credentials sent for a repository without an entry: %q", a)
		}
	}
}

func TestSameRepo(t *testing.T) {
	for _, pair := range [][2]string{
		{"https://github.com/Acme/X.git", "http://github.com/acme/x/"},
		{"https://user@github.com/acme/x", "github.com/acme/x"},
	} {
		if sameRepo(pair[0]) != sameRepo(pair[1]) {
			t.Errorf("%q and %q differ: %q, %q", pair[0], pair[1], sameRepo(pair[0]), sameRepo(pair[1]))
		}
	}
	if sameRepo("https://github.com/acme/x") == sameRepo("https://github.com/acme/xy") {
		t.Error("different repositories compare equal")
	}
}
