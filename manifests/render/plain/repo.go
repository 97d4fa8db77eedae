// Package plain renders directory apps: every YAML and JSON manifest of an
// app's directory, chosen as Argo CD chooses them for an Application
// (recursion, include/exclude globs, the skip-rendering marker) or by the
// layout rules otherwise.
package plain

import (
	"context"

	"github.com/gitops-gate/gitops-gate/manifests/model"
	"github.com/gitops-gate/gitops-gate/manifests/render"
	"github.com/gitops-gate/gitops-gate/manifests/tree"
	"github.com/gobwas/glob"
)

// Repo is the checkout as this renderer sees it: the confined tree it
// reads through and the render options.
type Repo struct {
	tree.Tree
	root string
	opts render.Options
	// evalJsonnetFiles evaluates the .jsonnet files an Argo CD directory
	// app holds (package jsonnetapp's, which imports this one).
	evalJsonnetFiles func(ctx context.Context, app App, files []string) ([]Resource, error)
}

// The renderer's code predates package tree; these keep its names.
func (r *Repo) rel(abs string) string               { return r.Rel(abs) }
func (r *Repo) abs(rel string) (string, error)      { return r.Abs(rel) }
func (r *Repo) confine(abs string) (string, error)  { return r.Confine(abs) }
func (r *Repo) readFile(abs string) ([]byte, error) { return r.ReadFile(abs) }
func (r *Repo) readManifests(abs string) ([]Resource, error) {
	return render.ReadManifests(r, abs, r.opts.MaxDocumentNodes)
}

// Input recording goes through the Tree when it is a tree.Recorder.
func (r *Repo) recordDir(abs string) { tree.RecordDir(r.Tree, abs) }

// Names of the packages below, as this renderer's code uses them.
type (
	App       = model.App
	Resource  = model.Resource
	FileError = model.FileError
	Rendered  = render.Rendered
)

var (
	skipDir           = tree.SkipDir
	detectKind        = tree.DetectKind
	kustomizationFile = tree.KustomizationFile
	isManifestFile    = tree.IsManifestFile
)

const KindHelm = model.KindHelm

// New returns the plain renderer of t. evalJsonnet evaluates the Jsonnet
// files of an Argo CD directory app (see jsonnetapp.Repo.EvalFiles).
func New(t tree.Tree, opts render.Options, evalJsonnet func(ctx context.Context, app App, files []string) ([]Resource, error)) *Repo {
	return &Repo{Tree: t, root: t.Root(), opts: opts, evalJsonnetFiles: evalJsonnet}
}

// Render renders a directory app (see renderPlain).
func (r *Repo) Render(ctx context.Context, dir string, out *Rendered) { r.renderPlain(ctx, dir, out) }

// CompileArgoGlob compiles a directory include/exclude pattern as Argo CD
// does (see compileArgoGlob).
func CompileArgoGlob(pattern string) (glob.Glob, error) { return compileArgoGlob(pattern) }
