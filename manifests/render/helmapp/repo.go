// Package helmapp is the repository side of Helm apps: it checks a chart's
// files against the repository's limits, gathers its dependencies (through
// the caller), merges values as Argo CD does (value files of this and ref
// repositories, values, valuesObject, parameters) and renders through
// package helm's engine or sandbox, decoding the output.
package helmapp

import (
	"context"

	"github.com/gitops-gate/gitops-gate/manifests/extract"
	"github.com/gitops-gate/gitops-gate/manifests/model"
	"github.com/gitops-gate/gitops-gate/manifests/render"
	"github.com/gitops-gate/gitops-gate/manifests/tree"
	"helm.sh/helm/v3/pkg/chart"
)

// Repo is the checkout as this renderer sees it: the confined tree it
// reads through and the render options.
type Repo struct {
	tree.Tree
	root string
	opts render.Options
	// fetchDependencies fetches the chart dependencies missing from
	// charts/ from allowed repositories (the caller's, which owns the
	// fetchers and their cache) and returns their directories.
	fetchDependencies func(ctx context.Context, dir string, c *chart.Chart, app *App) ([]string, error)
}

// The renderer's code predates package tree; these keep its names.
func (r *Repo) rel(abs string) string               { return r.Rel(abs) }
func (r *Repo) abs(rel string) (string, error)      { return r.Abs(rel) }
func (r *Repo) readFile(abs string) ([]byte, error) { return r.ReadFile(abs) }
func (r *Repo) redactErr(err error) error           { return render.RedactErr(r.root, err) }

// Input recording goes through the Tree when it is a tree.Recorder.
func (r *Repo) recordDir(abs string)       { tree.RecordDir(r.Tree, abs) }
func (r *Repo) recordAlways(reason string) { tree.RecordAlways(r.Tree, reason) }

// Names of the packages below, as this renderer's code uses them.
type (
	App           = model.App
	Resource      = model.Resource
	FileError     = model.FileError
	Rendered      = render.Rendered
	DecodeOptions = extract.DecodeOptions
)

var (
	within          = tree.Within
	checkAliases    = model.CheckAliases
	DecodeManifests = extract.DecodeManifests
	ErrOutsideRepo  = model.ErrOutsideRepo
)

// New returns the Helm renderer of t; fetchDependencies fetches the
// dependencies a chart does not vendor (it must not be nil).
func New(t tree.Tree, opts render.Options, fetchDependencies func(ctx context.Context, dir string, c *chart.Chart, app *App) ([]string, error)) *Repo {
	return &Repo{Tree: t, root: t.Root(), opts: opts, fetchDependencies: fetchDependencies}
}

// Render renders a Helm app (see renderHelm).
func (r *Repo) Render(ctx context.Context, dir string, out *Rendered) { r.renderHelm(ctx, dir, out) }

// CheckChartFiles checks every file of the chart in dir of t as the
// renderer does before loading it (see checkChartFiles).
func CheckChartFiles(t tree.Tree, opts render.Options, dir string) error {
	return New(t, opts, nil).checkChartFiles(dir)
}

// valueRepos gives the ref repositories of value files this renderer's
// view.
func (r *Repo) valueRepos(values map[string]tree.Tree) map[string]*Repo {
	out := make(map[string]*Repo, len(values))
	for ref, t := range values {
		out[ref] = &Repo{Tree: t, root: t.Root(), opts: r.opts}
	}
	return out
}
