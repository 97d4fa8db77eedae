package extract

import (
	"strconv"
	"strings"
	"testing"
)

// decodedImages decodes a stream and returns "kind/name fieldPath=image@line"
// for each image, or the decoding error.
func decodedImages(t *testing.T, data string) ([]string, error) {
	t.Helper()
	objs, err := DecodeManifests([]byte(data), DecodeOptions{File: "app.yaml"})
	if err != nil {
		return nil, err
	}
	var out []string
	for i := range objs {
		for _, r := range ExtractImages(&objs[i], nil) {
			out = append(out, r.Resource.Kind+"/"+r.Resource.Name+" "+r.FieldPath+"="+r.Image+"@"+strconv.Itoa(r.Line)+r.Error)
		}
	}
	return out, nil
}

// TestDecodeDuplicateKeysAreErrors: the applier keeps the last of duplicate
// keys, the gate used to read the first. Each duplicate is now an error that
// names both positions, in YAML and in JSON, in any mapping.
func TestDecodeDuplicateKeysAreErrors(t *testing.T) {
	cases := map[string]struct {
		doc   string
		lines []string
	}{
		"image twice": {`apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: app
    image: ghcr.io/acme/signed:1
    image: evil.example/unsigned:1
`, []string{"app.yaml:7", "app.yaml:8"}},
		"containers twice": {`apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: app, image: ghcr.io/acme/signed:1}]
  containers: [{name: app, image: evil.example/unsigned:1}]
`, []string{"app.yaml:5", "app.yaml:6"}},
		"kind twice": {`apiVersion: v1
kind: ConfigMap
metadata: {name: p}
spec:
  containers: [{name: app, image: evil.example/unsigned:1}]
kind: Pod
`, []string{"app.yaml:2", "app.yaml:6"}},
		"json image twice": {`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
 "spec": {"containers": [{"name": "app",
   "image": "ghcr.io/acme/signed:1",
   "image": "evil.example/unsigned:1"}]}}`, []string{"app.yaml:3", "app.yaml:4"}},
		"json escaped twin": {`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
 "spec": {"containers": [{"name": "app", "image": "ghcr.io/acme/signed:1",
   "im\u0061ge": "evil.example/unsigned:1"}]}}`, []string{"app.yaml:2", "app.yaml:3"}},
		"flow mapping":         {"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: x, image: y}]}\n", []string{"app.yaml:4", "app.yaml:4"}},
		"yaml 1.1 key twins":   {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p}\ndata:\n  on: a\n  true: b\n", []string{"app.yaml:5", "app.yaml:6"}},
		"int and string twins": {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p}\ndata:\n  1: a\n  \"1\": b\n", []string{"app.yaml:5", "app.yaml:6"}},
		"in a merged anchor": {`x: &t {image: ghcr.io/acme/signed:1, image: evil.example/unsigned:1}
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: app, <<: *t}]
`, []string{"app.yaml:1", "app.yaml:1"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			imgs, err := decodedImages(t, c.doc)
			if err == nil {
				t.Fatalf("decoded without error: %v", imgs)
			}
			for _, l := range c.lines {
				if !strings.Contains(err.Error(), l) {
					t.Errorf("error does not name %s: %v", l, err)
				}
			}
		})
	}
}

// TestDecodeMergeKeys: a merge key carrying containers or a whole spec is
// expanded as the applier expands it, with its precedence: in document order,
// a later key or merge overwrites an earlier one.
func TestDecodeMergeKeys(t *testing.T) {
	cases := map[string]struct {
		doc  string
		want []string
	}{
		"spec from a merge": {`x-tmpl: &spec
  containers:
  - name: app
    image: evil.example/unsigned:1
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  <<: *spec
`, []string{"Pod/p spec.containers[0].image=evil.example/unsigned:1@4"}},
		"merge after the key wins": {`apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: app
    image: ghcr.io/acme/signed:1
    <<: {image: evil.example/unsigned:1}
`, []string{"Pod/p spec.containers[0].image=evil.example/unsigned:1@8"}},
		"key after the merge wins": {`apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: app
    <<: {image: evil.example/unsigned:1}
    image: ghcr.io/acme/signed:1
`, []string{"Pod/p spec.containers[0].image=ghcr.io/acme/signed:1@8"}},
		"first of a merge list wins": {`a: &a {image: first.example/a:1}
b: &b {image: second.example/b:1}
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: app
    <<: [*a, *b]
`, []string{"Pod/p spec.containers[0].image=first.example/a:1@1"}},
		"containers through an alias": {`apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  initContainers: &c [{name: app, image: evil.example/unsigned:1}]
  containers: *c
`, []string{"Pod/p spec.initContainers[0].image=evil.example/unsigned:1@5", "Pod/p spec.containers[0].image=evil.example/unsigned:1@5"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := decodedImages(t, c.doc)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// TestDecodeAnyObjectWithItemsIsAList: the applier applies an object whose
// items is a list as its items, whatever its kind; one level deep.
func TestDecodeAnyObjectWithItemsIsAList(t *testing.T) {
	got, err := decodedImages(t, `apiVersion: v1
kind: ConfigMap
metadata: {name: decoy}
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web}
  spec:
    template:
      spec:
        containers: [{name: app, image: evil.example/unsigned:1}]
`)
	if err != nil {
		t.Fatal(err)
	}
	want := "Deployment/web spec.template.spec.containers[0].image=evil.example/unsigned:1@11"
	if strings.Join(got, "\n") != want {
		t.Errorf("got %v, want %s", got, want)
	}
	// An item that is itself a list is applied as that object, not expanded.
	objs, err := DecodeManifests([]byte("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  items: [{apiVersion: v1, kind: Pod, metadata: {name: inner}}]\n"), DecodeOptions{File: "a.yaml"})
	if err != nil || len(objs) != 1 || objs[0].Name != "p" {
		t.Fatalf("nested list: %v %v", objs, err)
	}
	// items: null and nothing else is applied as nothing (Argo CD).
	objs, err = DecodeManifests([]byte("apiVersion: v1\nkind: ConfigMapList\nitems: null\n"), DecodeOptions{File: "a.yaml"})
	if err != nil || len(objs) != 0 {
		t.Fatalf("null list: %v %v", objs, err)
	}
	// An item that is not an object is an error, as for the applier.
	if _, err := DecodeManifests([]byte("apiVersion: v1\nkind: List\nitems: [1]\n"), DecodeOptions{File: "a.yaml"}); err == nil {
		t.Fatal("items: [1] decoded")
	}
}

// TestDecodeStreamSplitting: documents are split where the applier splits
// them, and what it would ignore or refuse is an error.
func TestDecodeStreamSplitting(t *testing.T) {
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec: {containers: [{name: a, image: %s}]}\n"
	two := strings.Replace(pod, "%s", "a", 1)
	two = strings.Replace(two, "%s", "img.example/a:1", 1)
	// YAML 1.1 scalars: the applier reads `on` as true.
	got, err := decodedImages(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: on}]}\n")
	if err != nil || len(got) != 1 || !strings.Contains(got[0], "want a string") {
		t.Errorf("image: on: got %v %v, want a bool (not a string) error", got, err)
	}
	for name, doc := range map[string]string{
		"content after ...":        two + "...\n" + two,
		"text after the separator": two + "--- apiVersion: v1\n",
	} {
		if _, err := DecodeManifests([]byte(doc), DecodeOptions{File: "a.yaml"}); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	// Lines count across documents.
	got, err = decodedImages(t, "# head\n---\n"+two+"---\n\n"+two)
	if err != nil || len(got) != 2 || !strings.HasSuffix(got[0], "@6") || !strings.HasSuffix(got[1], "@12") {
		t.Errorf("lines: %v %v", got, err)
	}
	// A JSON stream of two objects, as YAMLOrJSONDecoder reads it.
	js := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"spec":{"containers":[{"name":"a","image":"img.example/a:1"}]}}`
	got, err = decodedImages(t, js+"\n"+js)
	if err != nil || len(got) != 2 || !strings.HasSuffix(got[1], "@2") {
		t.Errorf("json stream: %v %v", got, err)
	}
}
