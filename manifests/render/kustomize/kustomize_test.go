package kustomize

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/gitops-gate/gitops-gate/manifests/model"
	"github.com/gitops-gate/gitops-gate/manifests/render"
	"github.com/gitops-gate/gitops-gate/manifests/render/rendertest"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: web
        image: registry.example/web:1
`

// TestRenderReadsThroughTree: the Kustomize renderer works on its own,
// without package manifests, and every file it reads goes through the
// Tree it is given (the seam a caller wraps to record a render's inputs).
func TestRenderReadsThroughTree(t *testing.T) {
	tr := rendertest.Tree(t, map[string]string{
		"app/kustomization.yaml": "resources: [d.yaml]\nimages:\n- name: registry.example/web\n  newTag: \"2\"\n",
		"app/d.yaml":             deployment,
	})
	out := &render.Rendered{App: model.App{Name: "app", Path: "app", Kind: model.KindKustomize}}
	var r render.Renderer = New(tr, render.Options{MaxDocumentNodes: model.DefaultMaxDocumentNodes})
	r.Render(t.Context(), filepath.Join(tr.Root(), "app"), out)
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	refs := out.Images(nil)
	if len(refs) != 1 || refs[0].Image != "registry.example/web:2" || refs[0].File != "app/kustomization.yaml" {
		t.Fatalf("images = %+v, want registry.example/web:2 written in app/kustomization.yaml", refs)
	}
	for _, want := range []string{"app/d.yaml", "app/kustomization.yaml"} {
		if !slices.Contains(tr.Reads(), want) {
			t.Errorf("reads = %v, want %s among them", tr.Reads(), want)
		}
	}
}

// TestRenderRefusesRemoteBase: a remote base is an app error, not a
// download.
func TestRenderRefusesRemoteBase(t *testing.T) {
	tr := rendertest.Tree(t, map[string]string{
		"app/kustomization.yaml": "resources: [https://github.com/example/base]\n",
	})
	out := &render.Rendered{App: model.App{Name: "app", Path: "app", Kind: model.KindKustomize}}
	New(tr, render.Options{MaxDocumentNodes: model.DefaultMaxDocumentNodes}).Render(t.Context(), filepath.Join(tr.Root(), "app"), out)
	if out.Err == nil || len(out.Resources) != 0 {
		t.Fatalf("err = %v, %d resources; want an error and nothing rendered", out.Err, len(out.Resources))
	}
}
