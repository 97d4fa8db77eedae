package argocd

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kubeyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// ErrUnverifiedOutput marks plugin output in which Argo CD would find an
// image the gate did not approve.
var ErrUnverifiedOutput = errors.New("Argo CD would read an image that was not verified")

// DecodeLikeArgoCD returns the objects Argo CD makes of a Config Management
// Plugin's stdout, in order:
//   - the cmp-server splits the stream (cmpserver/plugin/plugin.go,
//     runCommand's caller: kube.SplitYAMLToString, the YAML-or-JSON
//     decoder of apimachinery);
//   - the repo-server decodes each document into an unstructured object
//     with sigs.k8s.io/yaml (reposerver/repository/repository.go,
//     runConfigManagementPluginSidecars: kube.SplitYAML), so the last of
//     duplicate keys wins and merge keys are resolved;
//   - every object carrying an items list is expanded into its items,
//     whatever its kind, and one with items: null and no spec or status
//     is dropped (repository.go, GenerateManifests: obj.IsList(),
//     EachListItem, isNullList).
func DecodeLikeArgoCD(stream []byte) ([]*unstructured.Unstructured, error) {
	d := kubeyaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	var out []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		var ext runtime.RawExtension
		if err := d.Decode(&ext); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		raw := bytes.TrimSpace(ext.Raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := sigsyaml.Unmarshal(raw, u); err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		switch {
		case u.IsList():
			err := u.EachListItem(func(o runtime.Object) error {
				item, ok := o.(*unstructured.Unstructured)
				if !ok {
					return fmt.Errorf("list item of type %T", o)
				}
				out = append(out, item)
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("document %d (%s): %w", doc, u.GetKind(), err)
			}
		case isNullList(u):
		default:
			out = append(out, u)
		}
	}
	return out, nil
}

func isNullList(u *unstructured.Unstructured) bool {
	if _, ok := u.Object["spec"]; ok {
		return false
	}
	if _, ok := u.Object["status"]; ok {
		return false
	}
	items, ok := u.Object["items"]
	return ok && items == nil
}

// Approved returns the image values a passing report let through, as
// they are written in pinned output: the pinned value of each verified
// image, and the image itself when it is not pinned (already a digest, or
// passing without a rule).
func Approved(rep *gate.Report) map[string]bool {
	ok := map[string]bool{}
	for _, a := range rep.Apps {
		for _, v := range a.Images {
			if !v.Status.Passing() || v.Error != "" {
				continue
			}
			if p, pinned := gate.PinnedValue(v); pinned {
				ok[p] = true
			} else {
				ok[v.Image] = true
			}
		}
	}
	return ok
}

// PluginOutput turns the gate's pinned stream into what the plugin prints:
// the objects as Argo CD decodes them (DecodeLikeArgoCD), re-serialised one
// per document from the decoded values, so that there is nothing left for
// another decoder to read differently (no duplicate keys, no merge keys, no
// lists). Every image the gate's extractors find in those objects must be
// one the gate approved, or nothing is printed: an object whose images the
// gate never saw (a ConfigMap carrying items: [Deployment], a duplicate
// image: key) is refused.
func PluginOutput(stream []byte, approved map[string]bool, ex manifests.Extractors) ([]byte, error) {
	objs, err := DecodeLikeArgoCD(stream)
	if err != nil {
		return nil, fmt.Errorf("the rendered manifests as Argo CD decodes them: %w", err)
	}
	var out bytes.Buffer
	for i, u := range objs {
		js, err := u.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("object %d (%s %s): %w", i+1, u.GetKind(), u.GetName(), err)
		}
		// JSON is read the same way by every YAML decoder: the gate's
		// extractors see here exactly what Argo CD will apply.
		var node yaml.Node
		if err := yaml.Unmarshal(js, &node); err != nil || len(node.Content) != 1 {
			return nil, fmt.Errorf("object %d (%s %s): %v", i+1, u.GetKind(), u.GetName(), err)
		}
		res := &manifests.Resource{ResourceID: manifests.ResourceID{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()},
			File: "plugin output", Node: node.Content[0]}
		for _, ref := range manifests.ExtractImages(res, ex) {
			if ref.Error != "" {
				return nil, fmt.Errorf("%s %s: %s: %s: %w", u.GetKind(), u.GetName(), ref.FieldPath, ref.Error, ErrUnverifiedOutput)
			}
			if !approved[ref.Image] {
				return nil, fmt.Errorf("%s %s: %s: %s: %w", u.GetKind(), u.GetName(), ref.FieldPath, ref.Image, ErrUnverifiedOutput)
			}
		}
		y, err := sigsyaml.JSONToYAML(js)
		if err != nil {
			return nil, fmt.Errorf("object %d (%s %s): %w", i+1, u.GetKind(), u.GetName(), err)
		}
		out.WriteString("---\n")
		out.Write(y)
	}
	return out.Bytes(), nil
}
