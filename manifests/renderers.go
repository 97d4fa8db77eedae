package manifests

import (
	"github.com/gitops-gate/gitops-gate/manifests/render"
	"github.com/gitops-gate/gitops-gate/manifests/render/helmapp"
	"github.com/gitops-gate/gitops-gate/manifests/render/jsonnetapp"
	"github.com/gitops-gate/gitops-gate/manifests/render/kustomize"
	"github.com/gitops-gate/gitops-gate/manifests/render/plain"
	"github.com/gitops-gate/gitops-gate/manifests/tree"
)

// The renderers live in packages under render/, each behind
// render.Renderer and reading only through r.files; these give them r's
// tree and options.

func (r *Repo) renderOptions() render.Options {
	return render.Options{
		MaxFileSize:      r.opts.MaxFileSize,
		MaxDocumentNodes: r.opts.MaxDocumentNodes,
		RepoURL:          r.opts.RepoURL,
		KubeVersion:      r.opts.KubeVersion,
		APIVersions:      r.opts.APIVersions,
		HelmSandbox:      r.opts.HelmSandbox,
		Parsed:           &r.parsed,
	}
}

// renderer returns the renderer of an app kind; nil for kinds that are not
// rendered.
// files is the tree the renderer reads through: r's own, or one app's
// recording view of it.
func (r *Repo) renderer(kind Kind, files tree.Tree) render.Renderer {
	ro := r.renderOptions()
	switch kind {
	case KindPlain:
		return plain.New(files, ro, jsonnetapp.New(files, ro).EvalFiles)
	case KindKustomize:
		return kustomize.New(files, ro)
	case KindHelm:
		return helmapp.New(files, ro, r.fetchDependencies)
	case KindJsonnet:
		return jsonnetapp.New(files, ro)
	}
	return nil
}

// readManifests parses one repository file into objects with exact lines.
func (r *Repo) readManifests(abs string) ([]Resource, error) {
	return render.ReadManifests(r.files, abs, r.opts.MaxDocumentNodes)
}

// checkChartFiles checks a chart's files as the Helm renderer does.
func (r *Repo) checkChartFiles(dir string) error {
	return helmapp.CheckChartFiles(r.files, r.renderOptions(), dir)
}

// valueTrees are the trees of the ref repositories of an app's value files;
// the checkout's own is read through files (the app's recording tree).
func (r *Repo) valueTrees(values map[string]*Repo, files tree.Tree) map[string]tree.Tree {
	if values == nil {
		return nil
	}
	out := make(map[string]tree.Tree, len(values))
	for ref, v := range values {
		out[ref] = v.files
		if v == r {
			out[ref] = files
		}
	}
	return out
}
