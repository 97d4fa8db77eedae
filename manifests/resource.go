package manifests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
	// exactLines says that the line numbers of Node are lines of File.
	exactLines bool
}

// mapGet returns the value of key in a mapping node, following aliases.
func mapGet(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k != nil && k.Value == key {
			return deref(n.Content[i+1])
		}
	}
	return nil
}

// mapKey returns the key node of key in a mapping node (for its line).
func mapKey(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k != nil && k.Value == key {
			return n.Content[i]
		}
	}
	return nil
}

func deref(n *yaml.Node) *yaml.Node {
	// Aliases of aliases are legal; the bound keeps a hostile cycle finite.
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 64; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// scalarString returns the string value of a scalar node, or "" and false.
func scalarString(n *yaml.Node) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return "", false
	}
	return n.Value, true
}

// describeNode names a node's type for error messages.
func describeNode(n *yaml.Node) string {
	n = deref(n)
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

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// parseDocuments splits a YAML or JSON stream into documents. It stops at the
// first syntax error (the decoder cannot resynchronise) and reports it with
// its line; documents before it are kept. Empty documents are dropped.
func parseDocuments(file string, data []byte, maxNodes int) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			fe := &FileError{File: file, Err: fmt.Errorf("invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))}
			if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
				fe.Line, _ = strconv.Atoi(m[1])
			}
			return docs, fe
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
			continue
		}
		if n := expandedSize(root, maxNodes); n > maxNodes {
			return docs, &FileError{File: file, Line: root.Line, Err: fmt.Errorf("document expands to more than %d YAML nodes (an alias bomb?): %w", maxNodes, ErrTooLarge)}
		}
		docs = append(docs, root)
	}
}

// checkAliases refuses YAML whose documents expand past maxNodes once
// aliases are resolved. It is for files that another library (kustomize,
// Helm) will decode and expand: anything that does not parse is left to that
// library to report. Text without an anchor cannot expand and costs nothing.
func checkAliases(file string, data []byte, maxNodes int) error {
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
			if expandedSize(root, maxNodes) > maxNodes {
				return &FileError{File: file, Line: root.Line, Err: fmt.Errorf("document expands to more than %d YAML nodes (an alias bomb?): %w", maxNodes, ErrTooLarge)}
			}
		}
	}
}

// expandedSize counts the nodes of n as if every alias were expanded, giving
// up as soon as the count passes limit. Sizes are memoised per node, so a
// billion-laughs document costs time linear in its text, not its expansion.
func expandedSize(n *yaml.Node, limit int) int {
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

// objectsOf turns a parsed document into Kubernetes objects. A `kind: *List`
// with items is unwrapped the way kubectl and Argo CD do. A document that is
// not an object (no apiVersion or kind) is an error that names its line.
func objectsOf(file string, root *yaml.Node) ([]Resource, error) {
	if root.Kind != yaml.MappingNode {
		return nil, &FileError{File: file, Line: root.Line, Err: fmt.Errorf("not a Kubernetes object: document is %s, want a mapping with apiVersion and kind", describeNode(root))}
	}
	apiVersion, _ := scalarString(mapGet(root, "apiVersion"))
	kind, _ := scalarString(mapGet(root, "kind"))
	if apiVersion == "" || kind == "" {
		var missing []string
		if apiVersion == "" {
			missing = append(missing, "apiVersion")
		}
		if kind == "" {
			missing = append(missing, "kind")
		}
		return nil, &FileError{File: file, Line: root.Line, Err: fmt.Errorf("not a Kubernetes object: no %s", strings.Join(missing, " or "))}
	}
	if items := mapGet(root, "items"); strings.HasSuffix(kind, "List") && items != nil && items.Kind == yaml.SequenceNode {
		var out []Resource
		var errs []error
		for _, it := range items.Content {
			objs, err := objectsOf(file, deref(it))
			out = append(out, objs...)
			if err != nil {
				errs = append(errs, err)
			}
		}
		return out, errors.Join(errs...)
	}
	meta := mapGet(root, "metadata")
	name, _ := scalarString(mapGet(meta, "name"))
	if name == "" {
		name, _ = scalarString(mapGet(meta, "generateName"))
	}
	ns, _ := scalarString(mapGet(meta, "namespace"))
	return []Resource{{
		ResourceID: ResourceID{APIVersion: apiVersion, Kind: kind, Namespace: ns, Name: name},
		File:       file,
		Line:       root.Line,
		Node:       root,
	}}, nil
}
