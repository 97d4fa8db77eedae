package manifests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/gitops-gate/gitops-gate/manifests/render"
	"github.com/gitops-gate/gitops-gate/manifests/tree"
)

// Render renders one app. It never returns nil; errors are in Rendered.Err.
//
// Objects without a namespace get the app's destination namespace, as Argo
// CD applies them (unless their kind is cluster-scoped): policies match the
// namespace a resource lands in.
func (r *Repo) Render(ctx context.Context, app App) *Rendered {
	rc := newRecorder()
	out := r.render(ctx, app, nil, r.recordingTree(rc))
	// A layout app discovery rendered keeps the recorder it rendered with.
	if _, ok := r.recorders.Load(out); !ok {
		r.recorders.Store(out, rc)
	}
	if app.Namespace != "" {
		for i := range out.Resources {
			id := &out.Resources[i].ResourceID
			if id.Namespace == "" && !clusterScoped(id.APIVersion, id.Kind) {
				id.Namespace = app.Namespace
			}
		}
	}
	return out
}

// clusterScoped reports kinds that have no namespace: the built-in ones,
// and by convention every kind named Cluster* (ClusterRole,
// ClusterWorkflowTemplate, ClusterTask...). Other custom kinds are taken as
// namespaced, as most are.
func clusterScoped(apiVersion, kind string) bool {
	if strings.HasPrefix(kind, "Cluster") {
		return true
	}
	switch kind {
	case "Namespace", "Node", "PersistentVolume", "StorageClass", "CustomResourceDefinition", "PriorityClass",
		"APIService", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy",
		"ValidatingAdmissionPolicyBinding", "CSIDriver", "CSINode", "IngressClass", "RuntimeClass",
		"VolumeAttachment", "CertificateSigningRequest", "ComponentStatus":
		return true
	}
	return false
}

// render renders app from r's files. values are the repositories of the
// app's ref sources (App.ValueSources) by ref name; nil means r is the
// repository discovery ran in, which finds them.
//
// files is what the renderers read through: one app's recording tree
// (Render), or r's own files for an app rendered from a fetched checkout.
func (r *Repo) render(ctx context.Context, app App, values map[string]*Repo, files tree.Tree) *Rendered {
	rt, _ := files.(*recordingTree)
	if rt != nil {
		r.recordDefinition(rt, app)
	}
	for _, vs := range app.ValueSources {
		if vs.Commit != "" {
			tree.RecordAlways(files, "value files come from "+vs.RepoURL)
		}
	}
	if values == nil && len(app.ValueSources) > 0 && app.Err == nil {
		var err error
		if values, err = r.valueRepos(app); err != nil {
			return &Rendered{App: app, Err: err}
		}
	}
	if app.Remote != nil && app.Err == nil {
		tree.RecordAlways(files, "its files come from "+app.Remote.RepoURL)
		var from *Repo
		switch {
		case app.Remote.Chart != "":
			if v, ok := r.charts.Load(chartKey(app.Remote.RepoURL, app.Remote.Chart, app.Remote.Revision)); ok {
				from = v.(*fetchedChart).repo
			}
		case strings.HasPrefix(app.Remote.RepoURL, "oci://"):
			if v, ok := r.artifacts.Load(artifactKey(app.Remote.RepoURL, app.Remote.Revision)); ok {
				from = v.(*fetchedArtifact).repo
			}
		default:
			if v, ok := r.remotes.Load(remoteKey(app.Remote)); ok {
				from = v.(*remoteRepo).repo
			}
		}
		if from == nil {
			return &Rendered{App: app, Err: fmt.Errorf("app %s: %s was not fetched", app.Name, app.Remote.RepoURL)}
		}
		local := app
		local.Remote = nil // its files are the fetched checkout's own
		local.ValueSources = nil
		out := from.render(ctx, local, values, from.files)
		deps := out.App.Dependencies // found while rendering
		out.App = app
		out.App.Dependencies = deps
		return out
	}
	if app.DefinedIn == definedByLayout {
		if v, ok := r.prerendered.LoadAndDelete(app.Path); ok && v.(*Rendered).App.Kind == app.Kind {
			rd := *v.(*Rendered)
			rd.App = app
			if rc, ok := r.recorders.LoadAndDelete(v.(*Rendered)); ok {
				r.recorders.Store(&rd, rc)
			}
			return &rd
		}
	}
	out := &Rendered{App: app, Values: r.valueTrees(values, files)}
	if app.Err != nil {
		tree.RecordAlways(files, "discovery found an error")
		out.Err = app.Err
		return out
	}
	if err := ctx.Err(); err != nil {
		out.Err = err
		return out
	}
	dir, err := r.abs(app.Path)
	if err == nil {
		_, err = r.confine(dir)
	}
	if err != nil {
		out.Err = fmt.Errorf("app path %s: %w", app.Path, err)
		return out
	}
	tree.RecordDir(files, dir)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		out.Err = &FileError{File: app.Path, Err: errors.New("app directory does not exist in the repository")}
		return out
	}
	switch app.Kind {
	case KindPlain, KindKustomize, KindHelm, KindJsonnet:
		r.renderer(app.Kind, files).Render(ctx, dir, out)
	case KindPlugin:
		out.Err = fmt.Errorf("app %s uses an Argo CD Config Management Plugin: plugins are %w, so its images cannot be seen", app.Path, ErrUnsupported)
	default:
		out.Err = fmt.Errorf("app %s: unknown kind %q (want plain, kustomize, helm or jsonnet)", app.Path, app.Kind)
	}
	return out
}

// Rendered is one app's output (see render.Rendered).
type Rendered = render.Rendered

// inputsOf is what rendering and extracting rd read: call it after Images
// and Warnings. Each rendered app's recorder is handed out once.
func (r *Repo) inputsOf(rd *Rendered) *InputSet {
	v, ok := r.recorders.LoadAndDelete(rd)
	if !ok {
		return &InputSet{Always: "no input set recorded"}
	}
	return v.(*recorder).set()
}
