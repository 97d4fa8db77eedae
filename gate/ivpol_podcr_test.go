package gate_test

import (
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/registry"
	"github.com/gitops-gate/gitops-gate/gate/verify"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// podIVPOL is Kyverno's usual sample: Pods' container images must be
// signed. With required: false nothing else catches an image the
// validation never sees.
const podIVPOL = `
apiVersion: policies.kyverno.io/v1beta1
kind: ImageValidatingPolicy
metadata: {name: pods-signed}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
      - {apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}
  validationConfigurations: {mutateDigest: false, verifyDigest: false, required: false}
  matchImageReferences:
    - glob: "*"
  attestors:
    - name: cosign
      cosign:
        keyless:
          identities:
            - issuer: https://token.actions.githubusercontent.com
              subject: https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0
  validations:
    - expression: >-
        images.containers.map(image, verifyImageSignatures(image, [attestors.cosign])).all(e, e > 0)
      message: unsigned
`

// TestPodIVPOLJudgesPodRunningCustomResources: a Tekton step or an Argo
// Workflow template writes its image outside any containers[] field, but
// it runs as a container of the Pod the controller creates, which a Pod
// IVPOL denies at admission. The gate used to hand the validation an empty
// images.containers, so `.all()` held and the unsigned image passed.
func TestPodIVPOLJudgesPodRunningCustomResources(t *testing.T) {
	e := newEnv(t)
	w := e.ivpolWorld()
	// The policy may match only Pods, or Pods and the custom resource's own
	// kind: Kyverno judges the created Pod either way.
	podsAndTasks := strings.Replace(podIVPOL, `resources: ["pods"]}`, `resources: ["pods"]}
      - {apiGroups: ["tekton.dev", "argoproj.io"], apiVersions: ["*"], operations: ["CREATE"], resources: ["tasks", "workflows"]}`, 1)
	for _, variant := range []struct{ name, required, pol string }{
		{"pods", "false", podIVPOL}, {"pods", "true", podIVPOL}, {"pods and tasks", "false", podsAndTasks},
	} {
		required := variant.name + ", required " + variant.required
		set := e.ivpolSet(strings.Replace(variant.pol, "required: false", "required: "+variant.required, 1), policy.LoadOptions{})
		for _, tc := range []struct {
			kind, apiVersion, field string
			object                  func(img string) map[string]any
		}{
			{"Task", "tekton.dev/v1", "spec.steps[0].image", func(img string) map[string]any {
				return map[string]any{"spec": map[string]any{"steps": []any{map[string]any{"name": "s", "image": img}}}}
			}},
			{"Task", "tekton.dev/v1", "spec.sidecars[0].image", func(img string) map[string]any {
				return map[string]any{"spec": map[string]any{"sidecars": []any{map[string]any{"name": "s", "image": img}}}}
			}},
			{"Workflow", "argoproj.io/v1alpha1", "spec.templates[0].container.image", func(img string) map[string]any {
				return map[string]any{"spec": map[string]any{"entrypoint": "m", "templates": []any{map[string]any{"name": "m", "container": map[string]any{"image": img}}}}}
			}},
		} {
			for _, c := range []struct {
				image string
				want  gate.Status
			}{{w.unsigned.String(), gate.StatusFail}, {w.good.String(), gate.StatusPass}} {
				obj := tc.object(c.image)
				obj["apiVersion"], obj["kind"] = tc.apiVersion, tc.kind
				obj["metadata"] = map[string]any{"name": "t", "namespace": "default"}
				ref := manifests.ImageRef{App: "app", Image: c.image, File: "app/r.yaml", Line: 10, FieldPath: tc.field,
					Resource: manifests.ResourceID{APIVersion: tc.apiVersion, Kind: tc.kind, Namespace: "default", Name: "t"}}
				res, err := registry.New(e.ropts)
				if err != nil {
					t.Fatal(err)
				}
				vr, err := verify.New(verify.Options{Trusted: e.tr, Registry: res})
				if err != nil {
					t.Fatal(err)
				}
				ev, err := gate.New(gate.Options{Policies: set, Resolver: res, Verifier: vr})
				if err != nil {
					t.Fatal(err)
				}
				app := manifests.AppImages{Name: "app", Path: "app", Kind: manifests.KindPlain, Images: []manifests.ImageRef{ref}}
				rep := ev.EvaluateObjects(e.ctx, &manifests.Inventory{APIVersion: manifests.InventoryAPIVersion, Apps: []manifests.AppImages{app}},
					func(manifests.ImageRef) map[string]any { return obj })
				if v := rep.Apps[0].Images[0]; v.Status != c.want {
					t.Errorf("%s: %s %s = %s: %s (%s), want %s", required, tc.kind, tc.field, c.image, v.Status, v.Reason, c.want)
				}
			}
		}
	}
}

// TestPodIVPOLWithLabelConditionLeavesOtherKindsAlone: Kyverno's sample Pod
// IVPOL reads object.metadata.labels in a matchCondition. A ConfigMap or a
// Service creates no Pod and holds no image the policy extracts: it used to
// be asked whether the policy applied (to find images[] the policy does not
// have), and every such app ended in an error.
func TestPodIVPOLWithLabelConditionLeavesOtherKindsAlone(t *testing.T) {
	w := newIncrementalWorld(t)
	w.writePolicy(`
apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata: {name: prod-pods}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}
  matchConditions:
  - name: prod
    expression: "has(object.metadata.labels) && has(object.metadata.labels.prod) && object.metadata.labels.prod == 'true'"
  matchImageReferences:
  - glob: "REGISTRY/*"
  validationConfigurations: {mutateDigest: false, verifyDigest: false}
  attestors:
  - name: acme
    cosign:
      keyless:
        identities: [{issuer: "https://token.actions.githubusercontent.com", subjectRegExp: "^https://github[.]com/acme/"}]
  validations:
  - expression: "images.containers.map(image, verifyImageSignatures(image, [attestors.acme])).all(e, e > 0)"
    message: not signed by acme
`)
	w.write("apps/a/deployment.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  template:\n    metadata: {labels: {prod: \"true\"}}\n    spec:\n      containers:\n      - {name: main, image: "+w.w.Ref("acme/a:v1")+"}\n")
	w.write("apps/config/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {image: "+w.w.Ref("acme/b:v1")+"}\n")
	w.write("apps/config/service.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec:\n  ports: [{port: 80}]\n")
	rep, err := w.engine().Check(w.ctx, w.dir, gate.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Result != gate.StatusPass || rep.Summary.Errors != 0 {
		for _, a := range rep.Apps {
			for _, im := range a.Images {
				t.Logf("%s %s %s: %s", a.Name, im.FieldPath, im.Status, im.Reason)
			}
		}
		t.Fatalf("result %s %+v", rep.Result, rep.Summary)
	}
}
