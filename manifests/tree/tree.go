package tree

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gitops-gate/gitops-gate/manifests/model"
)

// Tree is a repository checkout seen through its confinement rules.
type Tree interface {
	// Root is the absolute path of the repository, symlinks resolved.
	Root() string
	// Rel turns an absolute path inside the repository into the
	// slash-separated repository-relative form used in reports.
	Rel(abs string) string
	// Abs turns a repository-relative path into an absolute one, refusing
	// paths that climb out of the repository.
	Abs(rel string) (string, error)
	// Confine resolves symlinks of an absolute path and checks that the
	// result stays in the repository. It returns the real path.
	Confine(abs string) (string, error)
	// ReadFile reads a repository file after confinement and size checks.
	// The returned slice may be shared: callers must not modify it.
	ReadFile(abs string) ([]byte, error)
}

// Dir is the Tree of a directory on local disk. It is safe for concurrent
// use; it caches resolved directories and file contents, as a checkout does
// not change while it is in use.
type Dir struct {
	root        string // absolute, symlinks resolved
	maxFileSize int64

	// realDirs caches the resolved form of directories already confined:
	// resolving a path lstat's each of its components, and renderers read
	// many files of the same few directories.
	realDirs sync.Map // string -> string

	// rootDir and rootFS are the root opened once, for confined opens
	// (openConfined); noBeneath is set once the kernel refused openat2.
	rootOnce  sync.Once
	rootDir   *os.File
	rootFS    *os.Root
	rootErr   error
	noBeneath atomic.Bool

	// reads caches file contents (and read errors) by path: discovery and
	// rendering read the same files, and a checkout does not change while a
	// Repo is in use. Cached data is shared and must not be modified.
	reads       sync.Map // string -> cachedRead
	cachedBytes atomic.Int64
}

type cachedRead struct {
	data []byte
	err  error
}

// maxCachedBytes bounds the read cache; files past it are read each time.
const maxCachedBytes = 256 << 20

// New returns the Tree of root, which must be absolute with its symlinks
// resolved; files larger than maxFileSize bytes are errors.
func New(root string, maxFileSize int64) *Dir {
	return &Dir{root: root, maxFileSize: maxFileSize}
}

// Root is the absolute path of the repository.
func (r *Dir) Root() string { return r.root }

// Rel turns an absolute path inside the repository into the slash-separated
// repository-relative form used in reports.
func (r *Dir) Rel(abs string) string {
	rel, err := filepath.Rel(r.root, abs)
	if err != nil {
		return filepath.ToSlash(abs)
	}
	return filepath.ToSlash(rel)
}

// Abs turns a repository-relative path into an absolute one, refusing paths
// that climb out of the repository ("../../etc").
func (r *Dir) Abs(rel string) (string, error) {
	if filepath.IsAbs(rel) {
		return "", &model.FileError{File: rel, Err: fmt.Errorf("absolute path: want a path relative to the repository root")}
	}
	joined := filepath.Join(r.root, filepath.FromSlash(rel))
	if !Within(r.root, joined) {
		return "", &model.FileError{File: rel, Err: fmt.Errorf("path is %w", model.ErrOutsideRepo)}
	}
	return joined, nil
}

// Within reports whether p is root or below it (both absolute and clean).
func Within(root, p string) bool {
	if p == root {
		return true
	}
	return strings.HasPrefix(p, root+string(filepath.Separator))
}

// Confine resolves symlinks in abs and checks that the result stays in the
// repository. It returns the real path.
func (r *Dir) Confine(abs string) (string, error) {
	abs = filepath.Clean(abs)
	real, err := r.resolve(abs)
	if err != nil {
		return "", err
	}
	if !Within(r.root, real) {
		return "", &model.FileError{File: r.Rel(abs), Err: fmt.Errorf("symlink to %s leads %w", real, model.ErrOutsideRepo)}
	}
	return real, nil
}

// Listed tells the Dir that dir was reached from the root through
// directories a listing reported as directories, never through a symlink
// (os.ReadDir reports a symlink as one, whatever it points to), so dir is
// its own real path. A monorepo's discovery lists thousands of
// directories; resolving each of them again, component by component, was
// a fifth of an unchanged repository's scan.
//
// The listing serves Confine's answer (a name check) only: ReadFile never
// trusts it for the path it opens (see open), since the tree may change
// after the listing. Callers that open a path Confine approved themselves
// are exposed to such a change.
func (r *Dir) Listed(dir string) {
	dir = filepath.Clean(dir)
	if Within(r.root, dir) {
		r.realDirs.Store(dir, dir)
	}
}

// realDir is the resolved form of the directory dir.
func (r *Dir) realDir(dir string) (string, error) {
	dir = filepath.Clean(dir)
	if d, ok := r.realDirs.Load(dir); ok {
		return d.(string), nil
	}
	d, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	r.realDirs.Store(dir, d)
	return d, nil
}

// resolve is filepath.EvalSymlinks with the parent directory's resolution
// cached. Only the last component is resolved afresh each time.
func (r *Dir) resolve(abs string) (string, error) {
	dir, base := filepath.Split(abs)
	realDir, err := r.realDir(dir)
	if err != nil {
		return "", err
	}
	p := filepath.Join(realDir, base)
	st, err := os.Lstat(p)
	if err != nil {
		return "", err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		return filepath.EvalSymlinks(p)
	}
	return p, nil
}

// ReadFile reads a repository file after confinement and size checks. The
// returned slice may be shared: callers must not modify it.
func (r *Dir) ReadFile(abs string) ([]byte, error) {
	abs = filepath.Clean(abs)
	if v, ok := r.reads.Load(abs); ok {
		c := v.(cachedRead)
		return c.data, c.err
	}
	data, err := r.readFileUncached(abs)
	if r.cachedBytes.Add(int64(len(data))) <= maxCachedBytes {
		r.reads.Store(abs, cachedRead{data, err})
	} else {
		r.cachedBytes.Add(-int64(len(data)))
	}
	return data, err
}

func (r *Dir) readFileUncached(abs string) ([]byte, error) {
	f, err := r.open(abs)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &model.FileError{File: r.Rel(abs), Err: fmt.Errorf("not a regular file")}
	}
	if st.Size() > r.maxFileSize {
		return nil, &model.FileError{File: r.Rel(abs), Err: fmt.Errorf("file of %d bytes is %w (limit %d bytes)", st.Size(), model.ErrTooLarge, r.maxFileSize)}
	}
	// Read at most one byte past the limit in case the file grows under us.
	data, err := io.ReadAll(io.LimitReader(f, r.maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > r.maxFileSize {
		return nil, &model.FileError{File: r.Rel(abs), Err: fmt.Errorf("file is %w (limit %d bytes)", model.ErrTooLarge, r.maxFileSize)}
	}
	return data, nil
}

// errNoBeneath: the kernel cannot confine an open (openBeneath); errLeaves:
// the confined open refused a symlink that leaves the root, is absolute,
// or loops. Either sends the open to the full resolution.
var (
	errNoBeneath = errors.New("no confined open")
	errLeaves    = errors.New("symlink leaves the root")
)

// handles opens, once, what confined opens are made relative to: the root
// as a directory (for openat2) and as an os.Root (where openat2 is
// missing, and for a symlink's resolved target).
func (r *Dir) handles() (*os.File, *os.Root, error) {
	r.rootOnce.Do(func() {
		if r.rootDir, r.rootErr = os.Open(r.root); r.rootErr == nil {
			r.rootFS, r.rootErr = os.OpenRoot(r.root)
		}
	})
	return r.rootDir, r.rootFS, r.rootErr
}

// openConfined opens rel, relative to the root, so that no component
// can lead out of the repository, whatever the tree becomes between a
// check and the open: the kernel resolves the whole path beneath the root
// (openBeneath), or os.Root does, component by component.
func (r *Dir) openConfined(rel string) (*os.File, error) {
	dir, root, err := r.handles()
	if err != nil {
		return nil, err
	}
	if r.noBeneath.Load() {
		return root.OpenFile(rel, openFlags, 0)
	}
	f, err := openBeneath(dir, rel)
	if errors.Is(err, errNoBeneath) {
		r.noBeneath.Store(true)
		return root.OpenFile(rel, openFlags, 0)
	}
	return f, err
}

// open opens a repository file for reading. Every open is confined to the
// root (openConfined): what discovery listed, or an earlier resolution,
// is never trusted for the path a file is opened by, since a local check
// may race edits to the tree (a directory listed, then swapped for a
// symlink out). A file reached only through symlinks the confined open
// refuses (an absolute one that stays inside) is resolved afresh, and its
// real path opened confined in turn.
func (r *Dir) open(abs string) (*os.File, error) {
	if rel, err := filepath.Rel(r.root, abs); err == nil && Within(r.root, abs) {
		f, err := r.openConfined(rel)
		if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return f, err
		}
		// A symlink the confined open refused: resolved below, for the
		// error naming where it leads, or for the real path it stands for.
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	if !Within(r.root, real) {
		return nil, &model.FileError{File: r.Rel(abs), Err: fmt.Errorf("symlink to %s leads %w", real, model.ErrOutsideRepo)}
	}
	rel, err := filepath.Rel(r.root, real)
	if err != nil {
		return nil, err
	}
	f, err := r.openConfined(rel)
	if err != nil {
		return nil, &model.FileError{File: r.Rel(abs), Err: fmt.Errorf("opening %s (the tree changed while it was read?): %w", real, err)}
	}
	return f, nil
}

// Listed calls t's Listed if t keeps resolved directories (a Dir does).
func Listed(t Tree, dir string) {
	if l, ok := t.(interface{ Listed(dir string) }); ok {
		l.Listed(dir)
	}
}
