package policy

import (
	"slices"
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
// namespace when the sync sends it: as a CREATE for an object the cluster
// does not have yet, as an UPDATE for one it has. The gate cannot know
// which, so the rule applies when it applies on either (kyverno/kyverno
// pkg/engine/utils/match.go doesResourceMatchConditionBlock: a filter with
// operations matches only those operations, in match and in exclude alike,
// so an exclude limited to UPDATE does not exclude a CREATE).
func (r *Rule) Applies(kind, namespace string) bool {
	return r.AppliesOn(kind, namespace, OpCreate) || r.AppliesOn(kind, namespace, OpUpdate)
}

// AppliesToPods reports whether the rule applies to the Pods created in
// namespace. Kyverno enforces a Pod rule at the admission of every Pod,
// whoever creates it, and a controller always creates its Pods (CREATE):
// so a Pod rule judges the pod template of every resource that runs one,
// whether or not auto-generation made a rule for that resource's kind.
func (r *Rule) AppliesToPods(namespace string) bool {
	return r.AppliesOn("Pod", namespace, OpCreate)
}

// AppliesOn reports whether the rule applies to an object of kind in
// namespace on the admission operation op. An unknown namespace (a manifest
// that leaves it to the sync) is taken to match every namespace filter of
// match and none of exclude: the stricter reading.
func (r *Rule) AppliesOn(kind, namespace string, op Operation) bool {
	if r.Policy.Kind == "Policy" && namespace != "" && namespace != r.Policy.Namespace {
		return false
	}
	matched := false
	for _, f := range r.match {
		if f.matches(kind, namespace, op, true) {
			matched = true
			break
		}
	}
	if !matched {
		return false
	}
	for _, f := range r.exclude {
		if f.matches(kind, namespace, op, false) {
			return false
		}
	}
	return true
}

func (f resourceFilter) matches(kind, namespace string, op Operation, unknownMatches bool) bool {
	if len(f.Operations) > 0 && !slices.Contains(f.Operations, op) {
		return false
	}
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

// Match tells whether the verification covers an image. Kyverno matches
// imageReferences against one spelling of the image (info.String()); the
// gate matches them against every spelling of the image the runtime pulls
// (info.Forms()), so that writing docker.io/library/nginx instead of nginx,
// or adding a tag to a digest, never takes an image out of a rule. For the
// same reason an image is skipped only when every spelling matches
// skipImageReferences. KyvernoMatches says whether Kyverno itself applies
// the rule.
func (v *Verification) Match(info imageref.Info) (matched, skipped bool) {
	forms := info.Forms()
	if !imageref.MatchAnyForm(v.ImageReferences, forms) {
		return false, false
	}
	return true, imageref.MatchEveryForm(v.SkipImageReferences, forms)
}

// KyvernoMatches reports whether Kyverno applies the verification to the
// image: its imageReferences match, and its skipImageReferences do not
// match, Kyverno's one spelling (kyverno/kyverno pkg/engine/utils/image.go
// ImageMatches, over ImageInfo.String()).
func (v *Verification) KyvernoMatches(info imageref.Info) bool {
	s := info.String()
	return imageref.MatchAny(v.ImageReferences, s) && !imageref.MatchAny(v.SkipImageReferences, s)
}
