package manifests

import (
	"strings"
	"testing"
)

func TestExtractBuiltinKindsAndFieldPaths(t *testing.T) {
	podSpec := func(indent string) string {
		return strings.ReplaceAll(`
initContainers:
- name: init
  image: registry.example/init:1
containers:
- name: app
  image: registry.example/app:1
ephemeralContainers:
- name: debug
  image: registry.example/debug:1
volumes:
- name: data
  image:
    reference: registry.example/data:1
- name: scratch
  emptyDir: {}
`, "\n", "\n"+indent)
	}
	cases := []struct {
		kind, apiVersion, body, prefix string
	}{
		{"Pod", "v1", "spec:" + podSpec("  "), "spec"},
		{"PodTemplate", "v1", "template:\n  spec:" + podSpec("    "), "template.spec"},
		{"Deployment", "apps/v1", "spec:\n  template:\n    spec:" + podSpec("      "), "spec.template.spec"},
		{"StatefulSet", "apps/v1", "spec:\n  template:\n    spec:" + podSpec("      "), "spec.template.spec"},
		{"DaemonSet", "apps/v1", "spec:\n  template:\n    spec:" + podSpec("      "), "spec.template.spec"},
		{"ReplicaSet", "apps/v1", "spec:\n  template:\n    spec:" + podSpec("      "), "spec.template.spec"},
		{"ReplicationController", "v1", "spec:\n  template:\n    spec:" + podSpec("      "), "spec.template.spec"},
		{"Job", "batch/v1", "spec:\n  template:\n    spec:" + podSpec("      "), "spec.template.spec"},
		{"CronJob", "batch/v1", "spec:\n  jobTemplate:\n    spec:\n      template:\n        spec:" + podSpec("          "), "spec.jobTemplate.spec.template.spec"},
		{"Rollout", "argoproj.io/v1alpha1", "spec:\n  template:\n    spec:" + podSpec("      "), "spec.template.spec"},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			doc := "apiVersion: " + c.apiVersion + "\nkind: " + c.kind + "\nmetadata:\n  name: x\n  namespace: ns\n" + c.body + "\n"
			dir := writeTree(t, map[string]string{"app/res.yaml": doc})
			inv := scan(t, dir, Options{})
			a := appByName(t, inv, "app")
			if a.Error != "" {
				t.Fatal(a.Error)
			}
			want := map[string]string{
				c.prefix + ".initContainers[0].image":      "registry.example/init:1",
				c.prefix + ".containers[0].image":          "registry.example/app:1",
				c.prefix + ".ephemeralContainers[0].image": "registry.example/debug:1",
				c.prefix + ".volumes[0].image.reference":   "registry.example/data:1",
			}
			if len(a.Images) != len(want) {
				t.Fatalf("got %d images %+v, want %d", len(a.Images), a.Images, len(want))
			}
			lines := strings.Split(doc, "\n")
			for _, im := range a.Images {
				if want[im.FieldPath] != im.Image {
					t.Errorf("%s = %q, want %q", im.FieldPath, im.Image, want[im.FieldPath])
				}
				if im.Resource != (ResourceID{APIVersion: c.apiVersion, Kind: c.kind, Namespace: "ns", Name: "x"}) {
					t.Errorf("resource = %+v", im.Resource)
				}
				if im.File != "app/res.yaml" || im.Line < 1 || !strings.Contains(lines[im.Line-1], im.Image) {
					t.Errorf("%s at %s:%d, want the line that holds %q", im.FieldPath, im.File, im.Line, im.Image)
				}
				if im.App != "app" {
					t.Errorf("app = %q", im.App)
				}
			}
		})
	}
}

func TestExtractIgnoresThingsThatOnlyLookLikeImages(t *testing.T) {
	dir := writeTree(t, map[string]string{"app/res.yaml": `
		apiVersion: v1
		kind: ConfigMap
		metadata: {name: cfg}
		data:
		  image: registry.example/not-an-image:1
		---
		apiVersion: kyverno.io/v1
		kind: ClusterPolicy
		metadata: {name: verify}
		spec:
		  rules:
		  - name: r
		    verifyImages:
		    - imageReferences: ["registry.example/*"]
		      image: registry.example/also-not:1
		---
		apiVersion: example.com/v1
		kind: Widget
		metadata: {name: w}
		spec:
		  template:
		    spec:
		      image: registry.example/no-containers-list:1
		---
		apiVersion: v1
		kind: Service
		metadata: {name: svc}
		spec:
		  template:
		    image: registry.example/nope:1
		`})
	inv := scan(t, dir, Options{})
	if a := appByName(t, inv, "app"); len(a.Images) != 0 || a.Error != "" {
		t.Errorf("got images %+v, error %q; want none", a.Images, a.Error)
	}
}

func TestExtractFindingsForUnusableValues(t *testing.T) {
	dir := writeTree(t, map[string]string{"app/pod.yaml": `
		apiVersion: v1
		kind: Pod
		metadata: {name: p}
		spec:
		  containers:
		  - name: empty
		    image: ""
		  - name: nullimg
		    image:
		  - name: number
		    image: 42
		  - name: object
		    image: {repository: nginx, tag: "1"}
		  - name: missing
		  - name: spaces
		    image: "   "
		  - name: ok
		    image: nginx:1.25
		`})
	inv := scan(t, dir, Options{})
	a := appByName(t, inv, "app")
	want := map[string]string{
		"empty":   "image is empty",
		"nullimg": "image is null, want a string",
		"number":  `image is int "42", want a string`,
		"object":  "image is a mapping, want a string",
		"missing": "no image: the field is missing",
		"spaces":  "image is empty",
		"ok":      "",
	}
	if len(a.Images) != len(want) {
		t.Fatalf("got %d refs: %+v", len(a.Images), a.Images)
	}
	for _, im := range a.Images {
		if im.Error != want[im.Container] {
			t.Errorf("container %s: error %q, want %q", im.Container, im.Error, want[im.Container])
		}
		if im.Line == 0 {
			t.Errorf("container %s: no line", im.Container)
		}
	}
}

func TestCustomExtractors(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"app/task.yaml": `
		apiVersion: tekton.dev/v1
		kind: Task
		metadata: {name: build}
		spec:
		  steps:
		  - name: compile
		    image: registry.example/golang:1.26
		  - name: push
		    image: registry.example/crane:0.20
		---
		apiVersion: example.com/v1
		kind: Gadget
		metadata: {name: g}
		spec:
		  components:
		    web:
		      img: registry.example/web:2
		    worker:
		      img: registry.example/worker:2
		`,
	})
	ex := Extractors{
		"Task":   {{Path: "/spec/steps/*/image"}},
		"Gadget": {{Name: "components", Path: "/spec/components/*", Value: "img"}},
	}
	if err := ex.Validate(); err != nil {
		t.Fatal(err)
	}
	inv := scan(t, dir, Options{Extractors: ex})
	a := appByName(t, inv, "app")
	got := map[string]string{}
	for _, im := range a.Images {
		got[im.FieldPath] = im.Image + " " + im.Container
		if im.Line == 0 {
			t.Errorf("%s: no line", im.FieldPath)
		}
	}
	want := map[string]string{
		"spec.steps[0].image":        "registry.example/golang:1.26 compile",
		"spec.steps[1].image":        "registry.example/crane:0.20 push",
		"spec.components.web.img":    "registry.example/web:2 web",
		"spec.components.worker.img": "registry.example/worker:2 worker",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %v", got)
	}
}

func TestCustomExtractorKeyAndDedupWithBuiltin(t *testing.T) {
	dir := writeTree(t, map[string]string{"app/p.yaml": `
		apiVersion: v1
		kind: Pod
		metadata: {name: p}
		spec:
		  containers:
		  - name: main
		    image: nginx:1
		`})
	ex := Extractors{"Pod": {{Path: "/spec/containers/*", Value: "image", Key: "name"}}}
	inv := scan(t, dir, Options{Extractors: ex})
	a := appByName(t, inv, "app")
	if len(a.Images) != 1 || a.Images[0].Container != "main" {
		t.Errorf("want one ref (built-in and extractor name the same field), got %+v", a.Images)
	}
}

func TestExtractorValidation(t *testing.T) {
	for _, c := range []struct {
		ex   Extractors
		want string
	}{
		{Extractors{"Task": {{Path: "spec/steps"}}}, "imageExtractors.Task[0].path"},
		{Extractors{"Task": {{Path: "/spec/steps/*", Value: "image", JMESPath: "trim_prefix(@,'docker://')"}}}, "jmesPath"},
		{Extractors{"Task": {{Path: "/spec/steps/*", Key: "name"}}}, "key needs value"},
	} {
		err := c.ex.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%v) = %v, want an error containing %q", c.ex, err, c.want)
		}
	}
}

func TestKindListIsUnwrapped(t *testing.T) {
	dir := writeTree(t, map[string]string{"app/list.json": `
		{"apiVersion": "v1", "kind": "List", "items": [
		  {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},
		   "spec": {"containers": [{"name": "c", "image": "registry.example/a:1"}]}}
		]}
		`})
	inv := scan(t, dir, Options{})
	a := appByName(t, inv, "app")
	if len(a.Images) != 1 || a.Images[0].Image != "registry.example/a:1" || a.Images[0].Line != 3 {
		t.Errorf("got %+v", a.Images)
	}
}
