package argocd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"

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

// Approvals are the images a passing report let through, each bound to
// where it was judged: the object (apiVersion, kind, namespace, name) and
// the field path. An image string alone approves nothing elsewhere: an
// image that passes in one object only because no rule applies there (an
// excluded namespace, an unmatched kind) is not approved in another object
// that Argo CD applies where a rule does apply.
type Approvals struct {
	set map[approval]bool
	// destinations are the namespaces Argo CD puts objects without one in
	// (the apps' destination namespaces, as the gate rendered them).
	destinations []string
}

type approval struct {
	id           manifests.ResourceID
	field, image string
}

// Approved returns the approvals of a passing report: the value written in
// pinned output (the pinned value of each verified image, the image itself
// when it is not pinned: already a digest, or passing without a rule) at
// the object and field the gate judged it in. destinations are the
// destination namespaces of the rendered apps (see RecordDestinations).
func Approved(rep *gate.Report, destinations []string) Approvals {
	ok := Approvals{set: map[approval]bool{}, destinations: destinations}
	for _, a := range rep.Apps {
		for _, v := range a.Images {
			if !v.Status.Passing() || v.Error != "" {
				continue
			}
			img := v.Image
			if p, pinned := gate.PinnedValue(v); pinned {
				img = p
			}
			ok.set[approval{id: v.Resource, field: v.FieldPath, image: img}] = true
		}
	}
	return ok
}

// covers reports whether image at field of the object id, as Argo CD
// applies it, was approved. An object without a namespace lands in the
// destination namespace, where the gate judged it (manifests.Repo.Render);
// a judgment without a namespace is the strictest reading (every namespace
// filter of match met, none of exclude) and covers any namespace.
func (a Approvals) covers(id manifests.ResourceID, field, image string) bool {
	ns := []string{id.Namespace, ""}
	if id.Namespace == "" {
		ns = append(ns, a.destinations...)
	}
	for _, n := range ns {
		id.Namespace = n
		if a.set[approval{id: id, field: field, image: image}] {
			return true
		}
	}
	return false
}

// RecordDestinations wraps a scan's Adjust (which may be nil) to record
// the destination namespace of each app after adjustment: the namespace
// the gate judged the app's namespace-less objects in, and the one Argo
// CD applies them in.
func RecordDestinations(adjust func(*manifests.App) error) (func(*manifests.App) error, func() []string) {
	var ns []string
	wrapped := func(app *manifests.App) error {
		if adjust != nil {
			if err := adjust(app); err != nil {
				return err
			}
		}
		if app.Namespace != "" && !slices.Contains(ns, app.Namespace) {
			ns = append(ns, app.Namespace)
		}
		return nil
	}
	return wrapped, func() []string { return ns }
}

// PluginOutput turns the gate's pinned stream into what the plugin prints:
// the objects as Argo CD decodes them (DecodeLikeArgoCD), re-serialised one
// per document from the decoded values, so that there is nothing left for
// another decoder to read differently (no duplicate keys, no merge keys, no
// lists). Every image the gate's extractors find in those objects must
// have been approved at that object and field (Approvals), or nothing is
// printed: an object whose images the gate never saw or saw elsewhere (a
// ConfigMap carrying items: [Deployment in prod], a duplicate image: or
// namespace: key) is refused.
func PluginOutput(stream []byte, approved Approvals, ex manifests.Extractors) ([]byte, error) {
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
			if !approved.covers(res.ResourceID, ref.FieldPath, ref.Image) {
				return nil, fmt.Errorf("%s: %s: %s was not approved for this object: %w", res.ResourceID, ref.FieldPath, ref.Image, ErrUnverifiedOutput)
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
