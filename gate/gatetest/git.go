package gatetest

import (
	"fmt"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// GitServer serves bare repositories over HTTP with git's own
// http-backend on loopback, as GitHub serves them.
type GitServer struct {
	Server *httptest.Server
	Root   string
	t      testing.TB
}

// NewGitServer starts a git server for one test.
func NewGitServer(t testing.TB) *GitServer {
	t.Helper()
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git is needed for the git server: %v", err)
	}
	root := t.TempDir()
	srv := httptest.NewServer(&cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	})
	t.Cleanup(srv.Close)
	return &GitServer{Server: srv, Root: root, t: t}
}

// Repo is a repository being built: a work tree whose commits are pushed
// to the server's bare repository.
type Repo struct {
	s    *GitServer
	Name string // owner/name
	work string
	bare string
}

// NewRepo creates owner/name on the server with an empty main branch.
func (s *GitServer) NewRepo(name string) *Repo {
	s.t.Helper()
	r := &Repo{s: s, Name: name, work: s.t.TempDir(), bare: filepath.Join(s.Root, name+".git")}
	r.git(r.work, "init", "-q", "-b", "main")
	os.MkdirAll(filepath.Dir(r.bare), 0o755)
	r.git(s.Root, "init", "-q", "--bare", r.bare)
	return r
}

// CloneURL is the repository's HTTP URL.
func (r *Repo) CloneURL() string { return r.s.Server.URL + "/" + r.Name + ".git" }

// Commit writes files (path -> content; empty content deletes), commits
// them and returns the commit SHA. It does not move any server ref.
func (r *Repo) Commit(message string, files map[string]string) string {
	r.s.t.Helper()
	for p, c := range files {
		full := filepath.Join(r.work, filepath.FromSlash(p))
		if c == "" {
			os.Remove(full)
			continue
		}
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			r.s.t.Fatal(err)
		}
	}
	r.git(r.work, "add", "-A")
	r.git(r.work, "commit", "-q", "--allow-empty", "-m", message)
	sha := r.git(r.work, "rev-parse", "HEAD")
	// Make the commit available on the server under a private ref.
	r.git(r.work, "push", "-q", "-f", r.bare, "HEAD:refs/gitops-gate-test/"+sha)
	return sha
}

// CommitChain makes n empty commits on top of the work tree's HEAD, each a
// child of the one before, publishes them in one push and returns their
// SHAs in order. It is the fast way to get hundreds of distinct commits.
func (r *Repo) CommitChain(prefix string, n int) []string {
	r.s.t.Helper()
	shas := make([]string, n)
	for i := range shas {
		r.git(r.work, "commit", "-q", "--allow-empty", "-m", fmt.Sprintf("%s %d", prefix, i))
	}
	out := r.git(r.work, "rev-list", "--reverse", fmt.Sprintf("HEAD~%d..HEAD", n))
	copy(shas, strings.Fields(out))
	r.git(r.work, "push", "-q", "-f", r.bare, "HEAD:refs/gitops-gate-test/chain-"+shas[n-1])
	return shas
}

// Symlink makes path a symbolic link to target in the work tree; the next
// Commit records it.
func (r *Repo) Symlink(path, target string) {
	r.s.t.Helper()
	full := filepath.Join(r.work, filepath.FromSlash(path))
	os.MkdirAll(filepath.Dir(full), 0o755)
	os.Remove(full)
	if err := os.Symlink(target, full); err != nil {
		r.s.t.Fatal(err)
	}
}

// WriteLarge writes a file of size zero bytes into the work tree without
// holding it in memory; the next Commit records it.
func (r *Repo) WriteLarge(path string, size int64) {
	r.s.t.Helper()
	full := filepath.Join(r.work, filepath.FromSlash(path))
	os.MkdirAll(filepath.Dir(full), 0o755)
	f, err := os.Create(full)
	if err != nil {
		r.s.t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		r.s.t.Fatal(err)
	}
}

// SetRefs points many server refs at once (ref -> sha).
func (r *Repo) SetRefs(refs map[string]string) {
	r.s.t.Helper()
	var b strings.Builder
	for ref, sha := range refs {
		fmt.Fprintf(&b, "update %s %s\n", ref, sha)
	}
	cmd := exec.Command("git", "update-ref", "--stdin")
	cmd.Dir = r.bare
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		r.s.t.Fatalf("git update-ref --stdin: %v\n%s", err, out)
	}
}

// SetRef points a server ref (refs/heads/main, refs/pull/1/head) at sha.
func (r *Repo) SetRef(ref, sha string) {
	r.s.t.Helper()
	r.git(r.bare, "update-ref", ref, sha)
}

func (r *Repo) git(dir string, args ...string) string {
	r.s.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=gitops-gate", "GIT_AUTHOR_EMAIL=test@gitops-gate.invalid",
		"GIT_COMMITTER_NAME=gitops-gate", "GIT_COMMITTER_EMAIL=test@gitops-gate.invalid")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.s.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}
