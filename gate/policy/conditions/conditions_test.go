package conditions

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Cases transcribed from Kyverno's own operator tests
// (pkg/engine/variables/operator/*_test.go), so that the gate's reading
// of a condition is Kyverno's.
func TestOperatorsAsKyverno(t *testing.T) {
	type c struct {
		op         string
		key, value any
		want       bool
	}
	cases := []c{
		// anyin_test.go
		{"AnyIn", "kyverno", "kyverno", true},
		{"AnyIn", "kube-system", []any{"default", "kube-*"}, true},
		{"AnyIn", "kyverno", "default", false},
		{"AnyIn", 64, "64", true},
		{"AnyIn", 1, []any{1, 2, 3}, true},
		{"AnyIn", 64, "default", false},
		{"AnyIn", 3.14, "3.14", true},
		{"AnyIn", 2.2, []any{1.1, 2.2, 3.3}, true},
		{"AnyIn", true, "true", true},
		{"AnyIn", []any{"kube-system", "kube-public"}, "kube-*", true},
		{"AnyIn", []any{"kube-system", "default"}, "kube-system", true},
		{"AnyIn", []any{"default", "kyverno"}, "kube-*", false},
		{"AnyIn", []any{"default", "kyverno"}, []any{"kube-*", "ky*"}, true},
		{"AnyIn", []any{"default", "kyverno"}, []any{"kube-*", "kube-system"}, false},
		{"AnyIn", []any{}, []any{"default", "kyverno"}, false},
		{"AnyIn", "", []any{"default", "kyverno"}, false},
		{"AnyIn", map[string]any{"foo": "bar"}, "test", false},
		{"AnyIn", "5", "1-10", true},
		{"AnyIn", "0", "1-10", false},
		{"AnyIn", []any{"0", "5"}, "1-10", true},
		{"AnyIn", []any{"0", "20"}, "1-10", false},
		{"AnyIn", "apple", `["apple", "banana"]`, true},
		{"AnyIn", "cherry", `["apple", "banana"]`, false},
		{"AnyIn", []any{"apple", "cherry"}, `["apple", "banana"]`, true},
		{"AnyIn", []any{"cherry", "date"}, `["apple", "banana"]`, false},
		// allnotin_test.go
		{"AllNotIn", "kyverno", "kyverno", false},
		{"AllNotIn", "kube-system", []any{"default", "kube-*"}, false},
		{"AllNotIn", "kyverno", "default", true},
		{"AllNotIn", 64, "64", false},
		{"AllNotIn", 64, "default", true},
		{"AllNotIn", []any{"kube-system", "kube-public"}, "kube-*", false},
		{"AllNotIn", []any{"kube-system", "default"}, "kube-system", false},
		{"AllNotIn", []any{"default", "kyverno"}, "kube-*", true},
		{"AllNotIn", []any{"default", "kyverno"}, []any{"kube-*", "kube-system"}, true},
		{"AllNotIn", []any{"default", "kyverno"}, []any{"kube-*", "ky*"}, false},
		// AllIn / AnyNotIn / In / NotIn
		{"AllIn", []any{"kube-system", "kube-public"}, "kube-*", true},
		{"AllIn", []any{"kube-system", "default"}, []any{"kube-*"}, false},
		{"AnyNotIn", []any{"kube-system", "default"}, []any{"kube-*"}, true},
		{"AnyNotIn", []any{"kube-system"}, []any{"kube-*"}, false},
		{"In", "refs/heads/main", []any{"refs/heads/main", "refs/tags/*"}, true},
		{"NotIn", "refs/heads/dev", []any{"refs/heads/main", "refs/tags/*"}, true},
		// duration_test.go
		{"DurationGreaterThan", "2h", "1h", true},
		{"DurationGreaterThan", "1h", "2h", false},
		{"DurationGreaterThan", "1h", "1h", false},
		{"DurationGreaterThan", "60m", "1h", false},
		{"DurationGreaterThan", "61m", "1h", true},
		{"DurationGreaterThan", 120, 60, true},
		{"DurationGreaterThan", 60, 120, false},
		{"DurationGreaterThan", 120, "1m", true},
		{"DurationGreaterThan", 120.5, 60.5, true},
		{"DurationGreaterThan", 120.0, "1m", true},
		{"DurationGreaterThan", true, false, false},
		{"DurationGreaterThan", "invalid", 60, false},
		{"DurationGreaterThan", "1h", "invalid", false},
		{"DurationGreaterThanOrEquals", "1h", "60m", true},
		{"DurationGreaterThanOrEquals", "30m", "1h", false},
		{"DurationLessThan", "30m", "1h", true},
		{"DurationLessThan", "1h", "60m", false},
		{"DurationLessThanOrEquals", "1h", "60m", true},
		// equal_test.go / numeric_test.go shapes
		{"Equals", "https://github.com/acme/app", "https://github.com/acme/*", true},
		{"Equals", "https://github.com/evil/app", "https://github.com/acme/*", false},
		{"Equals", 10, "10", true},
		{"Equals", 10.0, 10, true},
		{"Equals", "1Gi", "1024Mi", true},
		{"Equals", "1h", "60m", true},
		{"Equals", true, "true", false},
		{"Equals", map[string]any{"a": "b"}, map[string]any{"a": "b"}, true},
		{"NotEquals", "a", "b", true},
		{"GreaterThan", 10, 5, true},
		{"GreaterThan", "10", 5, true},
		{"GreaterThan", "2Gi", "1Gi", true},
		{"GreaterThanOrEquals", "1.10.0", "1.9.0", true},
		{"LessThan", 4.5, "5", true},
		{"LessThanOrEquals", 5, 5, true},
		{"GreaterThan", "abc", 5, false},
	}
	for _, tc := range cases {
		if got := Compare(tc.op, tc.key, tc.value); got != tc.want {
			t.Errorf("%s(%v, %v) = %v, want %v", tc.op, tc.key, tc.value, got, tc.want)
		}
	}
}

func predicate(t *testing.T, s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEvaluateNamesTheFailingField(t *testing.T) {
	p := predicate(t, `{"runDetails":{"builder":{"id":"https://github.com/evil/x/.github/workflows/r.yml@refs/heads/main"}},"buildDefinition":{"buildType":"https://actions.github.io/buildtypes/workflow/v1"}}`)
	conds := []AnyAll{{All: []Condition{
		{Key: "{{ buildDefinition.buildType }}", Operator: "Equals", Value: "https://actions.github.io/buildtypes/workflow/v1"},
		{Key: "{{ runDetails.builder.id }}", Operator: "Equals", Value: "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"},
	}}}
	f, err := Evaluate(conds, p, time.Now())
	if err != nil || f == nil {
		t.Fatalf("want a failure, got %v, %v", f, err)
	}
	want := `runDetails.builder.id: want "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main", got "https://github.com/evil/x/.github/workflows/r.yml@refs/heads/main"`
	if f.String() != want {
		t.Fatalf("failure\n got %s\nwant %s", f, want)
	}
	// any: one holding is enough; a missing field is a failure, not an error.
	conds = []AnyAll{{Any: []Condition{
		{Key: "{{ nosuch.field }}", Operator: "Equals", Value: "x"},
		{Key: "{{ to_upper(buildDefinition.buildType) }}", Operator: "Equals", Value: "HTTPS://ACTIONS.GITHUB.IO/*"},
	}}}
	if f, err := Evaluate(conds, p, time.Now()); f != nil || err != nil {
		t.Fatalf("any: want pass, got %v, %v", f, err)
	}
	f, _ = Evaluate([]AnyAll{{All: []Condition{{Key: "{{ nosuch.field }}", Operator: "Equals", Value: "x", Message: "need it"}}}}, p, time.Now())
	if f == nil || !strings.Contains(f.String(), "nosuch.field is not in the predicate") || !strings.Contains(f.String(), "need it") {
		t.Fatalf("missing field: %v", f)
	}
}

// Kyverno's documented vuln-scan freshness check
// (kyverno/policies check-vulnerabilities: time_since(”, metadata.scanFinishedOn, ”), DurationLessThanOrEquals 168h).
func TestTimeSinceScanAge(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	cond := []AnyAll{{All: []Condition{{
		Key: "{{ time_since('','{{metadata.scanFinishedOn}}','') }}", Operator: "DurationLessThanOrEquals", Value: "168h",
	}}}}
	// Kyverno's nested form is unusual; the plain form is what policies write.
	cond[0].All[0].Key = "{{ time_since('', metadata.scanFinishedOn, '') }}"
	fresh := predicate(t, `{"metadata":{"scanFinishedOn":"2026-11-30T12:00:00Z"}}`)
	stale := predicate(t, `{"metadata":{"scanFinishedOn":"2026-11-20T12:00:00Z"}}`)
	if f, err := Evaluate(cond, fresh, now); f != nil || err != nil {
		t.Fatalf("fresh scan: %v %v", f, err)
	}
	f, err := Evaluate(cond, stale, now)
	if err != nil || f == nil || !strings.Contains(f.String(), `got "264h0m0s"`) {
		t.Fatalf("stale scan: %v %v", f, err)
	}
}

func TestFunctions(t *testing.T) {
	p := predicate(t, `{"s":"a,b,c","n":"Main","v":12}`)
	for expr, want := range map[string]string{
		"split(s, ',')":                `["a","b","c"]`,
		"to_lower(n)":                  `"main"`,
		"to_upper(n)":                  `"MAIN"`,
		"regex_match('^M', n)":         `true`,
		"regex_match('^1[0-9]$', v)":   `true`,
		"contains(split(s, ','), 'b')": `true`,
		"length(split(s, ','))":        `3`,
		"time_since('', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z')": `"24h0m0s"`,
	} {
		got, err := search(expr, p, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		b, _ := json.Marshal(got)
		if string(b) != want {
			t.Errorf("%s = %s, want %s", expr, b, want)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := (Condition{Key: "{{ a.b }}", Operator: "Equal", Value: "x"}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Condition{Key: "{{ a.b }}", Operator: "Matches", Value: "x"}).Validate(); err == nil {
		t.Fatal("unknown operator accepted")
	}
	if err := (Condition{Key: "{{ a.[ }}", Operator: "Equals", Value: "x"}).Validate(); err == nil {
		t.Fatal("bad JMESPath accepted")
	}
}
