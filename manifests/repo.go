package manifests

import (
	"context"
	"fmt"
	"github.com/gitops-gate/gitops-gate/manifests/model"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// Defaults for Options. Kubernetes objects are stored in etcd with a limit
// of about 1.5 MiB, so a manifest file larger than a few MiB is an attack or a
// mistake, not a deployment.
const (
	DefaultMaxFileSize       = 4 << 20
	DefaultMaxDocumentNodes  = model.DefaultMaxDocumentNodes
	DefaultMaxFilesPerRender = 20_000
)

// Options bound and steer a Repo. The zero value is valid: every field has a
// safe default.
type Options struct {
	// MaxFileSize is the largest file, in bytes, that is read.
	MaxFileSize int64
	// MaxDocumentNodes bounds the YAML nodes of one document once its aliases
	// are expanded; it stops alias bombs before anything expands them.
	MaxDocumentNodes int
	// Concurrency is how many apps render at once (default GOMAXPROCS).
	Concurrency int
	// RepoURL is the URL of the repository being checked, used to decide
	// which Argo CD Applications point into it. When empty it is inferred
	// (see docs/apps.md).
	RepoURL string
	// Extractors add image fields of custom resources to the built-in ones.
	Extractors Extractors
	// Logger receives debug detail; the default discards it.
	Logger *slog.Logger
	// Clusters is the gate's configured list of Argo CD clusters, which
	// ApplicationSet clusters generators expand to (plus Argo CD's
	// in-cluster default). It is configuration, never read from the
	// repository under review.
	Clusters []Cluster
	// HelmSandbox, when set, renders Helm templates in a child process with
	// a deadline and a memory limit. Without it they run in this process,
	// where a template that loops cannot be stopped.
	HelmSandbox *HelmSandbox

	// KubeVersion and APIVersions are the destination cluster's, as Helm
	// charts see them (.Capabilities.KubeVersion, .Capabilities.APIVersions)
	// unless an Application sets its own: Argo CD renders with the
	// cluster's. Defaults: DefaultKubeVersion and Helm's built-in API
	// versions.
	KubeVersion string
	APIVersions []string
	// ArgoCDNamespace is the namespace Argo CD runs in (default "argocd"):
	// it decides the name Argo CD gives an Application, and so which
	// .argocd-source-<name>.yaml it reads.
	ArgoCDNamespace string
	// AllowSources are the repositories (Git, Helm or OCI, by URL) other
	// than this one that Applications may take their sources from. They come
	// from the gate's configuration, never from the repository. A source
	// from any other repository is an app error.
	AllowSources []string
	// Revisions, when set, are the targetRevisions under which Argo CD
	// renders this repository from the commit being checked (e.g. HEAD and
	// the branch a pull request merges into; "" counts as HEAD, refs/heads/
	// may be left out). A source of this repository at any other revision
	// is fetched at that revision through Sources, or is an app error: the
	// checkout is not what Argo CD would sync. When empty, every revision
	// is taken to be this checkout.
	Revisions []string
	// Sources fetches allowed Git sources; without it an allowed Git source
	// is an app error too. manifests/ never talks to the network itself.
	Sources SourceFetcher
	// Charts fetches charts of allowed Helm repositories and OCI
	// registries, for Applications' chart sources and for chart
	// dependencies; without it those are app errors.
	Charts ChartFetcher
}

// DefaultKubeVersion is the Kubernetes version charts render for when
// neither the Application nor the gate's configuration gives one: a
// current release, not Helm's built-in default (which is years old).
const DefaultKubeVersion = "v1.34.0"

// DefaultArgoCDNamespace is the namespace Argo CD is installed in by default.
const DefaultArgoCDNamespace = "argocd"

// SourceFetcher fetches a Git repository the gate's configuration allows.
type SourceFetcher interface {
	// FetchGit checks out revision (a branch, tag, commit or HEAD, as in
	// an Application's targetRevision) of repoURL into a local directory
	// and returns it with the commit it resolved to. The directory stays
	// the caller's: it removes it when the evaluation is over.
	FetchGit(ctx context.Context, repoURL, revision string) (dir, commit string, err error)
}

func (o Options) withDefaults() Options {
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.MaxDocumentNodes <= 0 {
		o.MaxDocumentNodes = DefaultMaxDocumentNodes
	}
	if o.Concurrency <= 0 {
		o.Concurrency = runtime.GOMAXPROCS(0)
	}
	if o.KubeVersion == "" {
		o.KubeVersion = DefaultKubeVersion
	}
	if o.ArgoCDNamespace == "" {
		o.ArgoCDNamespace = DefaultArgoCDNamespace
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Repo is a checkout of a GitOps repository on local disk. It is safe for
// concurrent use: it holds no mutable state after Open.
type Repo struct {
	root string // absolute, symlinks resolved
	opts Options

	// realDirs caches the resolved form of directories already confined:
	// resolving a path lstat's each of its components, and renderers read
	// many files of the same few directories.
	realDirs sync.Map // string -> string

	// reads caches file contents (and read errors) by path: discovery and
	// rendering read the same files, and a checkout does not change while a
	// Repo is in use. Cached data is shared and must not be modified.
	reads       sync.Map // string -> cachedRead
	cachedBytes atomic.Int64

	// prerendered holds layout apps that discovery already rendered to find
	// Applications (app-of-apps), by path, so that a scan does not render them
	// twice. Each entry is used once.
	prerendered sync.Map // string -> *Rendered

	// remotes are the checkouts of allowed Git sources, by repoURL and
	// revision, opened by Discover.
	remotes sync.Map // string -> *remoteRepo
	// charts are the allowed charts fetched, by chartKey.
	charts sync.Map // string -> *fetchedChart
}

type remoteRepo struct {
	once   sync.Once
	repo   *Repo
	commit string
	err    error
}

type cachedRead struct {
	data []byte
	err  error
}

// maxCachedBytes bounds the read cache; files past it are read each time.
const maxCachedBytes = 256 << 20

// Open prepares the directory dir for discovery and rendering. The
// repository's own .gitops-gate.yaml may add image extractors to opts; it is
// read by Discover, not here.
func Open(dir string, opts Options) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", dir, err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("repository %q: not a directory", dir)
	}
	return &Repo{root: real, opts: opts.withDefaults()}, nil
}

// Root is the absolute path of the repository.
func (r *Repo) Root() string { return r.root }

// rel turns an absolute path inside the repository into the slash-separated
// repository-relative form used in reports.
func (r *Repo) rel(abs string) string {
	rel, err := filepath.Rel(r.root, abs)
	if err != nil {
		return filepath.ToSlash(abs)
	}
	return filepath.ToSlash(rel)
}

// abs turns a repository-relative path into an absolute one, refusing paths
// that climb out of the repository ("../../etc").
func (r *Repo) abs(rel string) (string, error) {
	if filepath.IsAbs(rel) {
		return "", &FileError{File: rel, Err: fmt.Errorf("absolute path: want a path relative to the repository root")}
	}
	joined := filepath.Join(r.root, filepath.FromSlash(rel))
	if !within(r.root, joined) {
		return "", &FileError{File: rel, Err: fmt.Errorf("path is %w", ErrOutsideRepo)}
	}
	return joined, nil
}

// within reports whether p is root or below it (both absolute and clean).
func within(root, p string) bool {
	if p == root {
		return true
	}
	return strings.HasPrefix(p, root+string(filepath.Separator))
}

// confine resolves symlinks in abs and checks that the result stays in the
// repository. It returns the real path.
func (r *Repo) confine(abs string) (string, error) {
	abs = filepath.Clean(abs)
	real, err := r.resolve(abs)
	if err != nil {
		return "", err
	}
	if !within(r.root, real) {
		return "", &FileError{File: r.rel(abs), Err: fmt.Errorf("symlink to %s leads %w", real, ErrOutsideRepo)}
	}
	return real, nil
}

// resolve is filepath.EvalSymlinks with the parent directory's resolution
// cached. Only the last component is resolved afresh each time.
func (r *Repo) resolve(abs string) (string, error) {
	dir, base := filepath.Split(abs)
	dir = filepath.Clean(dir)
	realDir, ok := r.realDirs.Load(dir)
	if !ok {
		d, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return "", err
		}
		r.realDirs.Store(dir, d)
		realDir = d
	}
	p := filepath.Join(realDir.(string), base)
	st, err := os.Lstat(p)
	if err != nil {
		return "", err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		return filepath.EvalSymlinks(p)
	}
	return p, nil
}

// readFile reads a repository file after confinement and size checks. The
// returned slice may be shared: callers must not modify it.
func (r *Repo) readFile(abs string) ([]byte, error) {
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

func (r *Repo) readFileUncached(abs string) ([]byte, error) {
	real, err := r.confine(abs)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &FileError{File: r.rel(abs), Err: fmt.Errorf("not a regular file")}
	}
	if st.Size() > r.opts.MaxFileSize {
		return nil, &FileError{File: r.rel(abs), Err: fmt.Errorf("file of %d bytes is %w (limit %d bytes)", st.Size(), ErrTooLarge, r.opts.MaxFileSize)}
	}
	// Read at most one byte past the limit in case the file grows under us.
	data, err := io.ReadAll(io.LimitReader(f, r.opts.MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > r.opts.MaxFileSize {
		return nil, &FileError{File: r.rel(abs), Err: fmt.Errorf("file is %w (limit %d bytes)", ErrTooLarge, r.opts.MaxFileSize)}
	}
	return data, nil
}

// isManifestFile reports whether a file name is read as YAML or JSON manifests.
func isManifestFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// skipDir reports directories that never hold an app's manifests: hidden
// directories (.git, .github) are CI and tooling, not deployments.
func skipDir(d fs.DirEntry, isRoot bool) bool {
	return !isRoot && strings.HasPrefix(d.Name(), ".")
}
