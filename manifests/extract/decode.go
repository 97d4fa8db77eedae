package extract

import (
	"github.com/gitops-gate/gitops-gate/manifests/model"

	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

// DecodeOptions configure DecodeManifests.
type DecodeOptions struct {
	// File names the stream in errors and in each Resource's File.
	File string
	// MaxNodes bounds the size of one document once its aliases are
	// expanded (alias bombs); 0 means model.DefaultMaxDocumentNodes.
	MaxNodes int
	// YAMLOnly reads the stream as YAML even when it starts with "{". Argo
	// CD receives Helm and Kustomize output as one YAML stream, so their
	// documents are never read in JSON mode.
	YAMLOnly bool
}

// DecodeManifests decodes a stream of YAML or JSON documents into the
// objects kubectl and Argo CD would apply, in stream order.
//
// The applier splits the stream with k8s.io/apimachinery's YAMLOrJSONDecoder
// (JSON values when the stream starts with "{", else documents separated by
// "---" lines) and decodes each document with sigs.k8s.io/yaml (goyaml v2,
// YAML 1.1 scalars, merge keys expanded in document order, the last of
// duplicate keys winning). An object whose "items" field is a list is applied
// as its items, whatever its kind. DecodeManifests decodes each document with
// that same library and holds the gate's own tree to it:
//
//   - a duplicate key, or two keys the applier turns into the same string
//     (`1` and `"1"`), is an error naming both positions: the applier would
//     keep one of them silently;
//   - merge keys and aliases are expanded with the applier's precedence;
//   - every scalar carries the type and value the applier decodes;
//   - any other disagreement with the applier's decoding is an error.
//
// Each Resource's Node is the object as the applier sees it, with the line
// and column where each value is written: no anchors, aliases or merge keys
// are left, so encoding it with yaml.v3 gives a document the applier decodes
// to the same object. Objects decoded before an error are returned with it.
func DecodeManifests(data []byte, opts DecodeOptions) ([]model.Resource, error) {
	if opts.MaxNodes <= 0 {
		opts.MaxNodes = model.DefaultMaxDocumentNodes
	}
	chunks, splitErr := SplitStream(opts.File, data, opts.YAMLOnly)
	var out []model.Resource
	errs := []error{}
	for _, c := range chunks {
		root, err := DecodeChunk(opts.File, c, opts.MaxNodes)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if root == nil {
			continue
		}
		objs, err := model.ObjectsOf(opts.File, root)
		out = append(out, objs...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, splitErr)
	return out, errors.Join(errs...)
}

// DecodeRenderedNode is DecodeManifests for an object a renderer holds as a
// yaml.v3 tree and prints as the JSON document printed (Kustomize: `kustomize
// build` prints each resource's JSON as YAML, which the applier reads back to
// the same object). The tree is held to that JSON as a stream's documents are
// held to the applier's decoding.
func DecodeRenderedNode(file string, node *yaml.Node, printed []byte, maxNodes int) ([]model.Resource, error) {
	if n := model.ExpandedSize(node, maxNodes); n > maxNodes {
		return nil, &model.FileError{File: file, Line: node.Line, Err: fmt.Errorf("document expands to more than %d YAML nodes (an alias bomb?): %w", maxNodes, model.ErrTooLarge)}
	}
	d := json.NewDecoder(bytes.NewReader(printed))
	d.UseNumber()
	var truth any
	if err := d.Decode(&truth); err != nil {
		return nil, &model.FileError{File: file, Err: fmt.Errorf("rendered object: %w", err)}
	}
	if truth == nil {
		return nil, nil
	}
	n := &normaliser{file: file}
	root, err := n.value(node, truth, "", 0)
	if err != nil {
		return nil, err
	}
	return model.ObjectsOf(file, root)
}

// Chunk is one document as the applier reads it: its bytes, and where they
// start in the file (1-based line; column of the first byte).
type Chunk struct {
	data   []byte
	line   int
	column int
	json   bool
}

// SplitStream splits a stream as apimachinery's YAMLOrJSONDecoder does. A
// stream whose first non-space character is "{" is read as JSON values;
// after a syntax error on the first or second value the rest is read as
// YAML, after more values it is an error. YAML is split at lines starting
// with "---"; anything after the "---" other than a comment is an error.
func SplitStream(file string, data []byte, yamlOnly bool) ([]Chunk, error) {
	var chunks []Chunk
	off := 0
	if !yamlOnly && bytes.HasPrefix(bytes.TrimLeftFunc(data, unicode.IsSpace), []byte("{")) {
		dec := json.NewDecoder(bytes.NewReader(data))
		count := 0
		for {
			start := off
			var raw json.RawMessage
			err := dec.Decode(&raw)
			if errors.Is(err, io.EOF) {
				return chunks, nil
			}
			if err != nil {
				if count > 1 {
					line, _ := position(data, start)
					return chunks, &model.FileError{File: file, Line: line, Err: fmt.Errorf("invalid JSON: %v", err)}
				}
				// Back to the end of the last value, past blanks up to and
				// including the first newline, then YAML.
				off = skipBlankToNewline(data, off)
				break
			}
			count++
			end := int(dec.InputOffset())
			// raw is the value without the blanks before it.
			vstart := end - len(raw)
			line, col := position(data, vstart)
			chunks = append(chunks, Chunk{data: data[vstart:end], line: line, column: col, json: true})
			off = end
		}
	}
	line, _ := position(data, off)
	rest := data[off:]
	var buf []byte
	bufLine := line
	for len(rest) > 0 {
		var l []byte
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			l, rest = rest, nil
		} else {
			l, rest = rest[:nl], rest[nl+1:]
			// bufio.Reader.ReadLine drops "\r\n"; the decoder adds "\n".
			l = bytes.TrimSuffix(l, []byte("\r"))
		}
		if bytes.HasPrefix(l, []byte("---")) {
			trimmed := strings.TrimSpace(string(l[3:]))
			if trimmed != "" && trimmed[0] != '#' {
				return chunks, &model.FileError{File: file, Line: line, Err: fmt.Errorf("invalid document separator %q: kubectl and Argo CD accept only a comment after ---", string(l))}
			}
			if len(buf) > 0 {
				chunks = append(chunks, Chunk{data: buf, line: bufLine, column: 1})
			}
			buf = nil
			line++
			bufLine = line
			continue
		}
		buf = append(buf, l...)
		buf = append(buf, '\n')
		line++
	}
	if len(buf) > 0 {
		chunks = append(chunks, Chunk{data: buf, line: bufLine, column: 1})
	}
	return chunks, nil
}

// skipBlankToNewline skips white space from off up to and including the
// first newline, as YAMLOrJSONDecoder does when it falls back to YAML.
func skipBlankToNewline(data []byte, off int) int {
	for off < len(data) {
		r, n := utf8.DecodeRune(data[off:])
		if !unicode.IsSpace(r) {
			return off
		}
		off += n
		if r == '\n' {
			return off
		}
	}
	return off
}

// position is the 1-based line and column of byte off.
func position(data []byte, off int) (line, col int) {
	line = 1 + bytes.Count(data[:off], []byte("\n"))
	return line, off - (bytes.LastIndexByte(data[:off], '\n') + 1) + 1
}

// DecodeChunk decodes one document twice: with yaml.v3, for positions, and
// with the applier's decoder, for the values. It returns the normalised
// root (nil for an empty document).
func DecodeChunk(file string, c Chunk, maxNodes int) (*yaml.Node, error) {
	fail := func(line int, err error) error {
		return &model.FileError{File: file, Line: line, Err: err}
	}
	dec := yaml.NewDecoder(bytes.NewReader(c.data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	var root *yaml.Node
	switch {
	case errors.Is(err, io.EOF):
	case err != nil:
		line := c.line
		if m := model.YAMLLineRE.FindStringSubmatch(err.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			line += n - 1
		}
		return nil, fail(line, fmt.Errorf("invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: ")))
	case len(doc.Content) > 0:
		root = doc.Content[0]
	}
	if root != nil {
		if n := model.ExpandedSize(root, maxNodes); n > maxNodes {
			return nil, fail(c.line+root.Line-1, fmt.Errorf("document expands to more than %d YAML nodes (an alias bomb?): %w", maxNodes, model.ErrTooLarge))
		}
		var next yaml.Node
		if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
			line := c.line
			if err == nil && len(next.Content) > 0 {
				line += next.Content[0].Line - 1
			}
			return nil, fail(line, errors.New("content after a document end marker (...): kubectl and Argo CD ignore it; separate documents with ---"))
		}
	}
	// The applier's view of the same bytes.
	var truth any
	var terr error
	if c.json {
		d := json.NewDecoder(bytes.NewReader(c.data))
		d.UseNumber()
		terr = d.Decode(&truth)
	} else {
		var j []byte
		if j, terr = sigsyaml.YAMLToJSON(c.data); terr == nil {
			d := json.NewDecoder(bytes.NewReader(j))
			d.UseNumber()
			terr = d.Decode(&truth)
		}
	}
	if terr != nil {
		return nil, fail(c.line, fmt.Errorf("kubectl and Argo CD cannot decode this document: %v", terr))
	}
	if root == nil || (root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" && truth == nil) {
		if truth != nil {
			return nil, fail(c.line, errors.New("the gate's decoder found no document where kubectl and Argo CD find one"))
		}
		return nil, nil
	}
	if truth == nil {
		return nil, nil // "null" documents are skipped by the applier
	}
	n := &normaliser{file: file, line: c.line - 1, column: c.column - 1}
	return n.value(root, truth, "", 0)
}

// normaliser builds the applier's view of a yaml.v3 tree: aliases and merge
// keys expanded, scalars typed by the applier's decoding (truth), positions
// moved from the Chunk to the file.
type normaliser struct {
	file         string
	line, column int // offsets of the Chunk in the file
	nan          int // NaN keys are never equal to each other
}

// maxAliasDepth bounds nesting (and merges of merges), as expandedSize does.
const maxAliasDepth = 1000

func (n *normaliser) at(src *yaml.Node) string {
	return fmt.Sprintf("%s:%d", n.file, n.lineOf(src))
}

func (n *normaliser) lineOf(src *yaml.Node) int { return src.Line + n.line }

func (n *normaliser) colOf(src *yaml.Node) int {
	if src.Line == 1 {
		return src.Column + n.column
	}
	return src.Column
}

func (n *normaliser) errorf(src *yaml.Node, format string, args ...any) error {
	return &model.FileError{File: n.file, Line: n.lineOf(src), Err: fmt.Errorf(format, args...)}
}

func (n *normaliser) disagree(src *yaml.Node, path, what string) error {
	if path == "" {
		path = "the document"
	}
	return n.errorf(src, "%s: %s; kubectl and Argo CD decode this differently from the gate, so the gate cannot see what they apply", path, what)
}

func (n *normaliser) value(src *yaml.Node, truth any, path string, depth int) (*yaml.Node, error) {
	if depth > maxAliasDepth {
		return nil, n.errorf(src, "%s: nested too deeply", path)
	}
	for i := 0; src.Kind == yaml.AliasNode; i++ {
		if src.Alias == nil || i > 64 {
			return nil, n.errorf(src, "%s: unresolvable alias", path)
		}
		src = src.Alias
	}
	switch src.Kind {
	case yaml.MappingNode:
		return n.mapping(src, truth, path, depth)
	case yaml.SequenceNode:
		list, ok := truth.([]any)
		if !ok {
			return nil, n.disagree(src, path, fmt.Sprintf("a list here, %s for the applier", describeTruth(truth)))
		}
		if len(list) != len(src.Content) {
			return nil, n.disagree(src, path, fmt.Sprintf("%d list entries here, %d for the applier", len(src.Content), len(list)))
		}
		out := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: src.Style & yaml.FlowStyle, Line: n.lineOf(src), Column: n.colOf(src),
			HeadComment: src.HeadComment, LineComment: src.LineComment, FootComment: src.FootComment}
		out.Content = make([]*yaml.Node, len(list))
		for i, e := range src.Content {
			v, err := n.value(e, list[i], path+"["+strconv.Itoa(i)+"]", depth+1)
			if err != nil {
				return nil, err
			}
			out.Content[i] = v
		}
		return out, nil
	case yaml.ScalarNode:
		return n.scalar(src, truth, path)
	}
	return nil, n.disagree(src, path, "an unexpected YAML node")
}

// scalar types a scalar the way the applier decoded it.
func (n *normaliser) scalar(src *yaml.Node, truth any, path string) (*yaml.Node, error) {
	out := &yaml.Node{Kind: yaml.ScalarNode, Line: n.lineOf(src), Column: n.colOf(src),
		HeadComment: src.HeadComment, LineComment: src.LineComment, FootComment: src.FootComment}
	switch t := truth.(type) {
	case string:
		out.Tag, out.Value = "!!str", t
	case bool:
		out.Tag, out.Value = "!!bool", strconv.FormatBool(t)
	case nil:
		out.Tag, out.Value = "!!null", "null"
	case json.Number:
		out.Tag, out.Value = "!!int", t.String()
		if strings.ContainsAny(out.Value, ".eE") {
			out.Tag = "!!float"
		}
	default:
		return nil, n.disagree(src, path, fmt.Sprintf("a scalar here, %s for the applier", describeTruth(truth)))
	}
	if out.Tag == src.ShortTag() && out.Value == src.Value {
		out.Style = src.Style &^ yaml.TaggedStyle
	}
	return out, nil
}

func describeTruth(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case nil:
		return "null"
	}
	return "a scalar"
}

// entry is one key of a mapping after merges: its key (as the applier
// types it), the node holding the key and the node holding the value.
type entry struct {
	key      v2Key
	keyNode  *yaml.Node
	value    *yaml.Node
	jsonName string
}

// v2Key is a key as goyaml v2 holds it in a map[interface{}]interface{}:
// keys of different types never collide there.
type v2Key struct {
	kind byte // s(tring), i(nt), u(int64), f(loat), b(ool), n(ull)
	val  string
}

func (n *normaliser) mapping(src *yaml.Node, truth any, path string, depth int) (*yaml.Node, error) {
	obj, ok := truth.(map[string]any)
	if !ok {
		return nil, n.disagree(src, path, fmt.Sprintf("a mapping here, %s for the applier", describeTruth(truth)))
	}
	var entries []*entry
	index := map[v2Key]int{}
	if err := n.apply(src, &entries, index, path, 0); err != nil {
		return nil, err
	}
	// The applier turns every key into a JSON string; two keys that become
	// the same string are kept in an undefined order.
	byName := map[string]*entry{}
	for _, e := range entries {
		name, err := jsonKeyName(e.key)
		if err != nil {
			return nil, n.errorf(e.keyNode, "%s: %v: kubectl and Argo CD refuse this key", joinField(path, e.keyNode.Value), err)
		}
		if prev, dup := byName[name]; dup {
			return nil, n.errorf(e.keyNode, "%s: keys %q (%s) and %q (%s) both decode to %q, and kubectl and Argo CD keep either one: remove one of them",
				joinField(path, name), prev.keyNode.Value, n.at(prev.keyNode), e.keyNode.Value, n.at(e.keyNode), name)
		}
		byName[name] = e
		e.jsonName = name
	}
	if len(byName) != len(obj) {
		for k := range obj {
			if byName[k] == nil {
				return nil, n.disagree(src, path, fmt.Sprintf("the applier sees key %q, the gate does not", k))
			}
		}
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: src.Style & yaml.FlowStyle, Line: n.lineOf(src), Column: n.colOf(src),
		HeadComment: src.HeadComment, LineComment: src.LineComment, FootComment: src.FootComment}
	out.Content = make([]*yaml.Node, 0, 2*len(entries))
	for _, e := range entries {
		t, ok := obj[e.jsonName]
		if !ok {
			return nil, n.disagree(e.keyNode, joinField(path, e.jsonName), "the gate sees this key, the applier does not")
		}
		k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: e.jsonName, Line: n.lineOf(e.keyNode), Column: n.colOf(e.keyNode),
			HeadComment: e.keyNode.HeadComment, LineComment: e.keyNode.LineComment, FootComment: e.keyNode.FootComment}
		if e.keyNode.Value == e.jsonName && e.keyNode.ShortTag() == "!!str" {
			k.Style = e.keyNode.Style &^ yaml.TaggedStyle
		}
		v, err := n.value(e.value, t, joinField(path, e.jsonName), depth+1)
		if err != nil {
			return nil, err
		}
		out.Content = append(out.Content, k, v)
	}
	return out, nil
}

// apply adds the keys of mapping m to entries in goyaml v2's order: keys and
// merges are applied in document order and a later one overwrites an
// earlier one; in a merge list, earlier mappings win.
func (n *normaliser) apply(m *yaml.Node, entries *[]*entry, index map[v2Key]int, path string, depth int) error {
	if depth > maxAliasDepth {
		return n.errorf(m, "%s: merge keys nested too deeply", path)
	}
	own := map[v2Key]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if isMergeKey(k) {
			if err := n.merge(v, entries, index, path, depth); err != nil {
				return err
			}
			continue
		}
		kd := k
		for j := 0; kd != nil && kd.Kind == yaml.AliasNode && j < 64; j++ {
			kd = kd.Alias
		}
		if kd == nil || kd.Kind != yaml.ScalarNode {
			return n.errorf(k, "%s: a key that is %s: kubectl and Argo CD accept only scalar keys", path, model.DescribeNode(kd))
		}
		key, err := n.keyOf(kd)
		if err != nil {
			return n.errorf(k, "%s: key %q: %v", path, kd.Value, err)
		}
		if prev, dup := own[key]; dup {
			return n.errorf(k, "%s: duplicate key %q at %s and %s: kubectl and Argo CD keep the last one silently; remove one of them",
				joinField(path, kd.Value), kd.Value, n.at(prev), n.at(k))
		}
		own[key] = k
		// Position the key at its own line even when it is an alias.
		kn := *kd
		kn.Line, kn.Column = k.Line, k.Column
		e := &entry{key: key, keyNode: &kn, value: v}
		if i, ok := index[key]; ok {
			(*entries)[i] = e
		} else {
			index[key] = len(*entries)
			*entries = append(*entries, e)
		}
	}
	return nil
}

func (n *normaliser) merge(v *yaml.Node, entries *[]*entry, index map[v2Key]int, path string, depth int) error {
	wantMap := func(at *yaml.Node) error {
		return n.errorf(at, "%s: a merge key (<<) needs a mapping or a list of mappings", path)
	}
	switch v.Kind {
	case yaml.MappingNode:
		return n.apply(v, entries, index, path, depth+1)
	case yaml.AliasNode:
		if v.Alias == nil || v.Alias.Kind != yaml.MappingNode {
			return wantMap(v)
		}
		return n.apply(v.Alias, entries, index, path, depth+1)
	case yaml.SequenceNode:
		// Earlier mappings take precedence: apply them last.
		for i := len(v.Content) - 1; i >= 0; i-- {
			e := v.Content[i]
			if e.Kind == yaml.AliasNode {
				e = e.Alias
			}
			if e == nil || e.Kind != yaml.MappingNode {
				return wantMap(v.Content[i])
			}
			if err := n.apply(e, entries, index, path, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return wantMap(v)
}

// isMergeKey says whether goyaml v2 reads a key as a merge key: a plain
// "<<" or one tagged !!merge (yaml.v3 gives both the tag !!merge).
func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == "!!merge"
}

// keyOf types a scalar key as goyaml v2 does.
func (n *normaliser) keyOf(k *yaml.Node) (v2Key, error) {
	quoted := k.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0
	tag := ""
	if k.Style&yaml.TaggedStyle != 0 {
		tag = k.ShortTag()
	}
	switch {
	case tag == "" && quoted, tag == "!!str":
		return v2Key{'s', k.Value}, nil
	case tag == "":
		return n.resolveKey(k.Value), nil
	case tag == "!!int", tag == "!!float", tag == "!!bool", tag == "!!null":
		key := n.resolveKey(k.Value)
		want := map[string]byte{"!!int": 'i', "!!float": 'f', "!!bool": 'b', "!!null": 'n'}[tag]
		if key.kind == 'u' && want == 'i' {
			return key, nil
		}
		if want == 'f' && key.kind == 'i' {
			f, _ := strconv.ParseFloat(key.val, 64)
			return v2Key{'f', strconv.FormatFloat(f, 'g', -1, 64)}, nil
		}
		if key.kind != want {
			return v2Key{}, fmt.Errorf("cannot decode as %s", tag)
		}
		return key, nil
	case strings.HasPrefix(tag, "!!"):
		return v2Key{}, fmt.Errorf("key tagged %s", tag)
	}
	// A local tag (!foo) leaves the value a string in goyaml v2.
	return v2Key{'s', k.Value}, nil
}

var yamlStyleFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// resolveKey is goyaml v2's resolution of a plain scalar (YAML 1.1: yes, on,
// y are booleans; 0x1F, 0o17, 0b101, 1_000 are integers; timestamps stay
// strings when decoded into an interface).
func (n *normaliser) resolveKey(s string) v2Key {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON":
		return v2Key{'b', "true"}
	case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF":
		return v2Key{'b', "false"}
	case "", "~", "null", "Null", "NULL":
		return v2Key{'n', ""}
	case ".nan", ".NaN", ".NAN":
		n.nan++
		return v2Key{'f', "NaN#" + strconv.Itoa(n.nan)}
	case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF":
		return v2Key{'f', "+Inf"}
	case "-.inf", "-.Inf", "-.INF":
		return v2Key{'f', "-Inf"}
	}
	switch c := s[0]; {
	case c == '.':
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return floatKey(f)
		}
	case c == '+' || c == '-' || (c >= '0' && c <= '9'):
		if _, ok := v2Timestamp(s); ok {
			return v2Key{'s', s}
		}
		plain := strings.ReplaceAll(s, "_", "")
		if i, err := strconv.ParseInt(plain, 0, 64); err == nil {
			return v2Key{'i', strconv.FormatInt(i, 10)}
		}
		if u, err := strconv.ParseUint(plain, 0, 64); err == nil {
			return v2Key{'u', strconv.FormatUint(u, 10)}
		}
		if yamlStyleFloat.MatchString(plain) {
			if f, err := strconv.ParseFloat(plain, 64); err == nil {
				return floatKey(f)
			}
		}
		if strings.HasPrefix(plain, "0b") {
			if i, err := strconv.ParseInt(plain[2:], 2, 64); err == nil {
				return v2Key{'i', strconv.FormatInt(i, 10)}
			}
			if u, err := strconv.ParseUint(plain[2:], 2, 64); err == nil {
				return v2Key{'u', strconv.FormatUint(u, 10)}
			}
		} else if strings.HasPrefix(plain, "-0b") {
			if i, err := strconv.ParseInt("-"+plain[3:], 2, 64); err == nil {
				return v2Key{'i', strconv.FormatInt(i, 10)}
			}
		}
	}
	return v2Key{'s', s}
}

func floatKey(f float64) v2Key {
	return v2Key{'f', strconv.FormatFloat(f, 'g', -1, 64)}
}

// v2Timestamp reports whether goyaml v2 reads s as a timestamp.
func v2Timestamp(s string) (string, bool) {
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
	}
	if i != 4 || i == len(s) || s[i] != '-' {
		return "", false
	}
	for _, layout := range []string{"2006-1-2T15:4:5.999999999Z07:00", "2006-1-2t15:4:5.999999999Z07:00", "2006-1-2 15:4:5.999999999", "2006-1-2"} {
		if _, err := time.Parse(layout, s); err == nil {
			return s, true
		}
	}
	return "", false
}

// jsonKeyName is the string sigs.k8s.io/yaml makes of a key.
func jsonKeyName(k v2Key) (string, error) {
	switch k.kind {
	case 's', 'i':
		return k.val, nil
	case 'b':
		return k.val, nil
	case 'f':
		if strings.HasPrefix(k.val, "NaN#") {
			return ".nan", nil
		}
		f, _ := strconv.ParseFloat(k.val, 64)
		switch {
		case math.IsInf(f, 1):
			return ".inf", nil
		case math.IsInf(f, -1):
			return "-.inf", nil
		}
		return strconv.FormatFloat(f, 'g', -1, 32), nil
	case 'u':
		return "", errors.New("an integer key too large for int64")
	}
	return "", errors.New("a null key")
}
