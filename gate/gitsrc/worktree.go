package gitsrc

// Incremental checkouts.
//
// Writing a commit's whole tree costs what the repository holds (about a
// second for 5,000 apps on two cores), while a pull request changes a few
// files and the incremental evaluation renders only the apps they touch.
// So a Fetcher with Options.IdleWorktrees keeps the checkouts its callers
// clean up, each knowing the tree it holds and the bytes it counts, and
// brings one to the next commit of the same repository by writing only
// the difference between the two trees (subtrees with equal hashes are
// skipped unread), as Argo CD's repo-server keeps a working directory per
// repository. A checkout is claimed exclusively: two evaluations never
// share a directory.
//
// A reused checkout must equal what writeTree writes for the commit, byte
// for byte: its directory listings are inputs of the incremental
// evaluation. What keeps it so:
//
//   - Only plain trees are updated in place: every entry a file, an
//     executable, a symlink, a directory or a submodule (skipped, as
//     tree.Files skips it), with a name go-git's tree walker accepts, no
//     slash in it, and no name twice in one tree. Anything else, and any
//     error while applying, discards the worktree and writeTree decides,
//     into a new directory. A whole checkout is kept for reuse only when
//     its tree is plain; the trees of equal hash that an update skips were
//     checked when they were written.
//   - Files are written by writeFile, as writeTree writes them, always
//     after removing what was there, so modes come from creation as in a
//     fresh checkout. Directories left empty by a removal are removed (a
//     fresh checkout has none); directories are created by makeDirs as
//     writeTree creates them, a directory the snapshot does not hold being
//     an error (a name the file system folded onto another).
//   - MaxCheckoutBytes bounds the target tree's total exactly as writeTree
//     does: the total of the worktree's tree, less the sizes of the files
//     that go, plus those that come, is checked before anything is written.
//   - Nothing may write into a checkout. Checked: the service renders,
//     plans pins (PlanSourcePins and ProposePins apply edits in memory),
//     checks an Argo CD source (CheckAndPin returns a stream); Helm charts
//     and their dependencies are read in place or unpacked into chartsrc's
//     own cache; Sources' checkouts are only read. pin.WriteFiles writes,
//     but only from the pin command, into the user's own directory. Since a
//     future caller could still write, cleanup compares every entry's lstat
//     (type, mode, size, inode, ctime, mtime; for directories the mode and
//     the set of names) with a snapshot taken when the checkout was handed
//     out, and discards the worktree on any difference. The snapshot is
//     taken only once the file system's clock has moved past the newest
//     change it records (settle), so a same-size rewrite within one clock
//     tick still changes the ctime. Where lstat gives no inode or ctime
//     (not Linux), nothing is reused.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// worktree is a checkout the Fetcher may reuse.
type worktree struct {
	dir string
	// key is the cache repository and temporary root it belongs to.
	key string
	// tree is the tree it holds and total the bytes writeTree counts for it.
	tree  plumbing.Hash
	total int64
	// snap is every entry's lstat when it was handed out, by slash path
	// ("." the root); nil when the worktree may not be reused.
	snap map[string]statRec
}

// pool holds the idle worktrees, least recently returned first. Its bound
// is over all repositories: the service keeps one per worker, so that
// when every worker checks out the same monorepo each finds one, and the
// disk idle worktrees hold stays within what the busy ones may.
type pool struct {
	max    int
	mu     sync.Mutex
	idle   []*worktree
	closed bool
	// Counters, for tests and benchmarks: checkouts brought up to date in
	// place, checkouts written whole, worktrees discarded.
	applied, written, discarded atomic.Int64
}

// claim takes an idle worktree of key, one holding tree if there is one,
// else the most recently returned.
func (p *pool) claim(key string, tree plumbing.Hash) *worktree {
	p.mu.Lock()
	defer p.mu.Unlock()
	best := -1
	for i, wt := range p.idle {
		if wt.key != key {
			continue
		}
		if best < 0 || p.idle[best].tree != tree {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	wt := p.idle[best]
	p.idle = append(p.idle[:best], p.idle[best+1:]...)
	return wt
}

// idleAgain makes wt idle, deleting the oldest idle worktree past the
// bound, or wt itself once the Fetcher is closed.
func (p *pool) idleAgain(wt *worktree) {
	p.mu.Lock()
	if p.closed || p.max == 0 {
		p.mu.Unlock()
		os.RemoveAll(wt.dir)
		return
	}
	p.idle = append(p.idle, wt)
	var evicted []*worktree
	if n := len(p.idle) - p.max; n > 0 {
		evicted = append(evicted, p.idle[:n]...)
		p.idle = append([]*worktree(nil), p.idle[n:]...)
	}
	p.mu.Unlock()
	for _, e := range evicted {
		os.RemoveAll(e.dir)
	}
}

// discard deletes a worktree that is not to be reused.
func (p *pool) discard(wt *worktree) {
	p.discarded.Add(1)
	os.RemoveAll(wt.dir)
}

// Close deletes the idle worktrees; checkouts still out are deleted by
// their cleanup. The Fetcher keeps working, without reuse.
func (f *Fetcher) Close() {
	f.pool.mu.Lock()
	f.pool.closed = true
	idle := f.pool.idle
	f.pool.idle = nil
	f.pool.mu.Unlock()
	for _, wt := range idle {
		os.RemoveAll(wt.dir)
	}
}

// release is the cleanup of a checkout: the worktree goes back to the pool
// if it may be reused and nothing changed it, else it is deleted.
func (f *Fetcher) release(wt *worktree) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			switch {
			case wt.snap == nil:
				os.RemoveAll(wt.dir)
			case !wt.unchanged():
				f.pool.discard(wt)
			default:
				f.pool.idleAgain(wt)
			}
		})
	}
}

// adopt makes a whole checkout of commit in dir a worktree, reusable when
// the Fetcher keeps worktrees and the tree is plain.
func (f *Fetcher) adopt(ctx context.Context, repo *git.Repository, key string, commit *object.Commit, dir string, total int64) *worktree {
	wt := &worktree{dir: dir, key: key, tree: commit.TreeHash, total: total}
	if f.pool.max == 0 {
		return wt
	}
	tree, err := commit.Tree()
	if err != nil {
		return wt
	}
	d := differ{ctx: ctx, s: repo.Storer}
	if d.diff(nil, tree, "", 0) != nil {
		return wt
	}
	snap, newest, err := snapshot(dir)
	if err != nil || settle(dir, snap["."].mode.Perm(), newest) != nil {
		return wt
	}
	wt.snap = snap
	return wt
}

// update brings an idle worktree of key to commit. It returns nil, nil
// when there is none or applying failed (the worktree is then deleted):
// the caller writes the tree whole. A target over MaxCheckoutBytes is an
// error, and leaves the worktree as it was, idle.
func (f *Fetcher) update(ctx context.Context, repo *git.Repository, key string, commit *object.Commit) (*worktree, error) {
	if f.pool.max == 0 {
		return nil, nil
	}
	wt := f.pool.claim(key, commit.TreeHash)
	if wt == nil {
		return nil, nil
	}
	touched, err := f.apply(ctx, repo, wt, commit.TreeHash)
	switch {
	case err == nil:
		f.pool.applied.Add(1)
		return wt, nil
	case !touched && errors.Is(err, ErrTooLarge):
		f.pool.idleAgain(wt)
		return nil, err
	}
	f.pool.discard(wt)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, nil
}

// errUnusual marks a tree that is not updated in place (see the file's
// comment): writeTree decides what it gives.
var errUnusual = errors.New("tree not updated in place")

// maxPlainDepth is the deepest path an update writes; go-git's walker
// stops at 1024.
const maxPlainDepth = 256

// change is one path whose file differs: from is what the worktree has
// there, to what the target has (nil: no file).
type change struct {
	path     string
	from, to *object.TreeEntry
}

// apply writes into wt the difference between its tree and target.
// touched says whether it changed anything on disk.
func (f *Fetcher) apply(ctx context.Context, repo *git.Repository, wt *worktree, target plumbing.Hash) (touched bool, err error) {
	if wt.tree == target {
		return false, nil
	}
	s := repo.Storer
	from, err := object.GetTree(s, wt.tree)
	if err != nil {
		return false, err
	}
	to, err := object.GetTree(s, target)
	if err != nil {
		return false, err
	}
	d := differ{ctx: ctx, s: s}
	if err := d.diff(from, to, "", 0); err != nil {
		return false, err
	}
	total := wt.total
	for _, c := range d.changes {
		for sign, e := range map[int64]*object.TreeEntry{-1: c.from, 1: c.to} {
			if e == nil {
				continue
			}
			o, err := s.EncodedObject(plumbing.BlobObject, e.Hash)
			if err != nil {
				return false, fmt.Errorf("%s: %w", c.path, err)
			}
			total += sign * o.Size()
		}
	}
	if total > f.o.MaxCheckoutBytes {
		return false, tooLarge(f.o.MaxCheckoutBytes)
	}

	// From here on a failure leaves the worktree half-applied: the caller
	// deletes it.
	var newest int64
	emptied := map[string]bool{}
	for _, c := range d.changes {
		if c.from == nil {
			continue
		}
		p, err := checkoutPath(wt.dir, c.path)
		if err != nil {
			return true, err
		}
		if err := os.Remove(p); err != nil {
			return true, err
		}
		delete(wt.snap, c.path)
		for dir := path.Dir(c.path); dir != "."; dir = path.Dir(dir) {
			emptied[dir] = true
		}
	}
	// Deepest first, so that a directory's emptied subdirectories are gone
	// when it is looked at.
	dirs := make([]string, 0, len(emptied))
	for dir := range emptied {
		dirs = append(dirs, dir)
	}
	sort.Slice(dirs, func(i, j int) bool {
		if di, dj := strings.Count(dirs[i], "/"), strings.Count(dirs[j], "/"); di != dj {
			return di > dj
		}
		return dirs[i] < dirs[j]
	})
	for _, dir := range dirs {
		p := filepath.Join(wt.dir, filepath.FromSlash(dir))
		names, err := readNames(p)
		if err != nil {
			return true, err
		}
		if len(names) > 0 {
			continue
		}
		if err := os.Remove(p); err != nil {
			return true, err
		}
		delete(wt.snap, dir)
	}
	for _, c := range d.changes {
		if c.to == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return true, err
		}
		p, err := checkoutPath(wt.dir, c.path)
		if err != nil {
			return true, err
		}
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			return true, fmt.Errorf("%s: in the way of the update (%v)", c.path, err)
		}
		if err := makeDirs(wt.dir, path.Dir(c.path), func(rel string) bool { _, ok := wt.snap[rel]; return ok }); err != nil {
			return true, err
		}
		blob, err := object.GetBlob(s, c.to.Hash)
		if err != nil {
			return true, fmt.Errorf("%s: %w", c.path, err)
		}
		if err := writeFile(object.NewFile(c.path, c.to.Mode, blob), p, f.o.PlaceholderOver); err != nil {
			return true, err
		}
		// Record the file and the directories created for it.
		for rel := c.path; rel != "."; rel = path.Dir(rel) {
			if _, ok := wt.snap[rel]; ok && rel != c.path {
				break
			}
			st, err := lstatRec(filepath.Join(wt.dir, filepath.FromSlash(rel)))
			if err != nil {
				return true, err
			}
			wt.snap[rel] = st
			newest = max(newest, st.ctime)
		}
	}
	if err := settle(wt.dir, wt.snap["."].mode.Perm(), newest); err != nil {
		return true, err
	}
	wt.tree, wt.total = target, total
	return true, nil
}

// differ lists the file changes between two trees, checking that every
// entry of the target it reads is plain.
type differ struct {
	ctx     context.Context
	s       storer.EncodedObjectStorer
	changes []change
}

// diff compares the trees at dir (either may be nil: empty). from is a
// tree a worktree holds, plain already; to is checked.
func (d *differ) diff(from, to *object.Tree, dir string, depth int) error {
	if err := d.ctx.Err(); err != nil {
		return err
	}
	if depth > maxPlainDepth {
		return fmt.Errorf("%w: %s is too deep", errUnusual, dir)
	}
	old := map[string]*object.TreeEntry{}
	if from != nil {
		for i := range from.Entries {
			old[from.Entries[i].Name] = &from.Entries[i]
		}
	}
	next, err := plainEntries(to)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	for name, n := range next {
		if err := d.entry(old[name], n, join(dir, name), depth); err != nil {
			return err
		}
	}
	for name, o := range old {
		if _, ok := next[name]; !ok {
			if err := d.entry(o, nil, join(dir, name), depth); err != nil {
				return err
			}
		}
	}
	return nil
}

// entry compares what one name holds in both trees.
func (d *differ) entry(o, n *object.TreeEntry, p string, depth int) error {
	isDir := func(e *object.TreeEntry) bool { return e != nil && e.Mode == filemode.Dir }
	// A submodule is no file: tree.Files skips it.
	file := func(e *object.TreeEntry) *object.TreeEntry {
		if e == nil || e.Mode == filemode.Dir || e.Mode == filemode.Submodule {
			return nil
		}
		return e
	}
	if isDir(o) && isDir(n) && o.Hash == n.Hash {
		return nil
	}
	if isDir(o) || isDir(n) {
		var sub [2]*object.Tree
		for i, e := range []*object.TreeEntry{o, n} {
			if !isDir(e) {
				continue
			}
			t, err := object.GetTree(d.s, e.Hash)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			sub[i] = t
		}
		if err := d.diff(sub[0], sub[1], p, depth+1); err != nil {
			return err
		}
	}
	fo, fn := file(o), file(n)
	if fo == nil && fn == nil || fo != nil && fn != nil && fo.Hash == fn.Hash && fo.Mode == fn.Mode {
		return nil
	}
	d.changes = append(d.changes, change{path: p, from: fo, to: fn})
	return nil
}

// plainEntries are a tree's entries by name, or errUnusual. go-git's own
// walker checks each name (no ".", "..", ".git" in any spelling, control
// character or empty part), as writeTree's walk does; it walks a copy
// whose directories are marked files, since it would read every subtree
// to check names only (4,500 of them in a monorepo's apps directory).
func plainEntries(t *object.Tree) (map[string]*object.TreeEntry, error) {
	out := map[string]*object.TreeEntry{}
	if t == nil {
		return out, nil
	}
	names := &object.Tree{Entries: make([]object.TreeEntry, len(t.Entries))}
	for i, e := range t.Entries {
		switch e.Mode {
		case filemode.Dir, filemode.Regular, filemode.Executable, filemode.Symlink, filemode.Submodule:
		default:
			return nil, fmt.Errorf("%w: %q has mode %v", errUnusual, e.Name, e.Mode)
		}
		if strings.Contains(e.Name, "/") {
			return nil, fmt.Errorf("%w: entry %q", errUnusual, e.Name)
		}
		if _, dup := out[e.Name]; dup {
			return nil, fmt.Errorf("%w: %q twice", errUnusual, e.Name)
		}
		out[e.Name] = &t.Entries[i]
		names.Entries[i] = object.TreeEntry{Name: e.Name, Mode: filemode.Regular, Hash: e.Hash}
	}
	w := object.NewTreeWalker(names, false, nil)
	defer w.Close()
	for n := 0; ; n++ {
		_, _, err := w.Next()
		if errors.Is(err, io.EOF) {
			if n != len(t.Entries) {
				return nil, fmt.Errorf("%w: %d of %d entries read", errUnusual, n, len(t.Entries))
			}
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errUnusual, err)
		}
	}
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func readNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return names, err
}

// statRec is what the snapshot compares of an entry.
type statRec struct {
	mode         fs.FileMode
	size         int64
	ino          uint64
	ctime, mtime int64
}

// same compares an entry with its record: a directory by its mode (its
// names are compared by the walk).
func (r statRec) same(o statRec) bool {
	if r.mode.IsDir() {
		return r.mode == o.mode
	}
	return r == o
}

var errNoStat = errors.New("lstat gives no inode and ctime here")

func lstatRec(p string) (statRec, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return statRec{}, err
	}
	st, ok := statOf(fi)
	if !ok {
		return statRec{}, errNoStat
	}
	return st, nil
}

// snapshot records every entry under dir, and the newest ctime.
func snapshot(dir string) (map[string]statRec, int64, error) {
	snap := map[string]statRec{}
	var newest int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := statOf(fi)
		if !ok {
			return errNoStat
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		snap[filepath.ToSlash(rel)] = st
		newest = max(newest, st.ctime)
		return nil
	})
	return snap, newest, err
}

var errChanged = errors.New("checkout changed")

// unchanged says whether the worktree is still as its snapshot.
func (wt *worktree) unchanged() bool {
	n := 0
	err := filepath.WalkDir(wt.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(wt.dir, p)
		if err != nil {
			return err
		}
		want, ok := wt.snap[filepath.ToSlash(rel)]
		if !ok {
			return errChanged
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if got, ok := statOf(fi); !ok || !want.same(got) {
			return errChanged
		}
		n++
		return nil
	})
	return err == nil && n == len(wt.snap)
}

// settle returns once the file system stamps a change later than newest,
// so that any change to a recorded entry from now on changes its ctime.
// It touches the root's ctime (chmod to its own mode) to read the clock.
func settle(dir string, perm fs.FileMode, newest int64) error {
	for start := time.Now(); ; {
		if err := os.Chmod(dir, perm); err != nil {
			return err
		}
		st, err := lstatRec(dir)
		if err != nil {
			return err
		}
		if st.ctime > newest {
			return nil
		}
		if time.Since(start) > time.Second {
			return errors.New("the file system's clock does not move")
		}
		time.Sleep(time.Millisecond)
	}
}
