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
	"github.com/go-git/go-git/v5/storage/memory"
)

// Sources checks out the Git sources of Argo CD Applications that the
// gate's configuration allows (manifests.SourceFetcher): it resolves an
// Application's targetRevision — a commit, a branch, a tag or HEAD — against
// the remote's refs as Argo CD does, and checks that commit out with the
// Fetcher's limits. No credentials are sent: a token belongs to its own
// host only. Close removes the checkouts; a Sources serves one evaluation.
type Sources struct {
	Fetcher *Fetcher
	// TmpRoot holds the checkouts ("" for the system's temporary directory).
	TmpRoot string

	mu       sync.Mutex
	cleanups []func()
}

var fullSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// FetchGit implements manifests.SourceFetcher.
func (s *Sources) FetchGit(ctx context.Context, repoURL, revision string) (dir, commit string, err error) {
	req := Request{CloneURL: repoURL}
	if fullSHA.MatchString(revision) {
		req.SHA = revision
	} else {
		if req.Ref, req.SHA, err = s.resolve(ctx, repoURL, revision); err != nil {
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
func (s *Sources) resolve(ctx context.Context, repoURL, revision string) (ref, sha string, err error) {
	if revision == "" {
		revision = "HEAD"
	}
	rem := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{repoURL}})
	lctx, cancel := context.WithTimeout(ctx, min(s.Fetcher.o.Timeout, time.Minute))
	defer cancel()
	refs, err := rem.ListContext(lctx, &git.ListOptions{PeelingOption: git.AppendPeeled})
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
