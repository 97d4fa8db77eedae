package convert

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/gitops-gate/gitops-gate/gate/policy/conditions"
)

// wildcardRegexp is a Kyverno wildcard (* any run, ? one character, the
// whole string) as an anchored regular expression, the reading the gate
// gives subject and issuer wildcards (gate/verify identityOf).
func wildcardRegexp(w string) string {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range w {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return b.String()
}

func hasWildcard(s string) bool { return strings.ContainsAny(s, "*?") }

// celString is s as a CEL string literal: a raw string when that needs no
// escape (regular expressions stay readable), a quoted one otherwise.
func celString(s string) string {
	if !strings.ContainsAny(s, "'\n\r") {
		if strings.Contains(s, `\`) {
			return "r'" + s + "'"
		}
		return "'" + s + "'"
	}
	return strconv.Quote(s)
}

var numericRange = regexp.MustCompile(`^-?\d+(\.\d+)?--?\d+(\.\d+)?$`)

var celIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// celReserved are words CEL does not accept as a field selected with a dot.
var celReserved = map[string]bool{
	"true": true, "false": true, "null": true, "in": true, "as": true, "break": true, "const": true,
	"continue": true, "else": true, "for": true, "function": true, "if": true, "import": true,
	"let": true, "loop": true, "package": true, "namespace": true, "return": true, "var": true, "void": true, "while": true,
}

// member is base.name, or base["name"] when name is not a CEL identifier
// (attestations.my-sbom would be a subtraction).
func member(base, name string) string {
	if celIdent.MatchString(name) && !celReserved[name] {
		return base + "." + name
	}
	return base + "[" + strconv.Quote(name) + "]"
}

// jmesPath matches a condition key that is one {{ }} variable naming a
// plain dotted path: the only keys with a clear CEL equivalent.
var jmesPath = regexp.MustCompile(`^\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}$`)

// conditionCEL writes one Kyverno condition as a CEL expression over the
// predicate (payload is the CEL expression of the predicate). guards are
// the has() tests of the key's path, outermost first: Kyverno fails a
// condition whose key is missing, and so must the CEL (an error would be
// a pass under failurePolicy: Ignore). ok is false when there is no clear
// equivalent; why says what is in the way.
//
// Where Kyverno is more lenient than the CEL written (a duration or
// quantity compared as such, a number against its string, a wildcard in
// the key), the CEL denies: stricter, never weaker.
func conditionCEL(c conditions.Condition, payload string) (expr string, guards []string, ok bool, why string) {
	key, isStr := c.Key.(string)
	if !isStr {
		return "", nil, false, "the key is not a {{ }} variable"
	}
	m := jmesPath.FindStringSubmatch(strings.TrimSpace(key))
	if m == nil {
		return "", nil, false, fmt.Sprintf("key %q is not a plain dotted path (JMESPath functions, indexes and quoted names have no direct CEL equivalent)", key)
	}
	field := payload
	for _, part := range strings.Split(m[1], ".") {
		next := member(field, part)
		if strings.HasSuffix(next, "]") {
			// has() takes only a field selection.
			guards = append(guards, strconv.Quote(part)+" in "+field)
		} else {
			guards = append(guards, "has("+next+")")
		}
		field = next
	}
	if s, isStr := c.Value.(string); isStr && strings.Contains(s, "{{") {
		return "", nil, false, "the value holds a {{ }} variable"
	}
	switch op := c.Operator; op {
	case "Equals", "Equal", "NotEquals", "NotEqual":
		e, ok := equalsCEL(field, c.Value)
		if !ok {
			return "", nil, false, fmt.Sprintf("%s with a %T value", op, c.Value)
		}
		if strings.HasPrefix(op, "Not") {
			e = "!(" + e + ")"
		}
		return e, guards, true, ""
	case "In", "AllIn", "AnyIn", "NotIn", "AllNotIn":
		list, ok := stringList(c.Value)
		if !ok {
			return "", nil, false, fmt.Sprintf("%s with a value that is not a list of strings", op)
		}
		in := func(x string) string {
			var alts, exact []string
			for _, v := range list {
				if hasWildcard(v) {
					alts = append(alts, fmt.Sprintf("%s.matches(%s)", x, celString(wildcardRegexp(v))))
				} else {
					exact = append(exact, celString(v))
				}
			}
			if len(exact) > 0 {
				alts = append([]string{fmt.Sprintf("%s in [%s]", x, strings.Join(exact, ", "))}, alts...)
			}
			e := strings.Join(alts, " || ")
			if len(alts) > 1 {
				e = "(" + e + ")"
			}
			return e
		}
		switch op {
		case "In", "AllIn", "AnyIn":
			// A list key is then "list in list", false: stricter than
			// Kyverno's set test, never weaker.
			return in(field), guards, true, ""
		}
		// A list key must not turn !(list in [...]) into a pass: Kyverno
		// tests its elements (NotIn: one is not in the value; AllNotIn:
		// none is).
		each := "exists"
		if op == "AllNotIn" {
			each = "all"
		}
		return fmt.Sprintf("(type(%s) == list ? %s.%s(e, !%s) : !%s)", field, field, each, parenthesize(in("e")), parenthesize(in(field))), guards, true, ""
	}
	return "", nil, false, fmt.Sprintf("operator %s has no direct CEL equivalent here", c.Operator)
}

func parenthesize(e string) string {
	if strings.HasPrefix(e, "(") && strings.HasSuffix(e, ")") {
		return e
	}
	return "(" + e + ")"
}

// equalsCEL is Kyverno's Equals for a scalar value: a string with * or ?
// is a wildcard over the whole key.
func equalsCEL(field string, v any) (string, bool) {
	switch t := v.(type) {
	case string:
		if hasWildcard(t) {
			return fmt.Sprintf("%s.matches(%s)", field, celString(wildcardRegexp(t))), true
		}
		return fmt.Sprintf("%s == %s", field, celString(t)), true
	case bool:
		return fmt.Sprintf("%s == %t", field, t), true
	case int:
		return fmt.Sprintf("%s == %d.0", field, t), true
	case int64:
		return fmt.Sprintf("%s == %d.0", field, t), true
	case float64:
		f := strconv.FormatFloat(t, 'f', -1, 64)
		if !strings.Contains(f, ".") {
			f += ".0"
		}
		return fmt.Sprintf("%s == %s", field, f), true
	}
	return "", false
}

func stringList(v any) ([]string, bool) {
	switch t := v.(type) {
	case string:
		// A JSON array or a range ("1-10") in a string: Kyverno reads
		// those specially; leave them to a person.
		if strings.HasPrefix(strings.TrimSpace(t), "[") || numericRange.MatchString(t) {
			return nil, false
		}
		return []string{t}, true
	case []any:
		var out []string
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, len(out) > 0
	}
	return nil, false
}
