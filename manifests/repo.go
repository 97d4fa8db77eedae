package manifests

import (
	"context"
	"fmt"
	"github.com/gitops-gate/gitops-gate/manifests/model"
	"github.com/gitops-gate/gitops-gate/manifests/render"
	"github.com/gitops-gate/gitops-gate/manifests/tree"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
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
	// Artifacts fetches OCI artifacts of allowed registries (oci://
	// sources without a chart); without it those are app errors.
	Artifacts ArtifactFetcher
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

	// files is the confined, cached access to the checkout's files.
	files tree.Tree

	// prerendered holds layout apps that discovery already rendered to find
	// Applications (app-of-apps), by path, so that a scan does not render them
	// twice. Each entry is used once.
	prerendered sync.Map // string -> *Rendered

	// remotes are the checkouts of allowed Git sources, by repoURL and
	// revision, opened by Discover.
	remotes sync.Map // string -> *remoteRepo
	// charts are the allowed charts fetched, by chartKey.
	charts sync.Map // string -> *fetchedChart
	// artifacts are the allowed OCI artifacts fetched, by artifactKey.
	artifacts sync.Map // string -> *fetchedArtifact

	// inputs caches the hashes of input sets (inputs.go); recorders holds
	// each rendered app's recorder until Scan asks for its input set.
	inputs    inputCache
	recorders sync.Map // *Rendered -> *recorder

	// parsed shares decoded files between the apps of this checkout.
	parsed render.Parsed
}

type remoteRepo struct {
	once   sync.Once
	repo   *Repo
	commit string
	err    error
}

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
	opts = opts.withDefaults()
	return &Repo{root: real, opts: opts, files: tree.New(real, opts.MaxFileSize)}, nil
}

// Root is the absolute path of the repository.
func (r *Repo) Root() string { return r.root }

// The confined file access is package tree's; these keep the names the
// code of this package has always used.
func (r *Repo) rel(abs string) string               { return r.files.Rel(abs) }
func (r *Repo) abs(rel string) (string, error)      { return r.files.Abs(rel) }
func (r *Repo) confine(abs string) (string, error)  { return r.files.Confine(abs) }
func (r *Repo) readFile(abs string) ([]byte, error) { return r.files.ReadFile(abs) }

var within = tree.Within

// Layout rules of package tree, under the names this package's code uses.
var (
	isManifestFile         = tree.IsManifestFile
	detectKind             = tree.DetectKind
	kustomizationFileNames = tree.KustomizationFileNames
)
