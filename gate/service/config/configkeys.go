package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/gitops-gate/gitops-gate/gate/internal/suggest"
)

// checkKeys walks a configuration document against the yaml tags of t and
// returns every unknown key and every value of the wrong type, each named
// by its config key (repos[0].trustedRoot), with the nearest known key
// when one is close: "repo: unknown key; did you mean repos?". yaml.v3's
// own strict errors name Go types, not keys.
func checkKeys(file string, doc *yaml.Node, t reflect.Type) error {
	if doc.Kind == 0 {
		return nil // an empty file: every key takes its default
	}
	var errs []error
	walkKeys(file, doc, t, "", &errs)
	return errors.Join(errs...)
}

func walkKeys(file string, n *yaml.Node, t reflect.Type, path string, errs *[]error) {
	if n == nil {
		return
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			walkKeys(file, c, t, path, errs)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	fail := func(line int, format string, args ...any) {
		*errs = append(*errs, fmt.Errorf("config %s:%d: %s", file, line, fmt.Sprintf(format, args...)))
	}
	if n.Tag == "!!null" {
		return
	}
	switch {
	case reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()):
		// A type that reads itself (a sources.allow entry: a string or a
		// mapping) checks its own keys.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			fail(n.Line, "%s: %v", orTop(path), err)
		}
	case t.Kind() == reflect.Struct && t != reflect.TypeOf(time.Time{}):
		if n.Kind != yaml.MappingNode {
			fail(n.Line, "%s: want a mapping of keys, got %s", orTop(path), n.ShortTag())
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			sub := k.Value
			if path != "" {
				sub = path + "." + k.Value
			}
			f, ok := fields[k.Value]
			if !ok {
				msg := sub + ": unknown key"
				if near := suggest.Nearest(k.Value, sortedFieldNames(fields)); near != "" {
					msg += "; did you mean " + near + "?"
				} else {
					msg += " (known here: " + strings.Join(sortedFieldNames(fields), ", ") + ")"
				}
				fail(k.Line, "%s", msg)
				continue
			}
			walkKeys(file, v, f, sub, errs)
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		if n.Kind != yaml.SequenceNode {
			fail(n.Line, "%s: want a list, got %s", orTop(path), n.ShortTag())
			return
		}
		for i, e := range n.Content {
			walkKeys(file, e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	default:
		// A leaf (or a map): decode it alone, so a type error names its key.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			fail(n.Line, "%s: %s", orTop(path), leafWant(t, n))
		}
	}
}

func orTop(path string) string {
	if path == "" {
		return "the document"
	}
	return path
}

// leafWant says what a scalar key takes.
func leafWant(t reflect.Type, n *yaml.Node) string {
	got := n.Value
	if n.Kind != yaml.ScalarNode {
		got = "a " + strings.TrimPrefix(n.ShortTag(), "!!")
	} else {
		got = fmt.Sprintf("%q", got)
	}
	switch {
	case t == reflect.TypeOf(time.Duration(0)):
		return got + ": want a duration such as 30s or 10m"
	case t.Kind() == reflect.Bool:
		return got + ": want true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return got + ": want a whole number"
	case t.Kind() == reflect.String:
		return got + ": want a string"
	case t.Kind() == reflect.Map:
		return got + ": want a mapping"
	}
	return got + ": want a " + t.String()
}

// yamlFields maps the yaml keys of struct t (inlined structs included) to
// their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := strings.Split(f.Tag.Get("yaml"), ",")
		if tag[0] == "-" {
			continue
		}
		if len(tag) > 1 && tag[1] == "inline" {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		name := tag[0]
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func sortedFieldNames(m map[string]reflect.Type) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
