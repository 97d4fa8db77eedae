// Package conditions evaluates Kyverno's attestation conditions: `all` and
// `any` lists of {key, operator, value, message}, whose key and value may
// hold `{{ }}` JMESPath variables resolved against an attestation's
// predicate. It reproduces Kyverno's operator semantics
// (kyverno/kyverno pkg/engine/variables/operator) and its JMESPath fork and
// custom functions (pkg/engine/jmespath), because the gate's verdict must
// be the verdict admission will give.
package conditions

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	jmespath "github.com/kyverno/go-jmespath"
)

// Condition is one Kyverno condition.
type Condition struct {
	Key      any    `json:"key"`
	Operator string `json:"operator"`
	Value    any    `json:"value,omitempty"`
	Message  string `json:"message,omitempty"`
}

// AnyAll is one entry of an attestation's conditions: every All and at
// least one Any (when given) must hold.
type AnyAll struct {
	Any []Condition `json:"any,omitempty"`
	All []Condition `json:"all,omitempty"`
}

// Operators Kyverno accepts (kyverno/api ConditionOperators), by name.
var operators = map[string]bool{
	"Equals": true, "NotEquals": true, "In": true, "AnyIn": true, "AllIn": true, "NotIn": true,
	"AnyNotIn": true, "AllNotIn": true, "GreaterThanOrEquals": true, "GreaterThan": true,
	"LessThanOrEquals": true, "LessThan": true, "DurationGreaterThanOrEquals": true,
	"DurationGreaterThan": true, "DurationLessThanOrEquals": true, "DurationLessThan": true,
}

// Kyverno lower-cases nothing, but its CRD accepts these legacy spellings.
var aliases = map[string]string{"Equal": "Equals", "NotEqual": "NotEquals"}

// Validate checks a condition when the policy is loaded: a known operator
// and variables that compile.
func (c Condition) Validate() error {
	if _, ok := operators[c.op()]; !ok {
		return fmt.Errorf("operator %q: want one of Equals, NotEquals, In, AnyIn, AllIn, NotIn, AnyNotIn, AllNotIn, GreaterThan(OrEquals), LessThan(OrEquals), DurationGreaterThan(OrEquals), DurationLessThan(OrEquals)", c.Operator)
	}
	if c.Key == nil {
		return errors.New("key is required")
	}
	for _, v := range []any{c.Key, c.Value} {
		if err := walkVariables(v, func(expr string) error {
			_, err := jmespath.Compile(expr)
			if err != nil {
				return fmt.Errorf("variable {{%s}}: %w", expr, err)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

func (c Condition) op() string {
	if a, ok := aliases[c.Operator]; ok {
		return a
	}
	return c.Operator
}

// Failure says which condition failed and what was found.
type Failure struct {
	// Key is the key as written ({{ }} removed), e.g. runDetails.builder.id.
	Key      string `json:"key"`
	Operator string `json:"operator"`
	Want     string `json:"want"`
	Got      string `json:"got"`
	Message  string `json:"message,omitempty"`
}

// String is "runDetails.builder.id: want X, got Y" (with the operator
// when it is not Equals, and the policy's message).
func (f *Failure) String() string {
	op := ""
	if f.Operator != "Equals" {
		op = f.Operator + " "
	}
	s := fmt.Sprintf("%s: want %s%s, got %s", f.Key, op, f.Want, f.Got)
	if f.Message != "" {
		s += " (" + f.Message + ")"
	}
	return s
}

// Evaluate applies every AnyAll to data (the predicate). It returns the
// first failure, or nil when all hold. An error is a condition Kyverno
// could not evaluate (an unknown function, a malformed variable); Kyverno
// then fails the attestation, and so does the caller.
func Evaluate(list []AnyAll, data any, now time.Time) (*Failure, error) {
	for _, aa := range list {
		for _, c := range aa.All {
			ok, f, err := c.eval(data, now)
			if err != nil {
				return nil, err
			}
			if !ok {
				return f, nil
			}
		}
		if len(aa.Any) > 0 {
			var first *Failure
			passed := false
			for _, c := range aa.Any {
				ok, f, err := c.eval(data, now)
				if err != nil {
					return nil, err
				}
				if ok {
					passed = true
					break
				}
				if first == nil {
					first = f
				}
			}
			if !passed {
				return first, nil
			}
		}
	}
	return nil, nil
}

func (c Condition) eval(data any, now time.Time) (bool, *Failure, error) {
	key, kerr := substitute(c.Key, data, now)
	value, verr := substitute(c.Value, data, now)
	f := &Failure{Key: keyName(c.Key), Operator: c.op(), Message: c.Message}
	f.Want = show(value)
	if verr != nil {
		f.Want = show(c.Value)
	}
	var nf *notFound
	switch {
	case errors.As(kerr, &nf):
		f.Got = "nothing (" + nf.expr + " is not in the predicate)"
		return false, f, nil
	case kerr != nil:
		return false, nil, fmt.Errorf("condition key %s: %w", f.Key, kerr)
	case errors.As(verr, &nf):
		f.Got = show(key) + " (the value's " + nf.expr + " is not in the predicate)"
		return false, f, nil
	case verr != nil:
		return false, nil, fmt.Errorf("condition value of %s: %w", f.Key, verr)
	}
	f.Got = show(key)
	return Compare(c.op(), key, value), f, nil
}

// keyName is the key as a reader knows it: the JMESPath of a key that is
// one variable, else the key as written.
func keyName(k any) string {
	s, ok := k.(string)
	if !ok {
		return show(k)
	}
	if m := wholeVar.FindStringSubmatch(s); m != nil {
		return strings.TrimSpace(m[1])
	}
	return s
}

func show(v any) string {
	switch t := v.(type) {
	case string:
		return fmt.Sprintf("%q", t)
	case nil:
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Kyverno's variable syntax (pkg/engine/variables/regex): {{ expr }},
// not preceded by a backslash.
var (
	varRegex = regexp.MustCompile(`(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})`)
	wholeVar = regexp.MustCompile(`^\{\{((?:\{[^{}]*\}|[^{}])*)\}\}$`)
)

type notFound struct{ expr string }

func (n *notFound) Error() string { return fmt.Sprintf("%s: not found", n.expr) }

func walkVariables(v any, f func(string) error) error {
	switch t := v.(type) {
	case string:
		for _, m := range varRegex.FindAllStringSubmatch(t, -1) {
			expr := strings.TrimSpace(m[2][2 : len(m[2])-2])
			if err := f(expr); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range t {
			if err := walkVariables(e, f); err != nil {
				return err
			}
		}
	case map[string]any:
		for _, e := range t {
			if err := walkVariables(e, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// substitute resolves the variables of v against data, as Kyverno's
// SubstituteAll does: a string that is one variable becomes the value
// (typed), variables inside a longer string are replaced by their text.
func substitute(v any, data any, now time.Time) (any, error) {
	switch t := v.(type) {
	case string:
		if m := wholeVar.FindStringSubmatch(t); m != nil {
			return search(strings.TrimSpace(m[1]), data, now)
		}
		var firstErr error
		out := varRegex.ReplaceAllStringFunc(t, func(s string) string {
			prefix := ""
			if !strings.HasPrefix(s, "{{") {
				prefix, s = s[:1], s[1:]
			}
			val, err := search(strings.TrimSpace(s[2:len(s)-2]), data, now)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return prefix + s
			}
			if str, ok := val.(string); ok {
				return prefix + str
			}
			b, _ := json.Marshal(val)
			return prefix + string(b)
		})
		return out, firstErr
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			r, err := substitute(e, data, now)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			r, err := substitute(e, data, now)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

func search(expr string, data any, now time.Time) (any, error) {
	jp, err := jmespath.Compile(expr)
	if err != nil {
		return nil, err
	}
	res, err := jp.Search(data, jmespath.WithFunctionCaller(functionCaller(now)))
	var nf jmespath.NotFoundError
	if errors.As(err, &nf) {
		return nil, &notFound{expr: expr}
	}
	if err != nil {
		return nil, err
	}
	if res == nil {
		// Kyverno: "failed to resolve <expr>" — the condition cannot hold.
		return nil, &notFound{expr: expr}
	}
	return res, nil
}
