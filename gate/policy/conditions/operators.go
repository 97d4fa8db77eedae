package conditions

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/blang/semver/v4"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Compare applies a Kyverno operator to a resolved key and value
// (kyverno/kyverno pkg/engine/variables/operator). Type mismatches are
// false, as there.
func Compare(op string, key, value any) bool {
	key, value = normalize(key), normalize(value)
	switch op {
	case "Equals":
		return equals(key, value)
	case "NotEquals":
		return !equals(key, value)
	case "In", "AllIn":
		return setOp(key, value, func(in, n int) bool { return in == n })
	case "AnyIn":
		return setOp(key, value, func(in, n int) bool { return in > 0 })
	case "NotIn":
		return setOp(key, value, func(in, n int) bool { return in < n })
	case "AnyNotIn":
		return setOp(key, value, func(in, n int) bool { return in < n })
	case "AllNotIn":
		return setOp(key, value, func(in, n int) bool { return in == 0 })
	case "GreaterThan", "GreaterThanOrEquals", "LessThan", "LessThanOrEquals":
		c, ok := numericCmp(key, value)
		return ok && cmpHolds(op, c)
	case "DurationGreaterThan", "DurationGreaterThanOrEquals", "DurationLessThan", "DurationLessThanOrEquals":
		k, ok1 := asDuration(key)
		v, ok2 := asDuration(value)
		if !ok1 || !ok2 {
			return false
		}
		return cmpHolds(strings.TrimPrefix(op, "Duration"), cmp3(float64(k), float64(v)))
	}
	return false
}

// normalize turns YAML/JSON integers into int64 and leaves the rest.
func normalize(v any) any {
	switch t := v.(type) {
	case int:
		return int64(t)
	case int32:
		return int64(t)
	case uint64:
		return int64(t)
	}
	return v
}

func cmp3(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpHolds(op string, c int) bool {
	switch op {
	case "GreaterThan":
		return c > 0
	case "GreaterThanOrEquals":
		return c >= 0
	case "LessThan":
		return c < 0
	case "LessThanOrEquals":
		return c <= 0
	}
	return false
}

// parseDuration: at least one side is a duration string; a number on the
// other side is seconds (operator/utils.go).
func parseDuration(key, value any) (time.Duration, time.Duration, bool) {
	kd, kok := durationString(key)
	vd, vok := durationString(value)
	if !kok && !vok {
		return 0, 0, false
	}
	if !kok {
		if kd, kok = secondsOf(key); !kok {
			return 0, 0, false
		}
	}
	if !vok {
		if vd, vok = secondsOf(value); !vok {
			return 0, 0, false
		}
	}
	return kd, vd, true
}

func durationString(v any) (time.Duration, bool) {
	s, ok := v.(string)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}

func secondsOf(v any) (time.Duration, bool) {
	switch t := v.(type) {
	case int64:
		return time.Duration(t) * time.Second, true
	case float64:
		return time.Duration(t * float64(time.Second)), true
	}
	return 0, false
}

// asDuration is the Duration* operators' reading: a duration string or
// seconds.
func asDuration(v any) (time.Duration, bool) {
	if d, ok := durationString(v); ok {
		return d, true
	}
	return secondsOf(v)
}

func equals(key, value any) bool {
	switch k := key.(type) {
	case bool:
		v, ok := value.(bool)
		return ok && k == v
	case int64:
		switch v := value.(type) {
		case int64:
			return k == v
		case float64:
			return v == math.Trunc(v) && int64(v) == k
		case string:
			n, err := strconv.ParseInt(v, 10, 64)
			return err == nil && n == k
		}
		return false
	case float64:
		switch v := value.(type) {
		case int64:
			return k == math.Trunc(k) && int64(k) == v
		case float64:
			return k == v
		case string:
			f, err := strconv.ParseFloat(v, 64)
			return err == nil && f == k
		}
		return false
	case string:
		if kd, vd, ok := parseDuration(k, value); ok {
			return kd.Seconds() == vd.Seconds()
		}
		if kq, err := resource.ParseQuantity(k); err == nil {
			if vs, ok := value.(string); ok {
				vq, err := resource.ParseQuantity(vs)
				return err == nil && kq.Equal(vq)
			}
		}
		v, ok := value.(string)
		return ok && Wildcard(v, k)
	case map[string]any:
		v, ok := value.(map[string]any)
		return ok && reflect.DeepEqual(k, v)
	case []any:
		v, ok := value.([]any)
		return ok && reflect.DeepEqual(k, v)
	}
	return false
}

// setOp counts the key's elements found in value and asks holds(found,
// len(key)). A scalar key is a one-element set. Elements match by
// wildcard in either direction, as Kyverno's isAnyIn/isAllIn.
func setOp(key, value any, holds func(in, n int) bool) bool {
	var keys []string
	switch k := key.(type) {
	case string:
		keys = []string{k}
	case int64, float64, bool:
		keys = []string{fmt.Sprint(k)}
	case []any:
		for _, e := range k {
			keys = append(keys, fmt.Sprint(e))
		}
	default:
		return false
	}
	var values []string
	switch v := value.(type) {
	case []any:
		for _, e := range v {
			values = append(values, fmt.Sprint(e))
		}
	case int64, float64:
		values = []string{fmt.Sprint(v)}
	case string:
		if len(keys) == 1 && Wildcard(v, keys[0]) {
			return holds(1, 1)
		}
		if lo, hi, neg, ok := parseRange(v); ok {
			in := 0
			for _, k := range keys {
				f, err := strconv.ParseFloat(k, 64)
				if err == nil && (f >= lo && f <= hi) != neg {
					in++
				}
			}
			return holds(in, len(keys))
		}
		if json.Valid([]byte(v)) {
			var arr []string
			if err := json.Unmarshal([]byte(v), &arr); err != nil {
				return false
			}
			values = arr
		} else {
			values = []string{v}
		}
	default:
		return false
	}
	in := 0
	for _, k := range keys {
		for _, v := range values {
			if Wildcard(v, k) || Wildcard(k, v) {
				in++
				break
			}
		}
	}
	return holds(in, len(keys))
}

var rangeRe = regexp.MustCompile(`^(-?[0-9.]+)(!?)-(-?[0-9.]+)$`)

func parseRange(s string) (lo, hi float64, neg, ok bool) {
	m := rangeRe.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, false, false
	}
	lo, err1 := strconv.ParseFloat(m[1], 64)
	hi, err2 := strconv.ParseFloat(m[3], 64)
	return lo, hi, m[2] == "!", err1 == nil && err2 == nil
}

// numericCmp compares as Kyverno's numeric operators do: durations first,
// then resource quantities, numbers, and semantic versions.
func numericCmp(key, value any) (int, bool) {
	if kd, vd, ok := parseDuration(key, value); ok {
		return cmp3(kd.Seconds(), vd.Seconds()), true
	}
	if ks, ok := key.(string); ok {
		if vs, ok := value.(string); ok {
			kq, err1 := resource.ParseQuantity(ks)
			vq, err2 := resource.ParseQuantity(vs)
			if err1 == nil && err2 == nil {
				return kq.Cmp(vq), true
			}
		}
		if f, err := strconv.ParseFloat(ks, 64); err == nil {
			return numericCmp(f, value)
		}
		if kv, err := semver.Parse(ks); err == nil {
			vs, ok := value.(string)
			if !ok {
				return 0, false
			}
			vv, err := semver.Parse(vs)
			if err != nil {
				return 0, false
			}
			return kv.Compare(vv), true
		}
		return 0, false
	}
	var k float64
	switch t := key.(type) {
	case int64:
		k = float64(t)
	case float64:
		k = t
	default:
		return 0, false
	}
	switch v := value.(type) {
	case int64:
		return cmp3(k, float64(v)), true
	case float64:
		return cmp3(k, v), true
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, false
		}
		return cmp3(k, f), true
	}
	return 0, false
}

// Wildcard matches name against a Kyverno wildcard pattern (* any run, ?
// one character).
func Wildcard(pattern, name string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == name
	}
	var b strings.Builder
	b.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString("(?s:.*)")
		case '?':
			b.WriteString("(?s:.)")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	return err == nil && re.MatchString(name)
}
