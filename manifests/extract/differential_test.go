package extract

import (
	"github.com/gitops-gate/gitops-gate/manifests/model"

	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// This file holds the gate's decoder to the applier's. The oracle decodes a
// stream exactly as Argo CD's repo server does (apimachinery's
// YAMLOrJSONDecoder into unstructured objects, which is sigs.k8s.io/yaml for
// YAML documents, then the expansion of every object whose items is a list)
// and finds images by walking the unstructured maps, written here again,
// independently of the extractors. For any input, either the gate reports an
// error, or it finds exactly the images the oracle finds.

// applierObjects decodes a stream as Argo CD does (splitYAMLOrJSON, then
// GenerateManifests' list expansion).
func applierObjects(data []byte) ([]map[string]any, error) {
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := d.Decode(&u); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
		if u == nil {
			continue
		}
		objs = append(objs, u)
	}
	var out []map[string]any
	for _, o := range objs {
		switch {
		case o.IsList():
			err := o.EachListItem(func(item runtime.Object) error {
				out = append(out, item.(*unstructured.Unstructured).Object)
				return nil
			})
			if err != nil {
				return nil, err
			}
		case isNullListObject(o.Object):
		default:
			out = append(out, o.Object)
		}
	}
	return out, nil
}

func isNullListObject(o map[string]any) bool {
	if _, ok := o["spec"]; ok {
		return false
	}
	if _, ok := o["status"]; ok {
		return false
	}
	items, ok := o["items"]
	return ok && items == nil
}

// oracleImages lists "Kind fieldPath=image" for every image field of an
// applied object, "!" standing for a field that holds no usable image.
func oracleImages(obj map[string]any) []string {
	kind, _ := obj["kind"].(string)
	apiVersion, _ := obj["apiVersion"].(string)
	group := ""
	if g, _, ok := strings.Cut(apiVersion, "/"); ok {
		group = g
	}
	var out []string
	add := func(path string, c any, optional bool) {
		m, _ := c.(map[string]any)
		v, has := m["image"]
		if !has && optional {
			return
		}
		s, ok := v.(string)
		if !ok || strings.TrimSpace(s) == "" {
			s = "!"
		}
		out = append(out, kind+" "+path+".image="+s)
	}
	list := func(v any, path string, optional bool) {
		l, _ := v.([]any)
		for i, c := range l {
			add(fmt.Sprintf("%s[%d]", path, i), c, optional)
		}
	}
	get := func(v any, keys ...string) any {
		for _, k := range keys {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		}
		return v
	}
	has := func(v any, key string) bool {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		_, ok = m[key]
		return ok
	}
	podSpec := func(spec any, path string) {
		if _, ok := spec.(map[string]any); !ok {
			return
		}
		for _, l := range []string{"initContainers", "containers", "ephemeralContainers"} {
			list(get(spec, l), path+"."+l, false)
		}
		vols, _ := get(spec, "volumes").([]any)
		for i, v := range vols {
			img, ok := get(v, "image").(map[string]any)
			if !ok {
				continue
			}
			s, ok := img["reference"].(string)
			if !ok || strings.TrimSpace(s) == "" {
				s = "!"
			}
			out = append(out, fmt.Sprintf("%s %s.volumes[%d].image.reference=%s", kind, path, i, s))
		}
	}
	patch := func(v any, path string) {
		if p, ok := v.(map[string]any)["podSpecPatch"]; ok && p != nil {
			out = append(out, kind+" "+path+".podSpecPatch=!")
		}
	}
	var taskSpec func(ts any, path string)
	taskSpec = func(ts any, path string) {
		if _, ok := ts.(map[string]any); !ok {
			return
		}
		def := false
		if st, ok := get(ts, "stepTemplate").(map[string]any); ok {
			if _, ok := st["image"]; ok {
				def = true
				add(path+".stepTemplate", st, false)
			}
		}
		steps, _ := get(ts, "steps").([]any)
		for i, s := range steps {
			add(fmt.Sprintf("%s.steps[%d]", path, i), s, def || has(s, "ref"))
		}
		list(get(ts, "sidecars"), path+".sidecars", false)
	}
	var pipeline func(ps any, path string, depth int)
	pipeline = func(ps any, path string, depth int) {
		if _, ok := ps.(map[string]any); !ok || depth > 16 {
			return
		}
		for _, l := range []string{"tasks", "finally"} {
			ts, _ := get(ps, l).([]any)
			for i, t := range ts {
				p := fmt.Sprintf("%s.%s[%d]", path, l, i)
				taskSpec(get(t, "taskSpec"), p+".taskSpec")
				pipeline(get(t, "pipelineSpec"), p+".pipelineSpec", depth+1)
			}
		}
	}
	workflow := func(spec any, path string) {
		if _, ok := spec.(map[string]any); !ok {
			return
		}
		def := false
		template := func(t any, p string, def bool) {
			if _, ok := t.(map[string]any); !ok {
				return
			}
			for _, f := range []string{"container", "script"} {
				if c := get(t, f); has(t, f) {
					add(p+"."+f, c, def)
				}
			}
			list(get(t, "initContainers"), p+".initContainers", false)
			list(get(t, "sidecars"), p+".sidecars", false)
			list(get(t, "containerSet", "containers"), p+".containerSet.containers", def)
			patch(t, p)
		}
		if d, ok := get(spec, "templateDefaults").(map[string]any); ok {
			template(d, path+".templateDefaults", true)
			def = has(get(d, "container"), "image") || has(get(d, "script"), "image")
		}
		ts, _ := get(spec, "templates").([]any)
		for i, t := range ts {
			template(t, fmt.Sprintf("%s.templates[%d]", path, i), def)
		}
		patch(spec, path)
	}
	switch group + "/" + kind {
	case "argoproj.io/Workflow", "argoproj.io/WorkflowTemplate", "argoproj.io/ClusterWorkflowTemplate":
		workflow(obj["spec"], "spec")
	case "argoproj.io/CronWorkflow":
		workflow(get(obj, "spec", "workflowSpec"), "spec.workflowSpec")
	case "tekton.dev/Task", "tekton.dev/ClusterTask":
		taskSpec(obj["spec"], "spec")
	case "tekton.dev/TaskRun":
		taskSpec(get(obj, "spec", "taskSpec"), "spec.taskSpec")
	case "tekton.dev/Pipeline":
		pipeline(obj["spec"], "spec", 0)
	case "tekton.dev/PipelineRun":
		pipeline(get(obj, "spec", "pipelineSpec"), "spec.pipelineSpec", 0)
	case "tekton.dev/StepAction":
		if s, ok := obj["spec"].(map[string]any); ok {
			add("spec", s, false)
		}
	case "keda.sh/ScaledJob":
		podSpec(get(obj, "spec", "jobTargetRef", "template", "spec"), "spec.jobTargetRef.template.spec")
	case "serving.knative.dev/Service", "serving.knative.dev/Configuration":
		podSpec(get(obj, "spec", "template", "spec"), "spec.template.spec")
	case "serving.knative.dev/Revision":
		podSpec(obj["spec"], "spec")
	default:
		paths := map[string][]string{
			"Pod": {"spec"}, "PodTemplate": {"template", "spec"}, "Deployment": {"spec", "template", "spec"},
			"StatefulSet": {"spec", "template", "spec"}, "DaemonSet": {"spec", "template", "spec"},
			"ReplicaSet": {"spec", "template", "spec"}, "ReplicationController": {"spec", "template", "spec"},
			"Job": {"spec", "template", "spec"}, "CronJob": {"spec", "jobTemplate", "spec", "template", "spec"},
		}
		p, ok := paths[kind]
		if !ok {
			p = []string{"spec", "template", "spec"}
			spec := get(obj, p...)
			has := false
			for _, l := range []string{"initContainers", "containers", "ephemeralContainers"} {
				if _, ok := get(spec, l).([]any); ok {
					has = true
				}
			}
			if !has {
				return out
			}
		}
		podSpec(get(obj, p...), strings.Join(p, "."))
	}
	return out
}

// gateImages lists the gate's images in the oracle's form.
func gateImages(objs []model.Resource) []string {
	var out []string
	for i := range objs {
		for _, r := range ExtractImages(&objs[i], nil) {
			img := r.Image
			if r.Error != "" {
				img = "!"
			}
			out = append(out, r.Resource.Kind+" "+r.FieldPath+"="+img)
		}
	}
	slices.Sort(out)
	return out
}

// checkAgreement is the differential property for one input.
func checkAgreement(t *testing.T, data []byte) {
	t.Helper()
	want, err := applierObjects(data)
	if err != nil {
		return // the applier applies nothing: no image can run unseen
	}
	got, gerr := DecodeManifests(data, DecodeOptions{File: "fuzz.yaml", MaxNodes: 10000})
	if gerr != nil {
		return // the gate fails closed
	}
	var wantImages []string
	for _, o := range want {
		wantImages = append(wantImages, oracleImages(o)...)
	}
	slices.Sort(wantImages)
	if gi := gateImages(got); !slices.Equal(gi, wantImages) {
		t.Fatalf("the gate and the applier disagree on %q\ngate:    %q\napplier: %q", data, gi, wantImages)
	}
}

// differentialSeeds are the attack classes, written out.
var differentialSeeds = []string{
	// duplicate keys, YAML and JSON
	"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    image: good.example/a:1\n    image: evil.example/a:1\n",
	"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: good.example/a:1}]\n  containers: [{name: a, image: evil.example/a:1}]\n",
	"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p}\nspec: {containers: [{name: a, image: evil.example/a:1}]}\nkind: Pod\n",
	`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"good.example/a:1","image":"evil.example/a:1"}]}}`,
	`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"good.example/a:1"}]}}` + "\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec: {containers: [{name: b, image: evil.example/b:1}]}\n",
	// merge keys and anchors
	"t: &t {containers: [{name: a, image: evil.example/a:1}]}\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  <<: *t\n",
	"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    image: good.example/a:1\n    <<: {image: evil.example/a:1}\n",
	"a: &a {image: first.example/a:1}\nb: &b {image: second.example/b:1}\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: a, <<: [*a, *b]}\n",
	"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  <<: {containers: [{name: a, image: evil.example/a:1}]}\n  containers: [{name: a, image: good.example/a:1}]\n",
	"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  initContainers: &c [{name: a, image: evil.example/a:1}]\n  containers: *c\n",
	// YAML 1.1 keys and scalars
	"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: yes}]}\n",
	"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\ny: 1\nspec: {containers: [{name: a, image: \"1.0\"}]}\n",
	// lists
	"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: decoy}\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: web}\n  spec: {template: {spec: {containers: [{name: a, image: evil.example/a:1}]}}}\n",
	"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  metadata: {name: inner}\n  items: [{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: a, image: evil.example/a:1}]}}]\n",
	"apiVersion: v1\nkind: PodList\nitems: null\n",
	// stream splitting
	"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: good.example/a:1}]}\n...\napiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec: {containers: [{name: a, image: evil.example/a:1}]}\n",
	"--- # comment\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: a.example/a:1}]}\n---\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec: {containers: [{name: a, image: b.example/a:1}]}\n",
	"apiVersion: v1\r\nkind: Pod\r\nmetadata: {name: p}\r\nspec: {containers: [{name: a, image: a.example/a:1}]}\r\n---\r\napiVersion: v1\r\nkind: Pod\r\nmetadata: {name: q}\r\nspec: {containers: [{name: a, image: b.example/a:1}]}\r\n",
	// well-known custom resources
	"apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: w}\nspec:\n  templates:\n  - name: t\n    container: {image: a.example/a:1}\n    initContainers: [{name: i, image: b.example/b:1}]\n    sidecars: [{name: s, image: c.example/c:1}]\n  - name: u\n    script: {image: d.example/d:1, source: echo}\n  - name: v\n    containerSet: {containers: [{name: x, image: e.example/e:1}]}\n",
	"apiVersion: argoproj.io/v1alpha1\nkind: CronWorkflow\nmetadata: {name: w}\nspec:\n  workflowSpec:\n    templateDefaults: {container: {image: a.example/a:1}}\n    templates: [{name: t, container: {args: [x]}}]\n",
	"apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  tasks:\n  - name: t\n    taskSpec:\n      stepTemplate: {image: a.example/a:1}\n      steps: [{name: s}, {name: u, image: b.example/b:1}]\n      sidecars: [{name: c, image: c.example/c:1}]\n  finally:\n  - name: f\n    taskSpec: {steps: [{name: s, image: d.example/d:1}]}\n",
	"apiVersion: keda.sh/v1alpha1\nkind: ScaledJob\nmetadata: {name: j}\nspec: {jobTargetRef: {template: {spec: {containers: [{name: a, image: a.example/a:1}]}}}}\n",
	"apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: s}\nspec: {template: {spec: {containers: [{image: a.example/a:1}]}}}\n",
}

// TestDecodeAgreesWithApplier runs the differential property over the
// attack seeds and every manifest of the corpus.
func TestDecodeAgreesWithApplier(t *testing.T) {
	for _, s := range differentialSeeds {
		checkAgreement(t, []byte(s))
	}
	n := 0
	filepath.WalkDir("../../testdata", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".json")) && !strings.Contains(p, "templates") {
			if b, err := os.ReadFile(p); err == nil && len(b) < 256<<10 {
				checkAgreement(t, b)
				n++
			}
		}
		return nil
	})
	if n == 0 {
		t.Fatal("no corpus files found")
	}
}

// FuzzDecodeAgreesWithApplier: for any input, either the gate reports an
// error or it finds the images the applier's own decoding finds.
func FuzzDecodeAgreesWithApplier(f *testing.F) {
	for _, s := range differentialSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		checkAgreement(t, data)
	})
}
