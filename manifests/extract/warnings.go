package extract

import (
	"github.com/gitops-gate/gitops-gate/manifests/model"

	"fmt"
	"strconv"

	"github.com/google/go-containerregistry/pkg/name"
	yaml "go.yaml.in/yaml/v3"
)

// Warning is something in an app that may run an image the gate does not
// judge: a string field named image, holding an image reference, in a
// resource of a kind whose images the gate does not know how to find (an
// operator's custom resource, say). It is shown in every output; with
// --strict (strictUnknownImages) it fails the app.
type Warning struct {
	ImageRef
	Message string `json:"message"`
}

// quietKinds hold image-like strings that are never run as they stand:
// configuration (ConfigMap and Secret data are plain strings), Argo CD's own
// resources (their images are the child apps', which are rendered and judged
// as apps), schemas.
var quietKinds = map[string]bool{
	"/ConfigMap":                 true,
	"/Secret":                    true,
	"argoproj.io/Application":    true,
	"argoproj.io/ApplicationSet": true,
	"argoproj.io/AppProject":     true,
	"apiextensions.k8s.io/CustomResourceDefinition": true,
}

// UnknownImages returns a warning for each string field named image that
// holds an image reference in a resource whose kind the gate has no
// extractor for (built-in, well-known custom resource, or configured), and
// that no extractor already read.
func UnknownImages(res *model.Resource, ex Extractors) []Warning {
	group := groupOf(res.APIVersion)
	if podSpecPaths[res.Kind] != nil && (group == "" || group == "apps" || group == "batch" || group == "extensions") {
		return nil
	}
	if crdExtractors[group+"/"+res.Kind] != nil || quietKinds[group+"/"+res.Kind] {
		return nil
	}
	seen := map[string]bool{}
	for _, e := range extract(res, ex) {
		seen[e.ref.FieldPath] = true
	}
	var out []Warning
	var walk func(n *yaml.Node, path string, depth int)
	walk = func(n *yaml.Node, path string, depth int) {
		n = model.Deref(n)
		if n == nil || depth > 200 {
			return
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := model.Deref(n.Content[i]), model.Deref(n.Content[i+1])
				if k == nil || v == nil {
					continue
				}
				p := joinField(path, k.Value)
				if p == "metadata" {
					continue
				}
				if k.Value == "image" && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" && !seen[p] && looksLikeImage(v.Value) {
					out = append(out, Warning{
						ImageRef: ImageRef{Image: v.Value, Resource: res.ResourceID, FieldPath: p, Line: v.Line},
						Message: fmt.Sprintf("%s %s has an image at %s, and the gate does not know whether %s runs it: its image is not verified (add an imageExtractors entry for %s, or --strict to fail)",
							res.Kind, res.Name, p, res.Kind, res.Kind),
					})
					continue
				}
				walk(v, p, depth+1)
			}
		case yaml.SequenceNode:
			for i, e := range n.Content {
				walk(e, path+"["+strconv.Itoa(i)+"]", depth+1)
			}
		}
	}
	walk(res.Node, "", 0)
	return out
}

// looksLikeImage says whether s parses as an image reference.
func looksLikeImage(s string) bool {
	if s == "" {
		return false
	}
	_, err := name.ParseReference(s)
	return err == nil
}
