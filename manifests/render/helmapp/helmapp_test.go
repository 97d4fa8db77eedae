package helmapp

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gitops-gate/gitops-gate/manifests/model"
	"github.com/gitops-gate/gitops-gate/manifests/render"
	"github.com/gitops-gate/gitops-gate/manifests/render/rendertest"
	"github.com/gitops-gate/gitops-gate/manifests/tree"
	"helm.sh/helm/v3/pkg/chart"
)

func noDependencies(context.Context, string, *chart.Chart, *App) ([]string, error) { return nil, nil }

// TestRenderReadsThroughTree: the Helm renderer works on its own, without
// package manifests: it reads the chart's files and a ref source's value
// file through the Trees it is given, and an app's values override the
// chart's.
func TestRenderReadsThroughTree(t *testing.T) {
	tr := rendertest.Tree(t, map[string]string{
		"chart/Chart.yaml":         "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"chart/values.yaml":        "image: registry.example/web:1\n",
		"chart/templates/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: {{ .Values.image }}\n",
	})
	values := rendertest.Tree(t, map[string]string{"env/prod.yaml": "image: registry.example/web:2\n"})
	app := model.App{Name: "web", Path: "chart", Kind: model.KindHelm}
	app.Helm.ValueFiles = []string{"$values/env/prod.yaml"}
	out := &render.Rendered{App: app, Values: map[string]tree.Tree{"values": values}}
	var r render.Renderer = New(tr, render.Options{MaxDocumentNodes: model.DefaultMaxDocumentNodes, KubeVersion: "v1.34.0"}, noDependencies)
	r.Render(t.Context(), filepath.Join(tr.Root(), "chart"), out)
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	refs := out.Images(nil)
	if len(refs) != 1 || refs[0].Image != "registry.example/web:2" || refs[0].File != "chart/templates/pod.yaml" {
		t.Fatalf("images = %+v, want registry.example/web:2 from chart/templates/pod.yaml", refs)
	}
	if !slices.Contains(tr.Reads(), "chart/templates/pod.yaml") || !slices.Equal(values.Reads(), []string{"env/prod.yaml"}) {
		t.Errorf("reads = %v and %v, want the chart's files and env/prod.yaml", tr.Reads(), values.Reads())
	}
}
