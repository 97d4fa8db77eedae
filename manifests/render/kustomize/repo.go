// Package kustomize renders Kustomize apps in-process with krusty, every
// read confined to the repository through a tree.Tree, remote bases and
// plugins refused, Argo CD's kustomize settings applied to the app's own
// kustomization, and rendered values traced back to the file they are
// written in (see locate.go).
package kustomize

import (
	"context"

	"github.com/gitops-gate/gitops-gate/manifests/extract"
	"github.com/gitops-gate/gitops-gate/manifests/model"
	"github.com/gitops-gate/gitops-gate/manifests/render"
	"github.com/gitops-gate/gitops-gate/manifests/tree"
)

// Repo is the checkout as this renderer sees it: the confined tree it
// reads through and the render options.
type Repo struct {
	tree.Tree
	root string
	opts render.Options
}

// The renderer's code predates package tree; these keep its names.
func (r *Repo) rel(abs string) string               { return r.Rel(abs) }
func (r *Repo) abs(rel string) (string, error)      { return r.Abs(rel) }
func (r *Repo) confine(abs string) (string, error)  { return r.Confine(abs) }
func (r *Repo) readFile(abs string) ([]byte, error) { return r.ReadFile(abs) }
func (r *Repo) readManifests(abs string) ([]Resource, error) {
	return render.ReadManifests(r, abs, r.opts.MaxDocumentNodes)
}

// readShared is readManifests for a file other apps may read too; its
// objects are shared and must not be modified.
func (r *Repo) readShared(abs string) ([]Resource, error) {
	return r.opts.Parsed.ReadManifests(r, abs, r.opts.MaxDocumentNodes)
}
func (r *Repo) redactErr(err error) error { return render.RedactErr(r.root, err) }

// Input recording goes through the Tree when it is a tree.Recorder.
func (r *Repo) recordDir(abs string)       { tree.RecordDir(r.Tree, abs) }
func (r *Repo) recordProbe(abs string)     { tree.RecordProbe(r.Tree, abs) }
func (r *Repo) recordAlways(reason string) { tree.RecordAlways(r.Tree, reason) }

// Names of the packages below, as this renderer's code uses them.
type (
	App              = model.App
	Resource         = model.Resource
	ResourceID       = model.ResourceID
	FileError        = model.FileError
	KustomizeOptions = model.KustomizeOptions
	Rendered         = render.Rendered
	ImageRef         = extract.ImageRef
)

var (
	within            = tree.Within
	kustomizationFile = tree.KustomizationFile
	checkAliases      = model.CheckAliases
	ErrUnsupported    = model.ErrUnsupported
	ErrOutsideRepo    = model.ErrOutsideRepo
)

// New returns the Kustomize renderer of t.
func New(t tree.Tree, opts render.Options) *Repo {
	return &Repo{Tree: t, root: t.Root(), opts: opts}
}

// Render renders a Kustomize app (see renderKustomize).
func (r *Repo) Render(ctx context.Context, dir string, out *Rendered) {
	r.renderKustomize(ctx, dir, out)
}

// YAML helpers of package model, under the names this renderer's code uses.
var (
	mapGet       = model.MapGet
	mapKey       = model.MapKey
	deref        = model.Deref
	scalarString = model.ScalarString
	yamlLineRE   = model.YAMLLineRE
)
