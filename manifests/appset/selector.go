package appset

import (
	"errors"
	"fmt"
)

// selector is a Kubernetes label selector, without Kubernetes' restrictions
// on label values (Argo CD lifts them so that selectors can match URLs).
// A nil selector matches everything.
type selector struct {
	labels map[string]string
	exprs  []expr
}

type expr struct {
	key, op string
	values  []string
}

func parseSelector(v any) (*selector, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("want an object")
	}
	if err := checkFields(m, "matchLabels", "matchExpressions"); err != nil {
		return nil, err
	}
	s := &selector{}
	var err error
	if s.labels, err = stringMap(m["matchLabels"]); err != nil {
		return nil, fmt.Errorf("matchLabels: %w", err)
	}
	if m["matchExpressions"] != nil {
		l, ok := m["matchExpressions"].([]any)
		if !ok {
			return nil, errors.New("matchExpressions: want a list")
		}
		for i, el := range l {
			em, ok := el.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("matchExpressions[%d]: want an object", i)
			}
			if err := checkFields(em, "key", "operator", "values"); err != nil {
				return nil, fmt.Errorf("matchExpressions[%d]: %w", i, err)
			}
			var x expr
			x.key, _ = em["key"].(string)
			x.op, _ = em["operator"].(string)
			if x.values, err = stringList(em["values"]); err != nil {
				return nil, fmt.Errorf("matchExpressions[%d].values: %w", i, err)
			}
			switch x.op {
			case "In", "NotIn":
				if len(x.values) == 0 {
					return nil, fmt.Errorf("matchExpressions[%d]: operator %s needs values", i, x.op)
				}
			case "Exists", "DoesNotExist":
				if len(x.values) > 0 {
					return nil, fmt.Errorf("matchExpressions[%d]: operator %s takes no values", i, x.op)
				}
			default:
				return nil, fmt.Errorf("matchExpressions[%d]: unknown operator %q", i, x.op)
			}
			s.exprs = append(s.exprs, x)
		}
	}
	return s, nil
}

func (s *selector) empty() bool { return s == nil || (len(s.labels) == 0 && len(s.exprs) == 0) }

func (s *selector) matches(labels map[string]string) bool {
	if s.empty() {
		return true
	}
	for k, v := range s.labels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, x := range s.exprs {
		got, ok := labels[x.key]
		switch x.op {
		case "In":
			if !ok || !contains(x.values, got) {
				return false
			}
		case "NotIn":
			if ok && contains(x.values, got) {
				return false
			}
		case "Exists":
			if !ok {
				return false
			}
		case "DoesNotExist":
			if ok {
				return false
			}
		}
	}
	return true
}
