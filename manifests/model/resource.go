package model

import (
	"bytes"
	"errors"
	"fmt"

	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// ResourceID names a Kubernetes object.
type ResourceID struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

func (id ResourceID) String() string {
	s := id.Kind + "/" + id.Name
	if id.Namespace != "" {
		s = id.Namespace + "/" + s
	}
	return s
}

// Resource is one rendered Kubernetes object and where it comes from.
type Resource struct {
	ResourceID
	// File is the repository-relative file the object is written in: the
	// manifest itself, the Kustomize origin, or the Helm template.
	File string
	// Line is the line of the object in File when known exactly, else 0.
	Line int
	// Node is the object's mapping node.
	Node *yaml.Node
	// ExactLines says that the line numbers of Node are lines of File.
	ExactLines bool `json:"-"`
}

// MapGet returns the value of key in a mapping node, following aliases.
func MapGet(n *yaml.Node, key string) *yaml.Node {
	n = Deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := Deref(n.Content[i]); k != nil && k.Value == key {
			return Deref(n.Content[i+1])
		}
	}
	return nil
}

// MapKey returns the key node of key in a mapping node (for its line).
func MapKey(n *yaml.Node, key string) *yaml.Node {
	n = Deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := Deref(n.Content[i]); k != nil && k.Value == key {
			return n.Content[i]
		}
	}
	return nil
}

func Deref(n *yaml.Node) *yaml.Node {
	// Aliases of aliases are legal; the bound keeps a hostile cycle finite.
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 64; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// ScalarString returns the string value of a scalar node, or "" and false.
func ScalarString(n *yaml.Node) (string, bool) {
	n = Deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return "", false
	}
	return n.Value, true
}

// StringValue returns the value of a string scalar, else "".
func StringValue(n *yaml.Node) string {
	n = Deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return ""
	}
	return n.Value
}

// DescribeNode names a node's type for error messages.
func DescribeNode(n *yaml.Node) string {
	n = Deref(n)
	switch {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.ShortTag() == "!!null":
		return "null"
	default:
		return strings.TrimPrefix(n.ShortTag(), "!!") + " " + strconv.Quote(n.Value)
	}
}

var YAMLLineRE = regexp.MustCompile(`line (\d+)`)

// CheckAliases refuses YAML whose documents expand past maxNodes once
// aliases are resolved. It is for files that another library (kustomize,
// Helm) will decode and expand: anything that does not parse is left to that
// library to report. Text without an anchor cannot expand and costs nothing.
func CheckAliases(file string, data []byte, maxNodes int) error {
	if !bytes.Contains(data, []byte("&")) {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return nil
		}
		for _, root := range doc.Content {
			if ExpandedSize(root, maxNodes) > maxNodes {
				return &FileError{File: file, Line: root.Line, Err: fmt.Errorf("document expands to more than %d YAML nodes (an alias bomb?): %w", maxNodes, ErrTooLarge)}
			}
		}
	}
}

// ExpandedSize counts the nodes of n as if every alias were expanded, giving
// up as soon as the count passes limit. Sizes are memoised per node, so a
// billion-laughs document costs time linear in its text, not its expansion.
func ExpandedSize(n *yaml.Node, limit int) int {
	memo := map[*yaml.Node]int{}
	var size func(n *yaml.Node, depth int) int
	size = func(n *yaml.Node, depth int) int {
		if n == nil {
			return 0
		}
		if depth > 1000 {
			return limit + 1
		}
		if n.Kind == yaml.AliasNode {
			return size(n.Alias, depth+1)
		}
		if s, ok := memo[n]; ok {
			return s
		}
		memo[n] = limit + 1 // a node reached through itself is a cycle
		total := 1
		for _, c := range n.Content {
			total += size(c, depth+1)
			if total > limit {
				break
			}
		}
		memo[n] = total
		return total
	}
	return size(n, 0)
}

// ObjectsOf turns a decoded document into the Kubernetes objects the
// applier applies. An object whose items field is a list is applied as its
// items, whatever its kind (apimachinery's IsList, as Argo CD and kubectl
// expand it), one level deep; one whose items is null and that has no spec or
// status is applied as nothing (Argo CD's isNullList). A document that is not
// an object (no apiVersion or kind) is an error that names its line.
func ObjectsOf(file string, root *yaml.Node) ([]Resource, error) {
	if root.Kind != yaml.MappingNode {
		return nil, &FileError{File: file, Line: root.Line, Err: fmt.Errorf("not a Kubernetes object: document is %s, want a mapping with apiVersion and kind", DescribeNode(root))}
	}
	switch items := MapGet(root, "items"); {
	case items != nil && items.Kind == yaml.SequenceNode:
		var out []Resource
		var errs []error
		for i, it := range items.Content {
			it = Deref(it)
			if it == nil || it.Kind != yaml.MappingNode {
				errs = append(errs, &FileError{File: file, Line: items.Line, Err: fmt.Errorf("items[%d] is %s: the applier applies each item of a list as an object", i, DescribeNode(it))})
				continue
			}
			obj, err := ObjectOf(file, it)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, obj)
		}
		return out, errors.Join(errs...)
	case items != nil && items.ShortTag() == "!!null" && MapGet(root, "spec") == nil && MapGet(root, "status") == nil:
		return nil, nil
	}
	obj, err := ObjectOf(file, root)
	if err != nil {
		return nil, err
	}
	return []Resource{obj}, nil
}

// ObjectOf reads one object's identity.
func ObjectOf(file string, root *yaml.Node) (Resource, error) {
	// The applier reads these as strings only (unstructured.GetKind).
	apiVersion, kind := StringValue(MapGet(root, "apiVersion")), StringValue(MapGet(root, "kind"))
	if apiVersion == "" || kind == "" {
		var missing []string
		if apiVersion == "" {
			missing = append(missing, "apiVersion")
		}
		if kind == "" {
			missing = append(missing, "kind")
		}
		return Resource{}, &FileError{File: file, Line: root.Line, Err: fmt.Errorf("not a Kubernetes object: no %s", strings.Join(missing, " or "))}
	}
	meta := MapGet(root, "metadata")
	name, _ := ScalarString(MapGet(meta, "name"))
	if name == "" {
		name, _ = ScalarString(MapGet(meta, "generateName"))
	}
	ns, _ := ScalarString(MapGet(meta, "namespace"))
	return Resource{
		ResourceID: ResourceID{APIVersion: apiVersion, Kind: kind, Namespace: ns, Name: name},
		File:       file,
		Line:       root.Line,
		Node:       root,
	}, nil
}

// DefaultMaxDocumentNodes bounds the YAML nodes of one document once its
// aliases are expanded, unless the caller sets its own bound.
const DefaultMaxDocumentNodes = 500_000
