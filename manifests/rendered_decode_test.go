package manifests

import (
	"strings"
	"testing"
)

// TestDecodeRenderedOutput: Helm and Kustomize output is held to the
// applier's decoding too: a duplicate key a template prints is an error,
// merge keys in templates and in Kustomize resources are expanded.
func TestDecodeRenderedOutput(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"dup/Chart.yaml": "apiVersion: v2\nname: dup\nversion: 0.1.0\n",
		"dup/templates/pod.yaml": `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: a
    image: {{ .Values.good }}
    image: {{ .Values.evil }}
`,
		"dup/values.yaml":  "good: good.example/a:1\nevil: evil.example/a:1\n",
		"merge/Chart.yaml": "apiVersion: v2\nname: merge\nversion: 0.1.0\n",
		"merge/templates/pod.yaml": `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: a
    image: good.example/a:1
    <<: {image: {{ .Values.evil }}}
`,
		"merge/values.yaml":         "evil: evil.example/a:1\n",
		"kmerge/kustomization.yaml": "resources: [pod.yaml]\n",
		"kmerge/pod.yaml": `x-spec: &s
  containers: [{name: a, image: evil.example/a:1}]
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  <<: *s
`,
	})
	inv := scan(t, dir, Options{})
	if a := appByName(t, inv, "dup"); !strings.Contains(a.Error, `duplicate key "image"`) || !strings.Contains(a.Error, "dup/templates/pod.yaml") {
		t.Errorf("helm duplicate: %+v", a)
	}
	if a := appByName(t, inv, "merge"); a.Error != "" || len(a.Images) != 1 || a.Images[0].Image != "evil.example/a:1" {
		t.Errorf("helm merge: %+v", a)
	}
	if a := appByName(t, inv, "kmerge"); a.Error != "" || len(a.Images) != 1 || a.Images[0].Image != "evil.example/a:1" {
		t.Errorf("kustomize merge: %+v", a)
	}
}
