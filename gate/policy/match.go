package policy

import (
	"strings"

	"github.com/gitops-gate/gitops-gate/gate/imageref"
)

// AutogenAnnotation narrows (or, with "none", disables) auto-generation.
const AutogenAnnotation = "pod-policies.kyverno.io/autogen-controllers"

// DefaultControllers are the kinds a Pod rule is auto-generated for.
var DefaultControllers = []string{"DaemonSet", "Deployment", "Job", "StatefulSet", "ReplicaSet", "ReplicationController", "CronJob"}

// applyAutogen extends the Pod filters of a policy's rules to the pod
// controllers, as Kyverno's autogen does: only when every filter of every
// rule names either only Pod or no Pod (mixed kinds disable it for the whole
// policy), and as narrowed by the autogen-controllers annotation.
func applyAutogen(p *Policy, annotations map[string]string) {
	controllers := DefaultControllers
	if v, ok := annotations[AutogenAnnotation]; ok {
		if strings.TrimSpace(v) == "none" {
			return
		}
		controllers = nil
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" {
				controllers = append(controllers, c)
			}
		}
	}
	needed := false
	for _, r := range p.Rules {
		for _, f := range append(append([]resourceFilter{}, r.match...), r.exclude...) {
			hasPod := containsKind(f.Kinds, "Pod")
			if hasPod && len(f.Kinds) > 1 {
				return // mixed kinds: Kyverno generates nothing for this policy
			}
			needed = needed || hasPod
		}
	}
	if !needed {
		return
	}
	p.Controllers = controllers
	for _, r := range p.Rules {
		for _, fs := range []*[]resourceFilter{&r.match, &r.exclude} {
			for i, f := range *fs {
				if containsKind(f.Kinds, "Pod") {
					(*fs)[i].Kinds = append(append([]string{}, f.Kinds...), controllers...)
				}
			}
		}
	}
}

func containsKind(kinds []string, kind string) bool {
	for _, k := range kinds {
		if kindName(k) == kind {
			return true
		}
	}
	return false
}

// kindName strips the group/version of "apps/v1/Deployment" or "v1/Pod".
func kindName(k string) string {
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		return k[i+1:]
	}
	return k
}

// Applies reports whether the rule applies to an object of kind in
// namespace. An unknown namespace (a manifest that leaves it to the sync)
// is taken to match every namespace filter of match and none of exclude:
// the stricter reading.
func (r *Rule) Applies(kind, namespace string) bool {
	if r.Policy.Kind == "Policy" && namespace != "" && namespace != r.Policy.Namespace {
		return false
	}
	matched := false
	for _, f := range r.match {
		if f.matches(kind, namespace, true) {
			matched = true
			break
		}
	}
	if !matched {
		return false
	}
	for _, f := range r.exclude {
		if f.matches(kind, namespace, false) {
			return false
		}
	}
	return true
}

func (f resourceFilter) matches(kind, namespace string, unknownMatches bool) bool {
	kindOK := len(f.Kinds) == 0
	for _, k := range f.Kinds {
		if imageref.Match(kindName(k), kind) {
			kindOK = true
			break
		}
	}
	if !kindOK {
		return false
	}
	if len(f.Namespaces) == 0 {
		return true
	}
	if namespace == "" {
		return unknownMatches
	}
	return imageref.MatchAny(f.Namespaces, namespace)
}

// Match tells whether the verification covers an image: matched when a
// pattern of imageReferences matches the normalised reference, skipped when
// one of skipImageReferences does too.
func (v *Verification) Match(normalized string) (matched, skipped bool) {
	if !imageref.MatchAny(v.ImageReferences, normalized) {
		return false, false
	}
	return true, imageref.MatchAny(v.SkipImageReferences, normalized)
}
