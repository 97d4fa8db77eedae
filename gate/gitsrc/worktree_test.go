package gitsrc

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

var longWorktree = flag.Bool("long-worktree", false, "run the incremental-checkout property test over many more commits")

// localRepo is a git work repository read with go-git directly: the apply
// logic needs no server.
type localRepo struct {
	t    *testing.T
	work string
	repo *git.Repository
}

func newLocalRepo(t *testing.T) *localRepo {
	t.Helper()
	work := t.TempDir()
	runGit(t, work, "init", "-q", "-b", "main")
	runGit(t, work, "config", "core.symlinks", "true")
	repo, err := git.PlainOpen(work)
	if err != nil {
		t.Fatal(err)
	}
	return &localRepo{t: t, work: work, repo: repo}
}

// commit records the work tree as it is (and, when gitlink is set, a
// submodule entry at that path) and returns the commit.
func (r *localRepo) commit(gitlink string) *object.Commit {
	r.t.Helper()
	runGit(r.t, r.work, "add", "-A")
	if gitlink != "" {
		runGit(r.t, r.work, "update-index", "--add", "--replace", "--cacheinfo", "160000,"+strings.Repeat("ab", 20)+","+gitlink)
	}
	runGit(r.t, r.work, "commit", "-q", "--allow-empty", "--no-verify", "-m", "step")
	sha := runGit(r.t, r.work, "rev-parse", "HEAD")
	c, err := r.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// entryOf describes one entry of a checkout for comparison.
func entryOf(t *testing.T, root, p string, d fs.DirEntry) string {
	t.Helper()
	fi, err := d.Info()
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		l, err := os.Readlink(p)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("link %v -> %q", fi.Mode().Perm(), l)
	case fi.IsDir():
		return fmt.Sprintf("dir %v", fi.Mode())
	default:
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("file %v size %d content %q", fi.Mode(), fi.Size(), b)
	}
}

// listing is every entry under dir (the root itself excluded): relative
// path, type, mode, size and content or link target.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel+": "+entryOf(t, dir, p, d))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameTree fails unless got holds exactly what want does.
func sameTree(t *testing.T, step string, got, want string) {
	t.Helper()
	g, w := listing(t, got), listing(t, want)
	if strings.Join(g, "\n") == strings.Join(w, "\n") {
		return
	}
	gs, ws := map[string]bool{}, map[string]bool{}
	for _, e := range g {
		gs[e] = true
	}
	for _, e := range w {
		ws[e] = true
	}
	var diff []string
	for _, e := range g {
		if !ws[e] {
			diff = append(diff, "+ "+e)
		}
	}
	for _, e := range w {
		if !gs[e] {
			diff = append(diff, "- "+e)
		}
	}
	sort.Strings(diff)
	t.Fatalf("%s: the updated checkout differs from a whole one (+ only updated, - only whole):\n%s", step, strings.Join(diff, "\n"))
}

// fresh is writeTree's checkout of c, in a new directory.
func fresh(t *testing.T, s storer.EncodedObjectStorer, c *object.Commit, placeholderOver int64) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := writeTree(context.Background(), s, c, dir, 1<<30, placeholderOver); err != nil {
		t.Fatal(err)
	}
	return dir
}

// mutator edits a work tree at random, within a small namespace so that
// paths collide: files become directories and back, links are retargeted,
// directories lose their last file.
type mutator struct {
	rnd  *rand.Rand
	work string
}

func (m *mutator) path() string {
	parts := []string{}
	for n := 1 + m.rnd.Intn(3); n > 0; n-- {
		parts = append(parts, []string{"a", "b", "c", "A"}[m.rnd.Intn(4)]) // "A": case-only renames
	}
	return filepath.Join(parts...)
}

func (m *mutator) content() []byte {
	if m.rnd.Intn(6) == 0 {
		return bytes.Repeat([]byte("big"), 30+m.rnd.Intn(10)) // past the placeholder limit
	}
	return []byte(fmt.Sprintf("v%d\n", m.rnd.Intn(5)))
}

// step makes one random edit; it returns a path to record as a submodule
// entry, when it chose one.
func (m *mutator) step(t *testing.T) (gitlink string) {
	p := m.path()
	full := filepath.Join(m.work, p)
	// Whatever is in the way goes: a file where a directory is wanted
	// becomes the directory (file → dir), and the reverse.
	clear := func(q string) {
		for dir := filepath.Dir(q); dir != m.work && dir != "."; dir = filepath.Dir(dir) {
			if fi, err := os.Lstat(dir); err == nil && !fi.IsDir() {
				os.Remove(dir)
			}
		}
		os.RemoveAll(q)
		os.MkdirAll(filepath.Dir(q), 0o755)
	}
	switch op := m.rnd.Intn(10); op {
	case 0, 1, 2: // add or modify a file
		clear(full)
		mode := os.FileMode(0o644)
		if m.rnd.Intn(4) == 0 {
			mode = 0o755
		}
		if err := os.WriteFile(full, m.content(), mode); err != nil {
			t.Fatal(err)
		}
	case 3: // flip the exec bit of a file
		if fi, err := os.Lstat(full); err == nil && fi.Mode().IsRegular() {
			os.Chmod(full, fi.Mode()^0o111)
		}
	case 4: // a symlink, in or retargeted
		clear(full)
		os.Symlink([]string{"a", "../b", "c/a", "nowhere"}[m.rnd.Intn(4)], full)
	case 5, 6: // remove a file or a whole directory
		os.RemoveAll(full)
	case 7: // dir → file or file → dir
		if fi, err := os.Lstat(full); err == nil && fi.IsDir() {
			clear(full)
			os.WriteFile(full, m.content(), 0o644)
		} else {
			clear(full)
			os.MkdirAll(full, 0o755)
			os.WriteFile(filepath.Join(full, "x"), m.content(), 0o644)
		}
	case 8: // a submodule entry (the work tree keeps nothing there)
		if m.rnd.Intn(3) == 0 {
			clear(full)
			runGit(t, m.work, "rm", "-q", "-r", "--cached", "--ignore-unmatch", filepath.ToSlash(p))
			return filepath.ToSlash(p)
		}
	case 9: // several at once
		for i := 0; i < 3; i++ {
			if g := m.step(t); g != "" {
				gitlink = g
			}
		}
	}
	return gitlink
}

// TestIncrementalCheckoutEqualsWhole is the property: after random
// commits, a worktree brought from one commit to the next (or to an
// earlier one) holds exactly what writeTree writes for it.
func TestIncrementalCheckoutEqualsWhole(t *testing.T) {
	seeds, steps := 3, 25
	if *longWorktree {
		seeds, steps = 30, 120
	}
	for seed := 0; seed < seeds; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			const placeholderOver = 64
			r := newLocalRepo(t)
			m := &mutator{rnd: rand.New(rand.NewSource(int64(seed))), work: r.work}
			f, err := New(Options{CacheDir: t.TempDir(), IdleWorktrees: 1, PlaceholderOver: placeholderOver})
			if err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			var commits []*object.Commit
			for i := 0; i < steps; i++ {
				gitlink := m.step(t)
				commits = append(commits, r.commit(gitlink))
				c := commits[len(commits)-1]
				if m.rnd.Intn(5) == 0 {
					c = commits[m.rnd.Intn(len(commits))] // back to an earlier commit
				}
				dir, cleanup, err := f.checkout(context.Background(), r.repo, "cache", c, tmp)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				sameTree(t, fmt.Sprintf("step %d (%s)", i, c.Hash), dir, fresh(t, r.repo.Storer, c, placeholderOver))
				cleanup()
			}
			if f.pool.applied.Load() < int64(steps)/2 || f.pool.discarded.Load() != 0 {
				t.Errorf("applied %d, written %d, discarded %d: the updates did not run", f.pool.applied.Load(), f.pool.written.Load(), f.pool.discarded.Load())
			}
			f.Close()
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("left behind after Close: %v", left)
			}
		})
	}
}

// TestWorktreePool: concurrent checkouts never share a directory; a
// returned worktree is reused and updated; the bound holds; Close leaves
// nothing behind.
func TestWorktreePool(t *testing.T) {
	r := newLocalRepo(t)
	os.WriteFile(filepath.Join(r.work, "a.yaml"), []byte("a: 1\n"), 0o644)
	c1 := r.commit("")
	os.WriteFile(filepath.Join(r.work, "a.yaml"), []byte("a: 2\n"), 0o644)
	c2 := r.commit("")
	f, _ := New(Options{CacheDir: t.TempDir(), IdleWorktrees: 2})
	tmp := t.TempDir()
	ctx := context.Background()

	// Three at once: three directories, each its own.
	var mu sync.Mutex
	dirs := map[string]bool{}
	var cleanups []func()
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir, cleanup, err := f.checkout(ctx, r.repo, "cache", c1, tmp)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			dirs[dir] = true
			cleanups = append(cleanups, cleanup)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(dirs) != 3 {
		t.Fatalf("three concurrent checkouts got %d directories", len(dirs))
	}
	for _, c := range cleanups {
		c()
		c() // twice is once
	}
	if left, _ := os.ReadDir(tmp); len(left) != 2 {
		t.Errorf("the bound is 2 idle worktrees; %d directories left", len(left))
	}

	// A returned worktree is reused, brought to c2 in place.
	dir, cleanup, err := f.checkout(ctx, r.repo, "cache", c2, tmp)
	if err != nil {
		t.Fatal(err)
	}
	if !dirs[dir] || f.pool.applied.Load() != 1 {
		t.Errorf("c2 was not an update of an idle worktree (dir %s, applied %d)", dir, f.pool.applied.Load())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.yaml")); string(b) != "a: 2\n" {
		t.Errorf("updated file %q", b)
	}
	cleanup()
	// An idle worktree holding the commit already is preferred.
	dir2, cleanup, err := f.checkout(ctx, r.repo, "cache", c2, tmp)
	if err != nil {
		t.Fatal(err)
	}
	if dir2 != dir {
		t.Errorf("the worktree holding c2 was not the one reused")
	}
	cleanup()
	// Another repository's (or another root's) worktrees are not used.
	other := t.TempDir()
	d3, cleanup, err := f.checkout(ctx, r.repo, "other-cache", c2, other)
	if err != nil {
		t.Fatal(err)
	}
	if dirs[d3] {
		t.Error("a worktree of another repository was reused")
	}
	cleanup()

	f.Close()
	for _, root := range []string{tmp, other} {
		if left, _ := os.ReadDir(root); len(left) != 0 {
			t.Errorf("left behind after Close in %s: %v", root, left)
		}
	}
	// After Close a checkout still works, and its cleanup deletes it.
	dir, cleanup, err = f.checkout(ctx, r.repo, "cache", c1, tmp)
	if err != nil {
		t.Fatal(err)
	}
	cleanup()
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a checkout cleaned up after Close is still there")
	}
}

// TestWorktreeWrittenIntoIsDiscarded: whatever writes into a checkout (a
// same-size rewrite right away, a new file, a removal, a chmod), the
// worktree is not reused; a failed update is discarded and the checkout
// written whole.
func TestWorktreeWrittenIntoIsDiscarded(t *testing.T) {
	r := newLocalRepo(t)
	os.MkdirAll(filepath.Join(r.work, "d"), 0o755)
	os.WriteFile(filepath.Join(r.work, "d/a.yaml"), []byte("a: 1\n"), 0o644)
	os.WriteFile(filepath.Join(r.work, "b.yaml"), []byte("b: 1\n"), 0o644)
	c1 := r.commit("")
	os.WriteFile(filepath.Join(r.work, "b.yaml"), []byte("b: 2\n"), 0o644)
	c2 := r.commit("")
	ctx := context.Background()
	for name, write := range map[string]func(dir string){
		"same-size rewrite": func(dir string) { os.WriteFile(filepath.Join(dir, "d/a.yaml"), []byte("a: 9\n"), 0o644) },
		"new file":          func(dir string) { os.WriteFile(filepath.Join(dir, "d/new.yaml"), nil, 0o644) },
		"new directory":     func(dir string) { os.Mkdir(filepath.Join(dir, "e"), 0o755) },
		"removal":           func(dir string) { os.Remove(filepath.Join(dir, "b.yaml")) },
		"chmod":             func(dir string) { os.Chmod(filepath.Join(dir, "b.yaml"), 0o755) },
		"same size, mtime restored": func(dir string) {
			p := filepath.Join(dir, "d/a.yaml")
			fi, _ := os.Stat(p)
			os.WriteFile(p, []byte("a: 9\n"), 0o644)
			os.Chtimes(p, fi.ModTime(), fi.ModTime())
		},
		"hard link out": func(dir string) { os.Link(filepath.Join(dir, "d/a.yaml"), filepath.Join(filepath.Dir(dir), "held")) },
		"renamed in place": func(dir string) {
			os.WriteFile(filepath.Join(dir, "tmp"), []byte("b: 1\n"), 0o644)
			os.Rename(filepath.Join(dir, "tmp"), filepath.Join(dir, "b.yaml"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			f, _ := New(Options{CacheDir: t.TempDir(), IdleWorktrees: 1})
			tmp := t.TempDir()
			for i, c := range []*object.Commit{c1, c2} {
				dir, cleanup, err := f.checkout(ctx, r.repo, "cache", c, tmp)
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					write(dir)
				}
				sameTreeUnlessFirst := i == 1
				if sameTreeUnlessFirst {
					sameTree(t, name, dir, fresh(t, r.repo.Storer, c, defaultPlaceholderOver))
				}
				cleanup()
			}
			if f.pool.discarded.Load() != 1 || f.pool.applied.Load() != 0 || f.pool.written.Load() != 2 {
				t.Errorf("applied %d, written %d, discarded %d: want the written-into worktree discarded", f.pool.applied.Load(), f.pool.written.Load(), f.pool.discarded.Load())
			}
			f.Close()
		})
	}

	// An update that fails half-way is discarded, and the commit written
	// whole into a new directory.
	f, _ := New(Options{CacheDir: t.TempDir(), IdleWorktrees: 1})
	tmp := t.TempDir()
	dir, cleanup, err := f.checkout(ctx, r.repo, "cache", c1, tmp)
	if err != nil {
		t.Fatal(err)
	}
	cleanup()
	// Unnoticed by the snapshot (restored ctime is impossible, so forge the
	// record): the update meets a file it did not expect.
	f.pool.idle[0].snap["b.yaml"] = statRec{}
	os.Remove(filepath.Join(dir, "b.yaml"))
	dir2, cleanup, err := f.checkout(ctx, r.repo, "cache", c2, tmp)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if dir2 == dir || f.pool.discarded.Load() != 1 || f.pool.written.Load() != 2 {
		t.Errorf("a failed update must be discarded and the commit written whole (same dir %v, discarded %d, written %d)", dir2 == dir, f.pool.discarded.Load(), f.pool.written.Load())
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the half-applied worktree is still there")
	}
	sameTree(t, "after a failed update", dir2, fresh(t, r.repo.Storer, c2, defaultPlaceholderOver))
}

// TestWorktreeCheckoutLimit: a commit over MaxCheckoutBytes is refused when
// reached by an update, as when written whole, and the worktree stays
// reusable; one exactly at the limit passes.
func TestWorktreeCheckoutLimit(t *testing.T) {
	r := newLocalRepo(t)
	os.WriteFile(filepath.Join(r.work, "a"), bytes.Repeat([]byte("a"), 60), 0o644)
	os.Symlink("a", filepath.Join(r.work, "l")) // counts its target's length, 1
	small := r.commit("")
	os.WriteFile(filepath.Join(r.work, "b"), bytes.Repeat([]byte("b"), 39), 0o644)
	atLimit := r.commit("") // 60 + 1 + 39
	os.WriteFile(filepath.Join(r.work, "b"), bytes.Repeat([]byte("b"), 40), 0o644)
	over := r.commit("")
	ctx := context.Background()
	f, _ := New(Options{CacheDir: t.TempDir(), IdleWorktrees: 1, MaxCheckoutBytes: 100})
	tmp := t.TempDir()
	if _, _, err := f.checkout(ctx, r.repo, "cache", over, tmp); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("whole checkout over the limit: %v", err)
	}
	dir, cleanup, err := f.checkout(ctx, r.repo, "cache", small, tmp)
	if err != nil {
		t.Fatal(err)
	}
	cleanup()
	if _, _, err := f.checkout(ctx, r.repo, "cache", over, tmp); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("updated checkout over the limit: %v", err)
	}
	if f.pool.applied.Load() != 0 || len(f.pool.idle) != 1 {
		t.Errorf("the refused update must leave the worktree idle and untouched (applied %d, idle %d)", f.pool.applied.Load(), len(f.pool.idle))
	}
	d2, cleanup, err := f.checkout(ctx, r.repo, "cache", atLimit, tmp)
	if err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	if d2 != dir || f.pool.applied.Load() != 1 {
		t.Error("the commit at the limit was not an update")
	}
	sameTree(t, "at the limit", d2, fresh(t, r.repo.Storer, atLimit, defaultPlaceholderOver))
	cleanup()
	if _, _, err := f.checkout(ctx, r.repo, "cache", over, tmp); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("updated checkout over the limit, from at the limit: %v", err)
	}
	f.Close()
}

// TestCheckoutReusesWorktree: through Checkout, from the loopback server,
// the second commit of a repository is an update of the first's checkout
// (the pull request's link removed, its file restored), and a Sources
// checkout goes back to the pool on Close.
func TestCheckoutReusesWorktree(t *testing.T) {
	root, mainSHA, prSHA := makeRepo(t)
	srv := gitServer(t, root)
	f, err := New(Options{CacheDir: t.TempDir(), IdleWorktrees: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tmp := t.TempDir()
	url := srv.URL + "/acme/gitops.git"
	dir, cleanup, err := f.Checkout(ctx, Request{CloneURL: url, Ref: "refs/pull/1/head", SHA: prSHA}, tmp)
	if err != nil {
		t.Fatal(err)
	}
	cleanup()
	dir2, cleanup, err := f.Checkout(ctx, Request{CloneURL: url, Ref: "refs/heads/main", SHA: mainSHA}, tmp)
	if err != nil {
		t.Fatal(err)
	}
	if dir2 != dir || f.pool.applied.Load() != 1 {
		t.Errorf("main was not an update of the pull request's checkout (applied %d)", f.pool.applied.Load())
	}
	if b, _ := os.ReadFile(filepath.Join(dir2, "apps/web/deploy.yaml")); string(b) != "image: web:v1\n" {
		t.Errorf("main file %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir2, "apps/web/link.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the pull request's link is still there: %v", err)
	}
	cleanup()
	src := &Sources{Fetcher: f, TmpRoot: tmp}
	sdir, _, err := src.FetchGit(ctx, url, prSHA)
	if err != nil {
		t.Fatal(err)
	}
	if sdir != dir || f.pool.applied.Load() != 2 {
		t.Errorf("the source checkout was not an update (applied %d)", f.pool.applied.Load())
	}
	src.Close()
	f.Close()
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// craft stores a commit whose root tree has entries as given (in that
// order, unchecked), the way a hostile server could send one.
func craft(t *testing.T, repo *git.Repository, parent *object.Commit, entries []object.TreeEntry) *object.Commit {
	t.Helper()
	store := func(enc interface {
		Encode(plumbing.EncodedObject) error
	}) plumbing.Hash {
		o := repo.Storer.NewEncodedObject()
		if err := enc.Encode(o); err != nil {
			t.Fatal(err)
		}
		h, err := repo.Storer.SetEncodedObject(o)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	tree := store(&object.Tree{Entries: entries})
	c := &object.Commit{Author: parent.Author, Committer: parent.Committer, Message: "crafted", TreeHash: tree, ParentHashes: []plumbing.Hash{parent.Hash}}
	got, err := repo.CommitObject(store(c))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestWorktreeUnusualTreesAreWrittenWhole: a tree with an entry name
// go-git refuses, a slash in a name, or a name twice is never updated in
// place: the worktree is discarded and writeTree gives the answer, an
// error or the same checkout.
func TestWorktreeUnusualTreesAreWrittenWhole(t *testing.T) {
	r := newLocalRepo(t)
	os.MkdirAll(filepath.Join(r.work, "d"), 0o755)
	os.WriteFile(filepath.Join(r.work, "d/a.yaml"), []byte("a: 1\n"), 0o644)
	os.WriteFile(filepath.Join(r.work, "b.yaml"), []byte("b: 1\n"), 0o644)
	c1 := r.commit("")
	root, _ := c1.Tree()
	var blob, sub plumbing.Hash
	for _, e := range root.Entries {
		switch e.Name {
		case "b.yaml":
			blob = e.Hash
		case "d":
			sub = e.Hash
		}
	}
	ctx := context.Background()
	for name, entries := range map[string][]object.TreeEntry{
		".git directory": {{Name: ".git", Mode: filemode.Dir, Hash: sub}, {Name: "b.yaml", Mode: filemode.Regular, Hash: blob}},
		"dot-dot":        {{Name: "..", Mode: filemode.Regular, Hash: blob}},
		"slash in name":  {{Name: "b.yaml", Mode: filemode.Regular, Hash: blob}, {Name: "d", Mode: filemode.Dir, Hash: sub}, {Name: "d/a.yaml", Mode: filemode.Executable, Hash: blob}},
		"name twice":     {{Name: "b.yaml", Mode: filemode.Regular, Hash: blob}, {Name: "b.yaml", Mode: filemode.Executable, Hash: blob}},
		"control char":   {{Name: "b\n.yaml", Mode: filemode.Regular, Hash: blob}},
	} {
		t.Run(name, func(t *testing.T) {
			c2 := craft(t, r.repo, c1, entries)
			f, _ := New(Options{CacheDir: t.TempDir(), IdleWorktrees: 1})
			defer f.Close()
			tmp := t.TempDir()
			_, cleanup, err := f.checkout(ctx, r.repo, "cache", c1, tmp)
			if err != nil {
				t.Fatal(err)
			}
			cleanup()
			whole := t.TempDir()
			_, wantErr := writeTree(ctx, r.repo.Storer, c2, whole, 1<<30, defaultPlaceholderOver)
			dir, cleanup, err := f.checkout(ctx, r.repo, "cache", c2, tmp)
			if f.pool.applied.Load() != 0 || f.pool.discarded.Load() != 1 {
				t.Errorf("applied %d, discarded %d: an unusual tree must not be updated in place", f.pool.applied.Load(), f.pool.discarded.Load())
			}
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("checkout: %v; writeTree: %v", err, wantErr)
			}
			if err == nil {
				sameTree(t, name, dir, whole)
				cleanup()
				if len(f.pool.idle) != 0 {
					t.Error("a checkout of an unusual tree was kept for reuse")
				}
			}
		})
	}
}
