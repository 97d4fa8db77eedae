package plain

import "testing"

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
