package policy

import (
	"context"
	"regexp"
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
		if parseKindSelector(k).kind == kind {
			return true
		}
	}
	return false
}

// kindSelector is one entry of a filter's kinds, read as Kyverno reads it
// (kyverno/kyverno pkg/utils/kube/kind.go ParseKindSelector): group,
// version, kind and subresource, each a wildcard pattern. "Deployment" is
// */*/Deployment; "v1/Pod" is version v1; "apps/v1/Deployment" is group
// apps; "batch/v1/*" every kind of group batch; "Job/*" and "Pod.status"
// are a kind with a subresource ("Job/*" is Job and its subresources, not
// every kind); "*/*" is everything. An unparseable selector matches
// nothing, as in Kyverno.
type kindSelector struct{ group, version, kind, sub string }

// versionSelector is Kyverno's test for "this part is a version".
var versionSelector = regexp.MustCompile(`^(v\d+((alpha|beta)\d+)?|\*)$`)

func parseKindSelector(s string) kindSelector {
	parts := strings.Split(s, "/")
	// The last part may carry a subresource after a '.': Pod.status.
	parts = append(parts[:len(parts)-1], strings.Split(parts[len(parts)-1], ".")...)
	switch len(parts) {
	case 1:
		return kindSelector{"*", "*", parts[0], ""}
	case 2:
		switch {
		case parts[0] == "*" && parts[1] == "*":
			return kindSelector{"*", "*", "*", "*"}
		case parts[0] == "*" && strings.ToLower(parts[1]) == parts[1]:
			return kindSelector{"*", "*", "*", parts[1]}
		case versionSelector.MatchString(parts[0]):
			return kindSelector{"*", parts[0], parts[1], ""}
		}
		return kindSelector{"*", "*", parts[0], parts[1]}
	case 3:
		if versionSelector.MatchString(parts[0]) {
			return kindSelector{"*", parts[0], parts[1], parts[2]}
		}
		return kindSelector{parts[0], parts[1], parts[2], ""}
	case 4:
		return kindSelector{parts[0], parts[1], parts[2], parts[3]}
	}
	return kindSelector{}
}

// matches reports whether the selector selects an object (never a
// subresource: the gate judges objects) of apiVersion and kind. An unknown
// apiVersion ("") matches a group or version pattern only when
// unknownMatches: the stricter reading, as for namespaces.
func (k kindSelector) matches(apiVersion, kind string, unknownMatches bool) bool {
	if k.kind == "" || !imageref.Match(k.kind, kind) || !imageref.Match(k.sub, "") {
		return false
	}
	if apiVersion == "" {
		return k.group == "*" && k.version == "*" || unknownMatches
	}
	group, version := "", apiVersion
	if i := strings.LastIndexByte(apiVersion, '/'); i >= 0 {
		group, version = apiVersion[:i], apiVersion[i+1:]
	}
	return imageref.Match(k.group, group) && imageref.Match(k.version, version)
}

// Applies reports whether the rule applies to an object of apiVersion and
// kind in namespace when the sync sends it: as a CREATE for an object the
// cluster does not have yet, as an UPDATE for one it has. The gate cannot
// know which, so the rule applies when it applies on either (kyverno/kyverno
// pkg/engine/utils/match.go doesResourceMatchConditionBlock: a filter with
// operations matches only those operations, in match and in exclude alike,
// so an exclude limited to UPDATE does not exclude a CREATE).
func (r *Rule) Applies(apiVersion, kind, namespace string) bool {
	return r.AppliesOn(apiVersion, kind, namespace, OpCreate) || r.AppliesOn(apiVersion, kind, namespace, OpUpdate)
}

// AppliesToPods reports whether the rule applies to the Pods created in
// namespace. Kyverno enforces a Pod rule at the admission of every Pod,
// whoever creates it, and a controller always creates its Pods (CREATE):
// so a Pod rule judges the pod template of every resource that runs one,
// whether or not auto-generation made a rule for that resource's kind.
func (r *Rule) AppliesToPods(namespace string) bool {
	return r.AppliesOn("v1", "Pod", namespace, OpCreate)
}

// AppliesOn reports whether the rule applies to an object of apiVersion
// and kind in namespace on the admission operation op. An unknown
// namespace (a manifest that leaves it to the sync) or apiVersion is taken
// to match every filter of match and none of exclude: the stricter reading.
func (r *Rule) AppliesOn(apiVersion, kind, namespace string, op Operation) bool {
	if r.Policy.Kind == "Policy" && namespace != "" && namespace != r.Policy.Namespace {
		return false
	}
	matched := false
	for _, f := range r.match {
		if f.matches(apiVersion, kind, namespace, op, true) {
			matched = true
			break
		}
	}
	if !matched {
		return false
	}
	for _, f := range r.exclude {
		if f.matches(apiVersion, kind, namespace, op, false) {
			return false
		}
	}
	return true
}

func (f resourceFilter) matches(apiVersion, kind, namespace string, op Operation, unknownMatches bool) bool {
	if len(f.Operations) > 0 && !slices.Contains(f.Operations, op) {
		return false
	}
	kindOK := len(f.Kinds) == 0
	for _, k := range f.Kinds {
		if parseKindSelector(k).matches(apiVersion, kind, unknownMatches) {
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

// AppliesTo reports whether the rule judges an image of res: directly, or
// as a Pod rule through the Pods res creates. A rule with Constraints
// decides by them, and may report both (an ImageValidatingPolicy matching
// the resource's kind and Pods judges both); an error means it cannot tell
// (fail closed).
func (r *Rule) AppliesTo(ctx context.Context, res Resource) (direct, viaPods bool, err error) {
	if r.Constraints != nil {
		return r.Constraints.Applies(ctx, res)
	}
	direct = r.Applies(res.APIVersion, res.Kind, res.Namespace)
	viaPods = !direct && res.Kind != "Pod" && r.AppliesToPods(res.Namespace)
	return direct, viaPods, nil
}

// MatchImage is Match for an occurrence written as raw: a verification
// with a Program matches the raw string with its own rules (an IVPOL's
// matchImageReferences); kyverno says whether Kyverno applies it too.
func (v *Verification) MatchImage(raw string, info imageref.Info) (matched, skipped, kyverno bool, err error) {
	if v.Program != nil {
		m, err := v.Program.MatchImage(raw)
		return m, false, true, err
	}
	matched, skipped = v.Match(info)
	return matched, skipped, v.KyvernoMatches(info), nil
}
