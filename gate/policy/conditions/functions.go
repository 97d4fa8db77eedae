package conditions

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	jmespath "github.com/kyverno/go-jmespath"
)

// functionCaller is JMESPath's standard functions plus Kyverno's custom
// ones the gate implements (kyverno/kyverno pkg/engine/jmespath
// functions.go, time.go). now is the evaluation's clock, for time_since
// and time_now.
func functionCaller(now time.Time) *jmespath.FunctionCaller {
	fc := jmespath.NewFunctionCaller()
	str := []jmespath.JpType{jmespath.JpString}
	reg := func(name string, args [][]jmespath.JpType, h jmespath.JpFunction) {
		spec := make([]jmespath.ArgSpec, len(args))
		for i, a := range args {
			spec[i] = jmespath.ArgSpec{Types: a}
		}
		fc.Register(jmespath.FunctionEntry{Name: name, Arguments: spec, Handler: h})
	}
	reg("to_upper", [][]jmespath.JpType{str}, func(a []any) (any, error) { return strings.ToUpper(a[0].(string)), nil })
	reg("to_lower", [][]jmespath.JpType{str}, func(a []any) (any, error) { return strings.ToLower(a[0].(string)), nil })
	reg("split", [][]jmespath.JpType{str, str}, func(a []any) (any, error) {
		parts := strings.Split(a[0].(string), a[1].(string))
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	})
	reg("equal_fold", [][]jmespath.JpType{str, str}, func(a []any) (any, error) { return strings.EqualFold(a[0].(string), a[1].(string)), nil })
	reg("compare", [][]jmespath.JpType{str, str}, func(a []any) (any, error) { return float64(strings.Compare(a[0].(string), a[1].(string))), nil })
	reg("replace_all", [][]jmespath.JpType{str, str, str}, func(a []any) (any, error) {
		return strings.ReplaceAll(a[0].(string), a[1].(string), a[2].(string)), nil
	})
	reg("replace", [][]jmespath.JpType{str, str, str, {jmespath.JpNumber}}, func(a []any) (any, error) {
		return strings.Replace(a[0].(string), a[1].(string), a[2].(string), int(a[3].(float64))), nil
	})
	reg("trim", [][]jmespath.JpType{str, str}, func(a []any) (any, error) { return strings.Trim(a[0].(string), a[1].(string)), nil })
	reg("trim_prefix", [][]jmespath.JpType{str, str}, func(a []any) (any, error) { return strings.TrimPrefix(a[0].(string), a[1].(string)), nil })
	reg("truncate", [][]jmespath.JpType{str, {jmespath.JpNumber}}, func(a []any) (any, error) {
		s, n := a[0].(string), int(a[1].(float64))
		if n < 0 {
			n = 0
		}
		if n < len(s) {
			s = s[:n]
		}
		return s, nil
	})
	reg("base64_decode", [][]jmespath.JpType{str}, func(a []any) (any, error) {
		b, err := base64.StdEncoding.DecodeString(a[0].(string))
		return string(b), err
	})
	reg("regex_match", [][]jmespath.JpType{str, {jmespath.JpString, jmespath.JpNumber}}, func(a []any) (any, error) {
		return regexp.MatchString(a[0].(string), fmt.Sprint(a[1]))
	})
	reg("regex_replace_all", [][]jmespath.JpType{str, {jmespath.JpString, jmespath.JpNumber}, {jmespath.JpString, jmespath.JpNumber}}, func(a []any) (any, error) {
		re, err := regexp.Compile(a[0].(string))
		if err != nil {
			return nil, err
		}
		return re.ReplaceAllString(fmt.Sprint(a[1]), fmt.Sprint(a[2])), nil
	})
	reg("pattern_match", [][]jmespath.JpType{str, {jmespath.JpString, jmespath.JpNumber}}, func(a []any) (any, error) {
		return Wildcard(a[0].(string), fmt.Sprint(a[1])), nil
	})
	reg("time_now", nil, func([]any) (any, error) { return now.Format(time.RFC3339), nil })
	reg("time_now_utc", nil, func([]any) (any, error) { return now.UTC().Format(time.RFC3339), nil })
	reg("time_since", [][]jmespath.JpType{str, str, str}, func(a []any) (any, error) {
		layout := a[0].(string)
		if layout == "" {
			layout = time.RFC3339
		}
		t1, err := time.Parse(layout, a[1].(string))
		if err != nil {
			return nil, err
		}
		t2 := now
		if s := a[2].(string); s != "" {
			if t2, err = time.Parse(layout, s); err != nil {
				return nil, err
			}
		}
		return t2.Sub(t1).String(), nil
	})
	reg("time_after", [][]jmespath.JpType{str, str}, func(a []any) (any, error) {
		t1, t2, err := twoTimes(a)
		return err == nil && t1.After(t2), err
	})
	reg("time_before", [][]jmespath.JpType{str, str}, func(a []any) (any, error) {
		t1, t2, err := twoTimes(a)
		return err == nil && t1.Before(t2), err
	})
	return fc
}

func twoTimes(a []any) (time.Time, time.Time, error) {
	t1, err1 := time.Parse(time.RFC3339, a[0].(string))
	t2, err2 := time.Parse(time.RFC3339, a[1].(string))
	return t1, t2, errors.Join(err1, err2)
}
