package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gitops-gate/gitops-gate/gate/policy/conditions"
)

// cosignShortTypes are `cosign attest --type` names. A Kyverno policy must
// name the statement's predicateType URI: Kyverno compares it exactly, so
// a short name never matches anything at admission.
var cosignShortTypes = map[string]string{
	"slsaprovenance":   "https://slsa.dev/provenance/v0.2",
	"slsaprovenance02": "https://slsa.dev/provenance/v0.2",
	"slsaprovenance1":  "https://slsa.dev/provenance/v1",
	"spdx":             "https://spdx.dev/Document",
	"spdxjson":         "https://spdx.dev/Document",
	"cyclonedx":        "https://cyclonedx.org/bom",
	"vuln":             "https://cosign.sigstore.dev/attestation/vuln/v1",
	"openvex":          "https://openvex.dev/ns",
	"custom":           "https://cosign.sigstore.dev/attestation/v1",
}

func buildAttestation(v *Verification, i int, ra rawAttestation) (*Attestation, error) {
	path := fmt.Sprintf("attestations[%d]", i)
	a := &Attestation{Verification: v, Index: i, Name: ra.Name, Type: ra.Type}
	if a.Type == "" {
		a.Type = ra.PredicateType
	}
	if a.Type == "" {
		return nil, &LoadError{Field: path + ".type", Err: errors.New("missing: an attestation needs the predicate type it requires (Kyverno fails the rule with \"missing type\")")}
	}
	if uri, ok := cosignShortTypes[a.Type]; ok {
		return nil, &LoadError{Field: path + ".type", Err: fmt.Errorf("%q is cosign's short name; Kyverno compares the statement's predicateType URI exactly and would find nothing: write %s", a.Type, uri)}
	}
	if !strings.Contains(a.Type, "://") {
		return nil, &LoadError{Field: path + ".type", Err: fmt.Errorf("%q: want a predicate type URI such as https://slsa.dev/provenance/v1", a.Type)}
	}
	if len(ra.Attestors) == 0 {
		// Kyverno then checks the statements with an empty attestor: any
		// signer at all. A gate that must not pass unsigned content will not
		// accept "signed by anyone".
		return nil, &LoadError{Field: path + ".attestors", Err: errors.New("no attestors: Kyverno would accept an attestation signed by anyone; name who must have signed it")}
	}
	for j, rs := range ra.Attestors {
		set, err := buildAttestorSet(j, rs)
		if err != nil {
			var le *LoadError
			if errors.As(err, &le) {
				le.Field = joinPath(path, le.Field)
			}
			return nil, err
		}
		a.Attestors = append(a.Attestors, set)
	}
	for j, rc := range ra.Conditions {
		var aa conditions.AnyAll
		for _, list := range []struct {
			name string
			in   []rawCondition
			out  *[]conditions.Condition
		}{{"any", rc.Any, &aa.Any}, {"all", rc.All, &aa.All}} {
			for k, c := range list.in {
				cp := fmt.Sprintf("%s.conditions[%d].%s[%d]", path, j, list.name, k)
				cond, err := buildCondition(c)
				if err != nil {
					return nil, &LoadError{Field: cp, Line: c.Key.Line, Err: err}
				}
				*list.out = append(*list.out, cond)
			}
		}
		a.Conditions = append(a.Conditions, aa)
	}
	return a, nil
}

func buildCondition(c rawCondition) (conditions.Condition, error) {
	out := conditions.Condition{Operator: c.Operator, Message: c.Message}
	if c.Key.Kind == 0 {
		return out, errors.New("key is required")
	}
	if err := c.Key.Decode(&out.Key); err != nil {
		return out, fmt.Errorf("key: %w", err)
	}
	if c.Value.Kind != 0 {
		if err := c.Value.Decode(&out.Value); err != nil {
			return out, fmt.Errorf("value: %w", err)
		}
	}
	out.Key, out.Value = plain(out.Key), plain(out.Value)
	return out, out.Validate()
}

// plain turns YAML's decoded maps into the map[string]any JMESPath and
// the operators work on.
func plain(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = plain(e)
		}
		return t
	case map[any]any:
		m := map[string]any{}
		for k, e := range t {
			m[fmt.Sprint(k)] = plain(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = plain(e)
		}
		return t
	}
	return v
}
