package extract

import (
	"github.com/gitops-gate/gitops-gate/manifests/model"
	"strconv"

	"fmt"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// ImageRef is one occurrence of an image reference in a rendered app.
type ImageRef struct {
	App string `json:"app"`
	// Image is the value as written (after rendering), e.g. "nginx:1.25".
	Image string `json:"image"`
	// File and Line locate the value in the repository (see docs/output.md for
	// how exact they are per app kind). Line is 0 when unknown.
	File     string           `json:"file,omitempty"`
	Line     int              `json:"line,omitempty"`
	Resource model.ResourceID `json:"resource"`
	// FieldPath is the value's path in the object,
	// e.g. spec.template.spec.initContainers[0].image.
	FieldPath string `json:"fieldPath"`
	// Container is the container name (or an extractor's key), when known.
	Container string `json:"container,omitempty"`
	// Error is set when the field holds no usable image (empty, not a
	// string); such a reference can never pass verification.
	Error string `json:"error,omitempty"`
}

// ExtractorConfig names image fields of a custom resource, in the shape of a
// Kyverno rule's imageExtractors entry: Path is slash-separated from the
// object root with "*" matching every element of a list or map. When Value is
// set, Path selects objects and Value is the field holding the image; Key
// names the field that identifies each object (its name in reports).
type ExtractorConfig struct {
	Name     string `json:"name,omitempty" yaml:"name"`
	Path     string `json:"path" yaml:"path"`
	Value    string `json:"value,omitempty" yaml:"value"`
	Key      string `json:"key,omitempty" yaml:"key"`
	JMESPath string `json:"jmesPath,omitempty" yaml:"jmesPath"`
}

// Extractors maps a resource kind to its extractors.
type Extractors map[string][]ExtractorConfig

// Validate checks every extractor and names the first bad one.
func (e Extractors) Validate() error {
	for kind, list := range e {
		for i, c := range list {
			where := fmt.Sprintf("imageExtractors.%s[%d]", kind, i)
			switch {
			case kind == "":
				return fmt.Errorf("imageExtractors: empty kind")
			case !strings.HasPrefix(c.Path, "/") || len(c.Path) < 2:
				return fmt.Errorf("%s.path %q: want a slash-separated path from the object root, e.g. /spec/steps/*/image", where, c.Path)
			case c.JMESPath != "":
				return fmt.Errorf("%s.jmesPath: %w (a transformed value could not be pinned back into the manifest)", where, model.ErrUnsupported)
			case c.Key != "" && c.Value == "":
				return fmt.Errorf("%s.key needs value: key names a field of the objects that value reads the image from", where)
			}
		}
	}
	return nil
}

// Merge returns the union of e and more; entries of more come after.
func (e Extractors) Merge(more Extractors) Extractors {
	if len(more) == 0 {
		return e
	}
	out := Extractors{}
	for k, v := range e {
		out[k] = append(out[k], v...)
	}
	for k, v := range more {
		out[k] = append(out[k], v...)
	}
	return out
}

// podSpecPaths are where the built-in workload kinds keep their pod spec.
var podSpecPaths = map[string][]string{
	"Pod":                   {"spec"},
	"PodTemplate":           {"template", "spec"},
	"Deployment":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// containerLists are the pod spec fields whose entries run an image.
var containerLists = []string{"initContainers", "containers", "ephemeralContainers"}

// ExtractImages returns every image reference of a rendered resource, in
// field order. ex adds custom extractors for its kind.
func ExtractImages(res *model.Resource, ex Extractors) []ImageRef {
	found := extract(res, ex)
	refs := make([]ImageRef, len(found))
	for i, f := range found {
		refs[i] = f.ref
	}
	return refs
}

// extracted is an image reference and the node holding its value (nil when
// the field is missing).
type extracted struct {
	ref  ImageRef
	node *yaml.Node
}

func extract(res *model.Resource, ex Extractors) []extracted {
	var out []extracted
	seen := map[string]bool{}
	add := func(e extracted) {
		if seen[e.ref.FieldPath] {
			return
		}
		seen[e.ref.FieldPath] = true
		e.ref.Resource = res.ResourceID
		out = append(out, e)
	}
	for _, e := range builtinImages(res) {
		add(e)
	}
	for _, c := range ex[res.Kind] {
		for _, e := range customImages(res.Node, c) {
			add(e)
		}
	}
	return out
}

func builtinImages(res *model.Resource) []extracted {
	if x := crdExtractors[groupOf(res.APIVersion)+"/"+res.Kind]; x != nil {
		return x(res.Node)
	}
	p, known := podSpecPaths[res.Kind]
	if !known {
		// Any resource with a pod template at spec.template (Argo Rollouts'
		// Rollout, OpenKruise's CloneSet, ...) runs its containers.
		p = []string{"spec", "template", "spec"}
		spec := walkKeys(res.Node, p)
		if !hasContainerList(spec) {
			return nil
		}
	}
	return podSpecImages(walkKeys(res.Node, p), strings.Join(p, "."))
}

// podSpecImages returns the images of a pod spec whose path is prefix.
func podSpecImages(spec *yaml.Node, prefix string) []extracted {
	if spec == nil || spec.Kind != yaml.MappingNode {
		return nil
	}
	var refs []extracted
	for _, list := range containerLists {
		refs = append(refs, containerImages(model.MapGet(spec, list), prefix+"."+list, false)...)
	}
	// Image volumes (Kubernetes 1.31+) mount an OCI image's content: it is
	// pulled and its content reaches the pod, so it is verified like a container.
	if vols := model.MapGet(spec, "volumes"); vols != nil && vols.Kind == yaml.SequenceNode {
		for i, v := range vols.Content {
			img := model.MapGet(v, "image")
			if img == nil || img.Kind != yaml.MappingNode {
				continue
			}
			name, _ := model.ScalarString(model.MapGet(v, "name"))
			refs = append(refs, imageAt(img, "reference", fmt.Sprintf("%s.volumes[%d].image.reference", prefix, i), name))
		}
	}
	return refs
}

// containerImages returns the image of each container of a list at prefix.
// With optional, a container without an image field is left out: its image
// comes from a default that is extracted where it is written (Tekton's
// stepTemplate, Argo Workflows' templateDefaults).
func containerImages(seq *yaml.Node, prefix string, optional bool) []extracted {
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	var refs []extracted
	for i, c := range seq.Content {
		if e, ok := containerImage(c, fmt.Sprintf("%s[%d]", prefix, i), optional); ok {
			refs = append(refs, e)
		}
	}
	return refs
}

// containerImage returns the image of one container-like object at path.
func containerImage(c *yaml.Node, path string, optional bool) (extracted, bool) {
	c = model.Deref(c)
	if optional && model.MapGet(c, "image") == nil {
		return extracted{}, false
	}
	name, _ := model.ScalarString(model.MapGet(c, "name"))
	return imageAt(c, "image", path+".image", name), true
}

func hasContainerList(spec *yaml.Node) bool {
	for _, l := range containerLists {
		if n := model.MapGet(spec, l); n != nil && n.Kind == yaml.SequenceNode {
			return true
		}
	}
	return false
}

func walkKeys(n *yaml.Node, keys []string) *yaml.Node {
	for _, k := range keys {
		n = model.MapGet(n, k)
		if n == nil {
			return nil
		}
	}
	return n
}

// imageAt reads the image held by field of obj. A missing, empty or
// non-string value is returned as a reference with Error set: it is a
// finding, not a crash, and it fails verification.
func imageAt(obj *yaml.Node, field, fieldPath, name string) extracted {
	r := ImageRef{FieldPath: fieldPath, Container: name}
	obj = model.Deref(obj)
	val := model.MapGet(obj, field)
	if val == nil {
		r.Error = "no image: the field is missing"
		if obj != nil {
			r.Line = obj.Line
		}
		return extracted{ref: r}
	}
	r.Image, r.Error = imageValue(val)
	r.Line = val.Line
	return extracted{ref: r, node: val}
}

// imageValue checks that a node holds a usable image reference string.
func imageValue(val *yaml.Node) (image, problem string) {
	switch {
	case val == nil || val.Kind != yaml.ScalarNode || val.ShortTag() == "!!null":
		return "", fmt.Sprintf("image is %s, want a string", model.DescribeNode(val))
	case val.ShortTag() != "!!str":
		return val.Value, fmt.Sprintf("image is %s, want a string", model.DescribeNode(val))
	case strings.TrimSpace(val.Value) == "":
		return val.Value, "image is empty"
	}
	return val.Value, ""
}

// maxExtractorMatches bounds the nodes one wildcard path may visit, so a
// custom extractor over an alias-heavy document stays cheap.
const maxExtractorMatches = 10_000

func customImages(root *yaml.Node, c ExtractorConfig) []extracted {
	segs := strings.Split(strings.Trim(c.Path, "/"), "/")
	type hit struct {
		node   *yaml.Node
		parent *yaml.Node // the object holding node, for its name
		path   string
		key    string
	}
	cur := []hit{{node: root}}
	for _, s := range segs {
		var next []hit
		for _, h := range cur {
			n := model.Deref(h.node)
			if n == nil {
				continue
			}
			switch {
			case s == "*" && n.Kind == yaml.SequenceNode:
				for i, e := range n.Content {
					next = append(next, hit{node: e, path: h.path + "[" + strconv.Itoa(i) + "]", key: strconv.Itoa(i)})
				}
			case s == "*" && n.Kind == yaml.MappingNode:
				for i := 0; i+1 < len(n.Content); i += 2 {
					k := model.Deref(n.Content[i])
					if k == nil {
						continue
					}
					next = append(next, hit{node: n.Content[i+1], path: joinField(h.path, k.Value), key: k.Value})
				}
			case n.Kind == yaml.MappingNode:
				if v := model.MapGet(n, s); v != nil {
					next = append(next, hit{node: v, parent: n, path: joinField(h.path, s), key: h.key})
				}
			case n.Kind == yaml.SequenceNode:
				if i, err := strconv.Atoi(s); err == nil && i >= 0 && i < len(n.Content) {
					next = append(next, hit{node: n.Content[i], path: h.path + "[" + s + "]", key: s})
				}
			}
			if len(next) > maxExtractorMatches {
				next = next[:maxExtractorMatches]
				break
			}
		}
		cur = next
	}
	var refs []extracted
	for _, h := range cur {
		if c.Value == "" {
			n := model.Deref(h.node)
			r := ImageRef{FieldPath: h.path, Container: h.key}
			if name, ok := model.ScalarString(model.MapGet(h.parent, "name")); ok {
				r.Container = name
			}
			r.Image, r.Error = imageValue(n)
			if n != nil {
				r.Line = n.Line
			}
			refs = append(refs, extracted{ref: r, node: n})
			continue
		}
		name := h.key
		if c.Key != "" {
			if k, ok := model.ScalarString(model.MapGet(h.node, c.Key)); ok {
				name = k
			}
		}
		refs = append(refs, imageAt(h.node, c.Value, joinField(h.path, c.Value), name))
	}
	return refs
}

func joinField(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// SortRefs orders references by file, line, then field path, which is the
// order a reader scans a report in.
func SortRefs(refs []ImageRef) {
	sort.SliceStable(refs, func(i, j int) bool {
		a, b := refs[i], refs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.FieldPath < b.FieldPath
	})
}

// Field is an image reference with the YAML node its value is written in
// (nil when the field is missing or not a string), for callers that rewrite
// image values in place.
type Field struct {
	Ref  ImageRef
	Node *yaml.Node
}

// Fields returns the image fields of res, like ExtractImages, with their
// nodes.
func Fields(res *model.Resource, ex Extractors) []Field {
	es := extract(res, ex)
	out := make([]Field, len(es))
	for i, e := range es {
		out[i] = Field{Ref: e.ref, Node: e.node}
	}
	return out
}

// ImageName strips the tag and digest of an image reference.
func ImageName(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref
}

// LookupField follows a field path such as spec.template.spec.containers[0].image.
func LookupField(n *yaml.Node, fieldPath string) *yaml.Node {
	for _, seg := range strings.Split(fieldPath, ".") {
		key, rest, _ := strings.Cut(seg, "[")
		if key != "" {
			n = model.MapGet(n, key)
		}
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			i, err := strconv.Atoi(idx)
			n = model.Deref(n)
			if err != nil || n == nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
				return nil
			}
			n = model.Deref(n.Content[i])
			rest = strings.TrimPrefix(after, "[")
		}
		if n == nil {
			return nil
		}
	}
	return n
}
