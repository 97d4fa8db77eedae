package plain

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/gitops-gate/gitops-gate/manifests/model"
	"github.com/gitops-gate/gitops-gate/manifests/render"
	"github.com/gitops-gate/gitops-gate/manifests/render/rendertest"
)

// TestArgoIgnoresOnlyWhatArgoCDIgnores: in a directory app Argo CD skips a
// YAML file it cannot decode only when it does not look like a resource
// (getObjsFromYAMLOrJSON in repository.go). Flow-style YAML with quoted keys
// has none of the substrings Argo CD looks for, yet Argo CD decodes and
// applies it: the gate may drop its own error on a file only when Argo CD
// cannot decode it either.
func TestArgoIgnoresOnlyWhatArgoCDIgnores(t *testing.T) {
	for _, c := range []struct {
		doc     string
		rejects bool
	}{
		{"resources: [d.yaml]\n", true}, // a kustomization without kind
		{"- a\n- b\n", true},            // not a mapping
		{"a: [unclosed\n", true},        // not YAML
		{"---\n---\nfoo: bar\n", true},  // empty documents are skipped
		{`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}`, false},
		{"kind: Kustomization\napiVersion: kustomize.config.k8s.io/v1beta1\n", false},
		{"", false},
	} {
		if got := argoRejectsFirstObject([]byte(c.doc)); got != c.rejects {
			t.Errorf("%q: Argo CD rejects = %v, want %v", c.doc, got, c.rejects)
		}
	}
}

// TestRenderReadsThroughTree: the plain renderer works on its own, without
// package manifests, and reads every manifest through the Tree it is given.
func TestRenderReadsThroughTree(t *testing.T) {
	tr := rendertest.Tree(t, map[string]string{
		"app/d.yaml":       "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: registry.example/web:1\n",
		"app/.hidden.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: h\nspec:\n  containers:\n  - name: c\n    image: registry.example/hidden:1\n",
	})
	out := &render.Rendered{App: model.App{Name: "app", Path: "app", Kind: model.KindPlain}}
	var r render.Renderer = New(tr, render.Options{MaxDocumentNodes: model.DefaultMaxDocumentNodes}, nil)
	r.Render(t.Context(), filepath.Join(tr.Root(), "app"), out)
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	refs := out.Images(nil)
	if len(refs) != 1 || refs[0].Image != "registry.example/web:1" || refs[0].File != "app/d.yaml" || refs[0].Line != 8 {
		t.Fatalf("images = %+v, want registry.example/web:1 at app/d.yaml:8", refs)
	}
	if got := tr.Reads(); !slices.Equal(got, []string{"app/d.yaml"}) {
		t.Errorf("reads = %v, want [app/d.yaml]", got)
	}
}
