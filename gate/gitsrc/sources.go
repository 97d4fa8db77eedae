package gitsrc

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Sources checks out the Git sources of Argo CD Applications that the
// gate's configuration allows (manifests.SourceFetcher): it resolves an
// Application's targetRevision — a commit, a branch, a tag or HEAD — against
// the remote's refs as Argo CD does, and checks that commit out with the
// Fetcher's limits. The GitHub token is never sent: it belongs to the
// repository under review. A repository listed in Repositories is fetched
// from its mirror when it has one, with its own credentials, sent to that
// fetch URL's origin only. Close removes the checkouts; a Sources serves
// one evaluation.
type Sources struct {
	Fetcher *Fetcher
	// TmpRoot holds the checkouts ("" for the system's temporary directory).
	TmpRoot string
	// Repositories are the allowed repositories with a mirror or
	// credentials, from the gate's configuration.
	Repositories []Repository

	mu       sync.Mutex
	cleanups []func()
}

var fullSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Repository is an allowed Git repository as the configuration gives it.
type Repository struct {
	// URL is the repository as Applications name it.
	URL string
	// Mirror, when set, is where it is fetched from instead.
	Mirror string
	// Username and Password, when set, are sent to the origin of the URL
	// the repository is fetched from (the mirror when there is one).
	Username, Password string
}

// remote is the fetch URL and credentials of repoURL.
func (s *Sources) remote(repoURL string) (string, *BasicAuth) {
	want := sameRepo(repoURL)
	for _, r := range s.Repositories {
		if sameRepo(r.URL) != want {
			continue
		}
		u := repoURL
		if r.Mirror != "" {
			u = r.Mirror
		}
		if r.Username == "" {
			return u, nil
		}
		return u, &BasicAuth{Username: r.Username, Password: r.Password}
	}
	return repoURL, nil
}

// sameRepo compares repository URLs as Argo CD does: without scheme,
// credentials, ".git", trailing slash or case.
func sameRepo(raw string) string {
	s := strings.ToLower(strings.TrimSpace(raw))
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.LastIndex(s, "@"); i >= 0 && i < strings.IndexByte(s+"/", '/') {
		s = s[i+1:]
	}
	s = strings.TrimSuffix(strings.TrimSuffix(s, "/"), ".git")
	return strings.TrimSuffix(s, "/")
}

// FetchGit implements manifests.SourceFetcher.
func (s *Sources) FetchGit(ctx context.Context, repoURL, revision string) (dir, commit string, err error) {
	fetchURL, basic := s.remote(repoURL)
	req := Request{CloneURL: fetchURL, Basic: basic}
	if fullSHA.MatchString(revision) {
		req.SHA = revision
	} else {
		if req.Ref, req.SHA, err = s.resolve(ctx, fetchURL, revision, req.auth()); err != nil {
			return "", "", err
		}
	}
	dir, cleanup, err := s.Fetcher.Checkout(ctx, req, s.TmpRoot)
	if err != nil {
		return "", "", err
	}
	s.mu.Lock()
	s.cleanups = append(s.cleanups, cleanup)
	s.mu.Unlock()
	return dir, req.SHA, nil
}

// resolve finds the ref and commit a revision names on the remote: HEAD,
// a branch, then a tag (an annotated tag by the commit it points to), or a
// full ref name.
func (s *Sources) resolve(ctx context.Context, repoURL, revision string, auth *githttp.BasicAuth) (ref, sha string, err error) {
	if revision == "" {
		revision = "HEAD"
	}
	rem := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{repoURL}})
	lctx, cancel := context.WithTimeout(ctx, min(s.Fetcher.o.Timeout, time.Minute))
	defer cancel()
	lopts := &git.ListOptions{PeelingOption: git.AppendPeeled}
	if auth != nil {
		lopts.Auth = auth
	}
	refs, err := rem.ListContext(lctx, lopts)
	if err != nil {
		return "", "", fmt.Errorf("listing the refs of %s: %w", redact(repoURL), err)
	}
	byName := map[string]*plumbing.Reference{}
	for _, r := range refs {
		byName[r.Name().String()] = r
	}
	candidates := []string{revision, "refs/heads/" + revision, "refs/tags/" + revision}
	if strings.HasPrefix(revision, "refs/") || revision == "HEAD" {
		candidates = candidates[:1]
	}
	for _, name := range candidates {
		r, ok := byName[name]
		if !ok {
			continue
		}
		if r.Type() == plumbing.SymbolicReference {
			if r, ok = byName[r.Target().String()]; !ok {
				continue
			}
			name = r.Name().String()
		}
		if name == "HEAD" {
			// Fetch the branch HEAD points at: not every server lets a
			// client fetch HEAD by name.
			name = ""
			for n, b := range byName {
				if strings.HasPrefix(n, "refs/heads/") && b.Hash() == r.Hash() && (name == "" || n < name) {
					name = n
				}
			}
			return name, r.Hash().String(), nil
		}
		if peeled, ok := byName[name+"^{}"]; ok {
			return name, peeled.Hash().String(), nil
		}
		return name, r.Hash().String(), nil
	}
	return "", "", fmt.Errorf("revision %q is not a branch, tag or commit of %s", revision, redact(repoURL))
}

// Close removes every checkout this Sources made.
func (s *Sources) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.cleanups {
		c()
	}
	s.cleanups = nil
}
