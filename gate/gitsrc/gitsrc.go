// Package gitsrc fetches the commit under review into a local directory.
//
// Each repository has a bare cache repository that is reused across
// evaluations, so fetches are incremental; exactly the pull request's head
// ref (refs/pull/N/head) or branch is fetched, and the commit's tree is
// written into a temporary directory of the caller's own: a fresh one, or
// an idle earlier checkout of the repository updated in place by the tree
// difference (worktree.go). Files are written from the object database
// directly, without go-git's worktree, so that concurrent checkouts of one
// repository share no state. Fetches are bounded in time (the context)
// and in bytes received; checkouts in bytes written. Authentication is a token (a GitHub App installation token or a
// configured one) sent as HTTP basic auth, and only to the configured
// GitHub's origin (scheme and host): a clone URL elsewhere is fetched
// without it, a redirect may not leave the origin, and only http(s) URLs
// are fetched at all (never a local path).
package gitsrc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// Options configure a Fetcher.
type Options struct {
	// CacheDir holds the bare cache repositories.
	CacheDir string
	// Timeout bounds one fetch (default 2m).
	Timeout time.Duration
	// MaxFetchBytes bounds what one fetch may download (default 1 GiB);
	// MaxCheckoutBytes what one checkout may write (default 512 MiB).
	MaxFetchBytes    int64
	MaxCheckoutBytes int64
	// PlaceholderOver is the size past which a file's content is not
	// written: a sparse file of the same size stands for it (default 16
	// MiB). It must not be below the largest file the renderer reads, which
	// refuses larger files from their size alone.
	PlaceholderOver int64
	// TokenOrigin is the only origin (scheme://host[:port]) a request's
	// token is sent to: the GitHub that issued it (default
	// https://github.com). A clone URL on any other origin, or on its
	// host over another scheme, is fetched without credentials.
	TokenOrigin string
	// IdleWorktrees is how many cleaned-up checkouts, over all
	// repositories, are kept to be brought to the next commit of their
	// repository by writing only what differs (see worktree.go). 0 keeps
	// none: every checkout is written whole and cleanup removes it.
	IdleWorktrees int
}

// Fetcher fetches and checks out commits. It is safe for concurrent use.
type Fetcher struct {
	o     Options
	mu    sync.Mutex
	locks map[string]*sync.Mutex
	pool  pool
}

var installOnce sync.Once

// New builds a Fetcher.
func New(o Options) (*Fetcher, error) {
	if o.CacheDir == "" {
		return nil, errors.New("gitsrc: a cache directory is required")
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.MaxFetchBytes <= 0 {
		o.MaxFetchBytes = 1 << 30
	}
	if o.MaxCheckoutBytes <= 0 {
		o.MaxCheckoutBytes = 512 << 20
	}
	if o.PlaceholderOver <= 0 {
		o.PlaceholderOver = defaultPlaceholderOver
	}
	if o.TokenOrigin == "" {
		o.TokenOrigin = "https://github.com"
	}
	o.TokenOrigin = strings.ToLower(strings.TrimRight(o.TokenOrigin, "/"))
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return nil, err
	}
	installOnce.Do(func() {
		// go-git's HTTP client is process-wide: every response it reads is
		// bounded by the first fetcher's limit.
		c := &http.Client{Transport: &limitedBody{next: http.DefaultTransport, max: o.MaxFetchBytes}, CheckRedirect: sameOrigin}
		client.InstallProtocol("https", githttp.NewClient(c))
		client.InstallProtocol("http", githttp.NewClient(c))
	})
	return &Fetcher{o: o, locks: map[string]*sync.Mutex{}, pool: pool{max: max(o.IdleWorktrees, 0)}}, nil
}

// Request names a commit to check out.
type Request struct {
	CloneURL string
	// Ref is fetched (refs/pull/7/head, refs/heads/main); empty fetches SHA
	// directly (the server must allow it).
	Ref string
	SHA string
	// Token authenticates (GitHub: an installation or personal token). It
	// is sent only to Options.TokenOrigin.
	Token string
	// Basic are credentials the gate's configuration gives for this clone
	// URL itself (an allowed source): sent to its origin only.
	Basic *BasicAuth
}

// BasicAuth is a username and password for HTTP basic authentication.
type BasicAuth struct {
	Username, Password string
}

// ErrTooLarge marks a fetch or checkout over its byte limit.
var ErrTooLarge = errors.New("repository too large")

// Checkout fetches the request's commit and writes its tree into a
// temporary directory under tmpRoot ("" for the system's): a new one, or,
// with Options.IdleWorktrees, an idle checkout of the same repository
// brought to the commit (worktree.go). The directory is the caller's alone
// and must not be written into; the caller must call cleanup, which
// removes it or keeps it for reuse.
func (f *Fetcher) Checkout(ctx context.Context, req Request, tmpRoot string) (dir string, cleanup func(), err error) {
	if req.SHA == "" || len(req.SHA) < 7 {
		return "", nil, fmt.Errorf("gitsrc: a commit SHA is required, got %q", req.SHA)
	}
	origin, err := httpOrigin(req.CloneURL)
	if err != nil {
		return "", nil, err
	}
	if origin != f.o.TokenOrigin {
		// The token belongs to one GitHub: never hand it to another host,
		// nor to that host over plain http.
		req.Token = ""
	}
	repo, cache, err := f.fetch(ctx, req)
	if err != nil {
		return "", nil, err
	}
	commit, err := repo.CommitObject(plumbing.NewHash(req.SHA))
	if err != nil {
		return "", nil, fmt.Errorf("commit %s not found in %s after fetching %s: %w", req.SHA, redact(req.CloneURL), req.Ref, err)
	}
	return f.checkout(ctx, repo, cache, commit, tmpRoot)
}

// checkout writes commit, from the cache repository at cache, into a
// directory under tmpRoot: an idle worktree of the same repository brought
// up to date when there is one, else a new one written whole.
func (f *Fetcher) checkout(ctx context.Context, repo *git.Repository, cache string, commit *object.Commit, tmpRoot string) (string, func(), error) {
	if tmpRoot != "" {
		if err := os.MkdirAll(tmpRoot, 0o755); err != nil {
			return "", nil, err
		}
	}
	key := cache + "\x00" + tmpRoot
	if wt, err := f.update(ctx, repo, key, commit); wt != nil || err != nil {
		if err != nil {
			return "", nil, fmt.Errorf("checking out %s: %w", commit.Hash, err)
		}
		return wt.dir, f.release(wt), nil
	}
	dir, err := os.MkdirTemp(tmpRoot, "gitops-gate-checkout-")
	if err != nil {
		return "", nil, err
	}
	total, err := writeTree(ctx, repo.Storer, commit, dir, f.o.MaxCheckoutBytes, f.o.PlaceholderOver)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("checking out %s: %w", commit.Hash, err)
	}
	f.pool.written.Add(1)
	return dir, f.release(f.adopt(ctx, repo, key, commit, dir, total)), nil
}

// auth is what the request authenticates with: the configured credentials
// of its clone URL, else the token.
func (req Request) auth() *githttp.BasicAuth {
	switch {
	case req.Basic != nil && req.Basic.Username != "":
		return &githttp.BasicAuth{Username: req.Basic.Username, Password: req.Basic.Password}
	case req.Token != "":
		return &githttp.BasicAuth{Username: "x-access-token", Password: req.Token}
	}
	return nil
}

func (f *Fetcher) lock(url string) *sync.Mutex {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.locks[url]
	if !ok {
		l = &sync.Mutex{}
		f.locks[url] = l
	}
	return l
}

// fetch brings the request's commit into the clone URL's cache repository
// and returns it with the cache's path.
func (f *Fetcher) fetch(ctx context.Context, req Request) (repo *git.Repository, path string, err error) {
	l := f.lock(req.CloneURL)
	l.Lock()
	defer l.Unlock()
	h := sha256.Sum256([]byte(req.CloneURL))
	path = filepath.Join(f.o.CacheDir, hex.EncodeToString(h[:12])+".git")
	repo, err = git.PlainOpen(path)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		repo, err = git.PlainInit(path, true)
	}
	if err != nil {
		return nil, "", fmt.Errorf("cache repository for %s: %w", redact(req.CloneURL), err)
	}
	if _, err := repo.Remote("origin"); errors.Is(err, git.ErrRemoteNotFound) {
		if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{req.CloneURL}}); err != nil {
			return nil, "", err
		}
	}
	// Already there (a re-evaluation, or an older commit of the branch).
	if _, err := repo.CommitObject(plumbing.NewHash(req.SHA)); err == nil {
		return repo, path, nil
	}
	src := req.Ref
	if src == "" {
		src = req.SHA
	}
	spec := config.RefSpec(fmt.Sprintf("+%s:refs/gitops-gate/%s", src, strings.TrimPrefix(strings.TrimPrefix(src, "refs/"), "/")))
	auth := req.auth()
	fctx, cancel := context.WithTimeout(ctx, f.o.Timeout)
	defer cancel()
	opts := &git.FetchOptions{RemoteName: "origin", RemoteURL: req.CloneURL, RefSpecs: []config.RefSpec{spec}, Tags: git.NoTags, Force: true}
	if auth != nil {
		opts.Auth = auth
	}
	err = repo.FetchContext(fctx, opts)
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return repo, path, nil
	case fctx.Err() != nil && ctx.Err() == nil:
		return nil, "", fmt.Errorf("fetching %s from %s: no result within %v", src, redact(req.CloneURL), f.o.Timeout)
	case errors.Is(err, ErrTooLarge):
		return nil, "", fmt.Errorf("fetching %s from %s: %w (limit %d bytes)", src, redact(req.CloneURL), ErrTooLarge, f.o.MaxFetchBytes)
	}
	return nil, "", fmt.Errorf("fetching %s from %s: %w", src, redact(req.CloneURL), err)
}

// defaultPlaceholderOver is the largest file whose content a checkout
// writes by default.
const defaultPlaceholderOver = 16 << 20

// writeTree writes the commit's files under dir, bounded in bytes, and
// returns the bytes the bound counts (every file's size, placeholders and
// symlinks included). s is the repository's object storage.
func writeTree(ctx context.Context, s storer.EncodedObjectStorer, c *object.Commit, dir string, max, placeholderOver int64) (int64, error) {
	tree, err := c.Tree()
	if err != nil {
		return 0, err
	}
	// Checked whole before anything is written: a tree naming a path
	// twice (a symlink "a" and a directory "a", or an entry "a/x") would
	// have the file written through the link, outside the checkout.
	want, err := checkTree(ctx, s, tree, 0)
	if err != nil {
		return 0, fmt.Errorf("commit %s: %w", c.Hash, err)
	}
	var written int64
	files := 0
	made := map[string]bool{".": true}
	err = tree.Files().ForEach(func(f *object.File) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		target, err := checkoutPath(dir, f.Name)
		if err != nil {
			return err
		}
		written += f.Size
		if written > max {
			return tooLarge(max)
		}
		if err := makeDirs(dir, path.Dir(f.Name), func(rel string) bool { ok := made[rel]; made[rel] = true; return ok }); err != nil {
			return err
		}
		files++
		return writeFile(f, target, placeholderOver)
	})
	if err != nil {
		return written, err
	}
	// go-git's tree walker ends without an error at a subtree it cannot
	// read (it returns io.EOF): the checkout would lack every file after
	// it, and the apps in them would go unjudged. checkTree read every
	// subtree the walker reads, by the same hashes; a walk that wrote
	// fewer files stopped early.
	if want != files {
		return written, fmt.Errorf("commit %s: %d of its %d files written: its tree could not be read whole", c.Hash, files, want)
	}
	return written, nil
}

// maxTreeDepth is go-git's own bound on nested trees.
const maxTreeDepth = 1024

// checkTree counts the files (blobs and symlinks) of t and its subtrees,
// as tree.Files() yields them (submodules are not files), reading each
// subtree by its hash as the walker does. It fails on a subtree it cannot
// read, and on a tree git fsck refuses as one whose paths are not
// distinct: a name with a slash (fullPathname) or a name twice
// (duplicateEntries), since either lets one path be both a symlink and a
// directory to write into.
func checkTree(ctx context.Context, s storer.EncodedObjectStorer, t *object.Tree, depth int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if depth > maxTreeDepth {
		return 0, fmt.Errorf("trees nested deeper than %d", maxTreeDepth)
	}
	n := 0
	names := make(map[string]bool, len(t.Entries))
	for _, e := range t.Entries {
		if strings.Contains(e.Name, "/") {
			return 0, fmt.Errorf("tree entry %q: a name with a slash", e.Name)
		}
		if names[e.Name] {
			return 0, fmt.Errorf("tree entry %q: named twice", e.Name)
		}
		names[e.Name] = true
		switch e.Mode {
		case filemode.Submodule:
		case filemode.Dir:
			sub, err := object.GetTree(s, e.Hash)
			if err != nil {
				return 0, fmt.Errorf("tree %s (%s): %w", e.Name, e.Hash, err)
			}
			k, err := checkTree(ctx, s, sub, depth+1)
			if err != nil {
				return 0, fmt.Errorf("%s/%w", e.Name, err)
			}
			n += k
		default:
			n++
		}
	}
	return n, nil
}

// makeDirs creates the directory rel (a slash path) of a checkout at dir
// and those above it, one level at a time. ours says whether the checkout
// already has a directory there (and notes that it will). Any other
// directory already there is an error: on a file system that folds names
// (case-insensitive, or normalising Unicode) it is another directory of
// the tree, "Apps" for "apps", and writing into it would merge the two
// into one listing that the cluster never sees.
func makeDirs(dir, rel string, ours func(string) bool) error {
	if rel == "." {
		return nil
	}
	if ours(rel) {
		return nil
	}
	if err := makeDirs(dir, path.Dir(rel), ours); err != nil {
		return err
	}
	err := os.Mkdir(filepath.Join(dir, filepath.FromSlash(rel)), 0o755)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("directory %s: the file system already has it under another name (it folds names the tree holds apart)", rel)
	}
	return err
}

// checkoutPath is where the tree entry name is written under dir.
func checkoutPath(dir, name string) (string, error) {
	target := filepath.Join(dir, filepath.FromSlash(name))
	if !strings.HasPrefix(target, dir+string(filepath.Separator)) {
		return "", fmt.Errorf("tree entry %q leads outside the checkout", name)
	}
	return target, nil
}

func tooLarge(max int64) error { return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max) }

// writeFile writes one file of a tree at target, which must not exist yet
// (O_EXCL: on a file system that folds names, "App.yaml" after "app.yaml"
// is an error, not the second overwriting the first): the one way both a
// whole checkout and an updated one write a file, so that they agree.
func writeFile(f *object.File, target string, placeholderOver int64) error {
	if f.Mode != filemode.Symlink && f.Size > placeholderOver {
		// Past what the renderer reads (its MaxFileSize): a sparse file of the same size lets it name the file and its
		// size without the gate ever reading the blob.
		out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		err = out.Truncate(f.Size)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		return err
	}
	r, err := f.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	if f.Mode == filemode.Symlink {
		link, err := io.ReadAll(io.LimitReader(r, 4096))
		if err != nil {
			return err
		}
		// Written as is: the renderer refuses links that leave the checkout.
		return os.Symlink(string(link), target)
	}
	mode := os.FileMode(0o644)
	if f.Mode == filemode.Executable {
		mode = 0o755
	}
	out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// httpOrigin is the origin of an http(s) clone URL; any other URL (a
// local path, file://, ssh) is refused.
func httpOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("clone URL %q: want an https URL", redact(raw))
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

// sameOrigin refuses a redirect that leaves the first request's origin:
// Go keeps the Authorization header across a redirect to the same host
// over http, and the token must stay on its origin.
func sameOrigin(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || !strings.EqualFold(req.URL.Host, first.Host) {
		return fmt.Errorf("redirect from %s://%s to %s://%s refused: it leaves the repository's origin", first.Scheme, first.Host, req.URL.Scheme, req.URL.Host)
	}
	return nil
}

// redact drops credentials from a URL for messages.
func redact(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + u[i+1:]
		}
	}
	return u
}

// limitedBody fails a response whose body passes max bytes.
type limitedBody struct {
	next http.RoundTripper
	max  int64
}

func (l *limitedBody) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &capped{ReadCloser: resp.Body, left: l.max}
	return resp, nil
}

type capped struct {
	io.ReadCloser
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.ReadCloser.Read(p)
	c.left -= int64(n)
	return n, err
}
