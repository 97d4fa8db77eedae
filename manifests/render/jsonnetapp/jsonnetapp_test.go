package jsonnetapp

import (
	"path/filepath"
	"testing"

	"github.com/gitops-gate/gitops-gate/manifests/model"
	"github.com/gitops-gate/gitops-gate/manifests/render"
	"github.com/gitops-gate/gitops-gate/manifests/render/rendertest"
)

// TestRenderOnItsOwn: the Jsonnet renderer works without package
// manifests: it evaluates the app's .jsonnet files with Argo CD's build
// environment in TLAs, and an unknown ARGOCD_APP_ variable is an error.
func TestRenderOnItsOwn(t *testing.T) {
	tr := rendertest.Tree(t, map[string]string{
		"app/main.jsonnet": `function(tag) [{apiVersion: "v1", kind: "Pod", metadata: {name: "p"}, spec: {containers: [{name: "c", image: "registry.example/web:" + tag}]}}]`,
	})
	app := model.App{Name: "web", Path: "app", Kind: model.KindJsonnet}
	app.Directory.Jsonnet.TLAs = []model.JsonnetVar{{Name: "tag", Value: "$ARGOCD_APP_NAME"}}
	out := &render.Rendered{App: app}
	var r render.Renderer = New(tr, render.Options{MaxDocumentNodes: model.DefaultMaxDocumentNodes, MaxFileSize: 1 << 20})
	r.Render(t.Context(), filepath.Join(tr.Root(), "app"), out)
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	if refs := out.Images(nil); len(refs) != 1 || refs[0].Image != "registry.example/web:web" {
		t.Fatalf("images = %+v, want registry.example/web:web", refs)
	}

	app.Directory.Jsonnet.TLAs = []model.JsonnetVar{{Name: "tag", Value: "$ARGOCD_APP_REVISION"}}
	out = &render.Rendered{App: app}
	r.Render(t.Context(), filepath.Join(tr.Root(), "app"), out)
	if out.Err == nil {
		t.Fatal("an ARGOCD_APP_ variable not known offline rendered without an error")
	}
}
