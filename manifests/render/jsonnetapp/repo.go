// Package jsonnetapp renders Jsonnet apps: it picks an app's .jsonnet
// files as Argo CD does, substitutes Argo CD's build environment into TLAs
// and external variables, evaluates them through package jsonnet (or the
// sandbox) and decodes the output. Package jsonnet is the evaluator; this
// is the app side.
package jsonnetapp

import (
	"context"

	"github.com/gitops-gate/gitops-gate/manifests/model"
	"github.com/gitops-gate/gitops-gate/manifests/render"
	"github.com/gitops-gate/gitops-gate/manifests/render/plain"
	"github.com/gitops-gate/gitops-gate/manifests/tree"
)

// Repo is the checkout as this renderer sees it: the confined tree it
// reads through and the render options.
type Repo struct {
	tree.Tree
	root string
	opts render.Options
	// renderPlain renders the app's manifests beside its Jsonnet files.
	renderPlain func(ctx context.Context, dir string, out *Rendered)
}

// The renderer's code predates package tree; these keep its names.
func (r *Repo) rel(abs string) string          { return r.Rel(abs) }
func (r *Repo) abs(rel string) (string, error) { return r.Abs(rel) }

func (r *Repo) readFile(abs string) ([]byte, error) { return r.ReadFile(abs) }

// Input recording goes through the Tree when it is a tree.Recorder.
func (r *Repo) recordDir(abs string)       { tree.RecordDir(r.Tree, abs) }
func (r *Repo) recordAlways(reason string) { tree.RecordAlways(r.Tree, reason) }

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
	objectsOf         = model.ObjectsOf
	ErrUnsupported    = model.ErrUnsupported
)

const KindHelm = model.KindHelm

// New returns the Jsonnet renderer of t.
func New(t tree.Tree, opts render.Options) *Repo {
	r := &Repo{Tree: t, root: t.Root(), opts: opts}
	r.renderPlain = plain.New(t, opts, r.evalJsonnetFiles).Render
	return r
}

// Render renders a Jsonnet app (see renderJsonnet).
func (r *Repo) Render(ctx context.Context, dir string, out *Rendered) { r.renderJsonnet(ctx, dir, out) }

// EvalFiles evaluates repository-relative .jsonnet files of app (see
// evalJsonnetFiles); plain renderers call it for Argo CD directory apps.
func (r *Repo) EvalFiles(ctx context.Context, app App, files []string) ([]Resource, error) {
	return r.evalJsonnetFiles(ctx, app, files)
}

var compileArgoGlob = plain.CompileArgoGlob
