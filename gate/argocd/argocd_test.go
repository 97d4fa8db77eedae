package argocd

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/manifests"
)

const (
	shaA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	shaB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// TestParseSync: the sources and commits of a running sync, as Argo CD's
// controller records them (controller/sync.go, newSyncOperationResult and
// SyncAppState, at 37ee009).
func TestParseSync(t *testing.T) {
	for _, c := range []struct {
		name, app string
		want      []string // field@revision per source
		err       error
	}{
		{"resolved single source; status.sync.revision ignored",
			`{"spec":{"source":{"path":"a"}},"status":{"sync":{"revision":"` + shaA + `"},"operationState":{"operation":{"sync":{}},"syncResult":{"revision":"` + shaB + `","source":{"path":"a"}}}}}`,
			[]string{"spec.source@" + shaB}, nil},
		{"spec.sources wins over spec.source",
			`{"spec":{"source":{"path":"a"},"sources":[{"path":"a"},{"path":"b"}]},"status":{"operationState":{"operation":{"sync":{}},"syncResult":{"revisions":["` + shaA + `","` + shaB + `"]}}}}`,
			[]string{"spec.sources[0]@" + shaA, "spec.sources[1]@" + shaB}, nil},
		{"the operation's sources, not the spec's",
			`{"spec":{"sources":[{"path":"a"}]},"status":{"operationState":{"operation":{"sync":{}},"syncResult":{"revisions":["` + shaA + `","` + shaA + `"],"sources":[{"path":"x"},{"path":"y"}]}}}}`,
			[]string{"spec.sources[0]@" + shaA, "spec.sources[1]@" + shaA}, nil},
		{"a requested commit before the result",
			`{"spec":{"source":{"path":"a"}},"status":{"operationState":{"operation":{"sync":{"revision":"` + shaA + `"}}}}}`,
			[]string{"spec.source@" + shaA}, nil},
		{"a requested branch is not a commit",
			`{"spec":{"source":{"path":"a"}},"status":{"sync":{"revision":"` + shaA + `"},"operationState":{"operation":{"sync":{"revision":"main"}}}}}`,
			nil, ErrRevisionUnknown},
		{"no operation",
			`{"spec":{"source":{"path":"a"}},"status":{"sync":{"revision":"` + shaA + `"}}}`,
			nil, ErrRevisionUnknown},
		{"one source of two unresolved",
			`{"spec":{"sources":[{"path":"a"},{"path":"b"}]},"status":{"operationState":{"operation":{"sync":{"revisions":["` + shaA + `","main"]}}}}}`,
			nil, ErrRevisionUnknown},
	} {
		a, err := ParseSync([]byte(c.app))
		if c.err != nil {
			if !errors.Is(err, c.err) || !strings.Contains(err.Error(), "--revision") {
				t.Errorf("%s: error %v, want %v with how to set it", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		var got []string
		for _, s := range a.Sources {
			got = append(got, s.Field+"@"+s.Revision)
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestAppOfTracking(t *testing.T) {
	for _, c := range []struct{ ann, label, ns, name string }{
		{"web:apps/Deployment:shop/web", "", "argocd", "web"},
		{"teams_web:batch/Job:shop/gitops-gate-presync", "", "teams", "web"},
		{"", "web", "argocd", "web"},
		{"web:batch/Job:shop/x", "other", "argocd", "web"},
	} {
		ns, name, err := AppOfTracking(c.ann, c.label, "argocd")
		if err != nil || ns != c.ns || name != c.name {
			t.Errorf("%q %q: %s/%s %v", c.ann, c.label, ns, name, err)
		}
	}
	if _, _, err := AppOfTracking("", "", "argocd"); !errors.Is(err, ErrNoApp) {
		t.Errorf("nothing: %v", err)
	}
}

// TestDecodeLikeArgoCD: the objects Argo CD makes of plugin output
// (gitops-engine kube.SplitYAML, repository.go GenerateManifests).
func TestDecodeLikeArgoCD(t *testing.T) {
	objs, err := DecodeLikeArgoCD([]byte(`kind: ConfigMap
metadata: {name: a, name: b}
items:
  - {kind: Deployment, metadata: {name: hidden}}
---
kind: ConfigMapList
items: null
---
base: &b {x: 1}
kind: Thing
metadata: {name: m}
spec: {<<: *b, y: 2}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].GetKind() != "Deployment" || objs[0].GetName() != "hidden" || objs[1].GetName() != "m" {
		t.Fatalf("%v", objs)
	}
	spec := objs[1].Object["spec"].(map[string]any)
	if spec["x"] != int64(1) && spec["x"] != float64(1) {
		t.Errorf("merge key not resolved: %v", spec)
	}
}

// Plugin output is approved object by object, not image string by image
// string: an image that passed in one object (here unmatched, in an
// excluded namespace) is not approved in another object Argo CD applies
// (a Deployment in prod carried by a ConfigMap's items, or a namespace:
// key Argo CD reads last), nor in an object without a namespace that
// lands in another destination namespace. CheckSource (the hook) and
// render --pin both check their output with these approvals.
func TestPluginOutputApprovesObjectsNotStrings(t *testing.T) {
	const img = "ghcr.io/acme/unsigned:v1"
	deploy := func(meta string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata: " + meta + "\nspec:\n  template:\n    spec:\n      containers:\n        - {name: c, image: " + img + "}\n"
	}
	judged := &gate.Report{Result: gate.StatusPass, Apps: []gate.AppVerdict{{Name: "app", Images: []gate.ImageVerdict{{
		ImageRef: manifests.ImageRef{Image: img, FieldPath: "spec.template.spec.containers[0].image",
			Resource: manifests.ResourceID{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "sandbox", Name: "play"}},
		Status: gate.StatusUnmatched}}}}}
	for _, c := range []struct {
		name, stream string
		destinations []string
		ok           bool
	}{
		{"the object the gate judged", deploy("{name: play, namespace: sandbox}"), nil, true},
		{"no namespace, destination sandbox (where the gate judged it)", deploy("{name: play}"), []string{"sandbox"}, true},
		{"the same image in prod", deploy("{name: play, namespace: prod}"), nil, false},
		{"another object", deploy("{name: web, namespace: sandbox}"), nil, false},
		{"no namespace, destination prod", deploy("{name: play}"), []string{"prod"}, false},
		{"namespace: twice, Argo CD reads prod", deploy("\n  name: play\n  namespace: sandbox\n  namespace: prod"), nil, false},
		{"a ConfigMap carrying items: [Deployment in prod]", deploy("{name: play, namespace: sandbox}") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: sandbox}\nitems:\n  - {apiVersion: apps/v1, kind: Deployment, metadata: {name: play, namespace: prod}, spec: {template: {spec: {containers: [{name: c, image: " + img + "}]}}}}\n", nil, false},
	} {
		_, err := PluginOutput([]byte(c.stream), Approved(judged, c.destinations), nil)
		if c.ok && err != nil {
			t.Errorf("%s: refused: %v", c.name, err)
		}
		if !c.ok && !errors.Is(err, ErrUnverifiedOutput) {
			t.Errorf("%s: err %v, want ErrUnverifiedOutput", c.name, err)
		}
	}
	// A judgment without a namespace (the strictest reading) covers any.
	judged.Apps[0].Images[0].Resource.Namespace = ""
	if _, err := PluginOutput([]byte(deploy("{name: play, namespace: prod}")), Approved(judged, nil), nil); err != nil {
		t.Errorf("judged without a namespace, applied in prod: %v", err)
	}
}

// RecordDestinations records each app's namespace after the adjustment.
func TestRecordDestinations(t *testing.T) {
	adjust, got := RecordDestinations(func(a *manifests.App) error { a.Namespace = "prod"; return nil })
	app := manifests.App{Namespace: "sandbox"}
	if err := adjust(&app); err != nil || strings.Join(got(), ",") != "prod" {
		t.Errorf("destinations %v, %v; want [prod]", got(), err)
	}
	plain, got := RecordDestinations(nil)
	plain(&manifests.App{Namespace: "a"})
	plain(&manifests.App{})
	if strings.Join(got(), ",") != "a" {
		t.Errorf("destinations %v, want [a]", got())
	}
}
