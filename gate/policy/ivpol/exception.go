package ivpol

import (
	"context"
	"fmt"
	"time"

	"github.com/gobwas/glob"
	yaml "go.yaml.in/yaml/v3"

	"github.com/gitops-gate/gitops-gate/gate/policy"
)

// exception is a policies.kyverno.io PolicyException for IVPOLs.
type exception struct {
	policy.Exception
	namespace  string
	refs       []rawPolicyRef
	conditions []namedProgram
	images     []glob.Glob
}

func (e *exception) id() string {
	return fmt.Sprintf("PolicyException %s/%s (%s)", e.namespace, e.Name, e.File)
}

// applies reports whether the exception exempts the image. Kyverno
// exempts the whole resource when every matchCondition holds; when the
// exception lists images, the gate exempts only those images (the
// narrower reading: Kyverno's IVPOL does not read images at all).
func (e *exception) applies(ctx context.Context, image string, vars map[string]any) (bool, error) {
	if len(e.images) > 0 {
		hit := false
		for _, g := range e.images {
			hit = hit || g.Match(image)
		}
		if !hit {
			return false, nil
		}
	}
	for _, mc := range e.conditions {
		ok, err := mc.prog.EvalBool(ctx, vars, nil)
		if err != nil {
			return false, fmt.Errorf("%s: %s (%s): %w", e.id(), mc.field, mc.name, err)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

func (fe frontEnd) parseException(file string, root *yaml.Node) (*exception, error) {
	b := &builder{file: file, root: root}
	var raw rawException
	if err := b.decode(root, &raw); err != nil {
		return nil, err
	}
	switch raw.APIVersion {
	case "policies.kyverno.io/v1alpha1", "policies.kyverno.io/v1beta1", "policies.kyverno.io/v1":
	default:
		return nil, b.errAt("apiVersion", fmt.Errorf("%q: a PolicyException is read from policies.kyverno.io/v1alpha1, v1beta1 or v1", raw.APIVersion))
	}
	if raw.Metadata.Name == "" {
		return nil, b.errAt("metadata.name", fmt.Errorf("missing: an exception needs a name"))
	}
	e := &exception{Exception: policy.Exception{Kind: "PolicyException", Name: raw.Metadata.Name, File: file}, namespace: raw.Metadata.Namespace, refs: raw.Spec.PolicyRefs}
	if e.namespace == "" {
		e.namespace = "default"
	}
	if len(raw.Spec.PolicyRefs) == 0 {
		return nil, b.errAt("spec.policyRefs", fmt.Errorf("missing: an exception names the policies it exempts from"))
	}
	for i, r := range raw.Spec.PolicyRefs {
		if r.Name == "" || r.Kind == "" {
			return nil, b.errAt(fmt.Sprintf("spec.policyRefs[%d]", i), fmt.Errorf("name and kind are required"))
		}
		e.Policies = append(e.Policies, r.Kind+"/"+r.Name)
	}
	if raw.Spec.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, raw.Spec.ExpiresAt)
		if err != nil {
			return nil, b.errAt("spec.expiresAt", fmt.Errorf("%q: want an RFC 3339 time such as 2026-12-31T00:00:00Z", raw.Spec.ExpiresAt))
		}
		e.ExpiresAt = t
	}
	for i, im := range raw.Spec.Images {
		g, err := glob.Compile(im)
		if err != nil {
			return nil, b.errAt(fmt.Sprintf("spec.images[%d]", i), err)
		}
		e.images = append(e.images, g)
	}
	var err error
	if e.conditions, err = b.namedBools("spec.matchConditions", raw.Spec.MatchConditions); err != nil {
		return nil, err
	}
	return e, nil
}

// refers reports whether the exception names the policy.
func (e *exception) refers(p *policy.Policy) bool {
	for _, r := range e.refs {
		if r.Name == p.Name && r.Kind == p.Kind {
			return true
		}
	}
	return false
}
