package convert

import (
	"strconv"

	yaml "go.yaml.in/yaml/v3"
)

// The output is built as yaml.v3 nodes, so that keys keep the order a
// reader expects (apiVersion, kind, metadata, spec) and comments sit at the
// field they explain.

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

func seq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Content: items}
}

func flowSeq(items ...string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, s := range items {
		n.Content = append(n.Content, str(s))
	}
	return n
}

func str(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if len(s) > 0 && s[len(s)-1] == '\n' {
		n.Style = yaml.LiteralStyle
	}
	return n
}

func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

func integer(i int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(i)}
}

// set appends key: value to the mapping m, with comment (if any) above the
// key, and returns value.
func set(m *yaml.Node, key string, value *yaml.Node, comment ...string) *yaml.Node {
	k := str(key)
	k.HeadComment = joinComments(comment)
	m.Content = append(m.Content, k, value)
	return value
}

func joinComments(cs []string) string {
	out := ""
	for _, c := range cs {
		if c == "" {
			continue
		}
		if out != "" {
			out += "\n"
		}
		out += c
	}
	return out
}

// lookup returns the value of key in the mapping n, or nil.
func lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			return v
		}
	}
	return nil
}

// lookupPath follows keys through nested mappings.
func lookupPath(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n = lookup(n, k)
	}
	return n
}
