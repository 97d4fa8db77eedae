package convert

import (
	"fmt"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/gitops-gate/gitops-gate/gate/imageref"
	"github.com/gitops-gate/gitops-gate/gate/policy"
)

// imageGlobs turns Kyverno imageReferences into IVPOL matchImageReferences
// globs. Kyverno matches imageReferences against its normalised spelling of
// the image (docker.io/ added to a Docker Hub short name, :latest added to
// an untagged image, the tag dropped beside a digest); IVPOL matches the
// raw string as written in the manifest (gobwas/glob). So each pattern is
// kept, and the raw spellings that normalise to what it matched are added:
// docker.io/nginx* also as nginx*, app:latest also as app, repo@sha256:…
// also as repo:*@sha256:…. The added globs can only widen what the policy
// covers, never narrow it.
func imageGlobs(patterns []string) []string {
	var out []string
	add := func(s string) {
		s = escapeGlob(s)
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, p := range patterns {
		for _, v := range rawSpellings(p) {
			add(v)
		}
	}
	return out
}

func rawSpellings(p string) []string {
	forms := []string{p}
	if rest, ok := strings.CutPrefix(p, "docker.io/"); ok && rest != "" {
		forms = append(forms, rest)
	}
	var out []string
	for _, f := range forms {
		out = append(out, f)
		name, digest, hasDigest := strings.Cut(f, "@")
		if hasDigest {
			// Kyverno drops the tag beside a digest; the manifest may
			// still carry one.
			if !tagged(name) {
				out = append(out, name+":*@"+digest)
			}
			continue
		}
		if i := strings.LastIndexByte(name, '/'); tagged(name) {
			tag := name[strings.LastIndexByte(name, ':')+1:]
			if i < strings.LastIndexByte(name, ':') && imageref.Match(tag, "latest") {
				// An untagged image is :latest to Kyverno.
				out = append(out, name[:strings.LastIndexByte(name, ':')])
			}
		}
	}
	return out
}

// tagged reports whether an image name (no digest) has a tag: a ':' after
// the last '/'.
func tagged(name string) bool {
	return strings.LastIndexByte(name, ':') > strings.LastIndexByte(name, '/')
}

// escapeGlob escapes what gobwas/glob treats as syntax and Kyverno's
// wildcards do not: character classes and alternatives ([::1]:5000/…).
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '[', ']', '{', '}', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// resource is a Kubernetes kind as IVPOL resourceRules name it.
type resource struct{ group, version, plural string }

// knownKinds are the kinds Kyverno's IVPOL extracts images from on its own
// (pkg/cel/compiler/images.go), plus ReplicationController, which Kyverno's
// ClusterPolicy auto-generation covers.
var knownKinds = map[string]resource{
	"Pod":                   {"", "v1", "pods"},
	"Deployment":            {"apps", "v1", "deployments"},
	"StatefulSet":           {"apps", "v1", "statefulsets"},
	"DaemonSet":             {"apps", "v1", "daemonsets"},
	"ReplicaSet":            {"apps", "v1", "replicasets"},
	"Job":                   {"batch", "v1", "jobs"},
	"CronJob":               {"batch", "v1", "cronjobs"},
	"ReplicationController": {"", "v1", "replicationcontrollers"},
}

// ivpolControllers are the controllers IVPOL auto-generation knows
// (pkg/cel/autogen).
var ivpolControllers = map[string]string{
	"DaemonSet": "daemonsets", "Deployment": "deployments", "ReplicaSet": "replicasets",
	"StatefulSet": "statefulsets", "Job": "jobs", "CronJob": "cronjobs",
}

// kindName is the kind part of a Kyverno kind selector (apps/v1/Deployment
// → Deployment; Pod.status and Job/* keep their subresource out).
func kindName(sel string) (kind string, plain bool) {
	parts := strings.Split(sel, "/")
	k := parts[len(parts)-1]
	if len(parts) >= 2 && (k == "*" || strings.ToLower(k) == k) && parts[len(parts)-2] != "" {
		// Job/* or Pod/status: a kind with a subresource.
		return parts[len(parts)-2], false
	}
	if i := strings.IndexByte(k, '.'); i >= 0 {
		return k[:i], false
	}
	return k, len(parts) == 1
}

// matchConstraints writes a rule's match and exclude as IVPOL
// matchConstraints, matchConditions and autogen. It returns the nodes to
// set on spec, in order.
type matchOut struct {
	constraints *yaml.Node
	conditions  *yaml.Node
	autogen     *yaml.Node
	comments    []string // on matchConstraints
}

func (c *converter) match(p *policy.Policy, rs policy.RuleSummary) matchOut {
	var out matchOut
	allOps := []string{"CREATE", "UPDATE"}
	ops := func(f policy.FilterSummary) []string {
		if len(f.Operations) == 0 {
			return allOps
		}
		var o []string
		for _, op := range f.Operations {
			o = append(o, string(op))
		}
		return o
	}

	// IVPOL auto-generates for pod controllers only for one rule on pods
	// with no exclusion (pkg/cel/autogen/support.go); the ClusterPolicy's
	// own auto-generation is then written the same way. Otherwise every
	// kind, the auto-generated ones included, is listed.
	autogen := len(p.Controllers) > 0 && len(rs.Match) == 1 && len(rs.Exclude) == 0 &&
		len(rs.Match[0].Kinds) == 1+len(p.Controllers) && rs.Match[0].Kinds[0] == "Pod"

	type key struct{ group, version string }
	var rules []*yaml.Node
	addRule := func(kinds []string, operations []string) {
		byAPI := map[key][]string{}
		var order []key
		for _, k := range kinds {
			name, plain := kindName(k)
			r, known := knownKinds[name]
			if !known {
				c.note(fmt.Sprintf("kind %q is not converted: IVPOL resourceRules name resources (group, version, plural) and IVPOL extracts images only from Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs on its own; add a resourceRule and an images[] extractor for it by hand", k))
				continue
			}
			if !plain {
				c.note(fmt.Sprintf("kind selector %q is written as its kind %s", k, name))
			}
			if name == "ReplicationController" {
				c.note("IVPOL extracts no images from a ReplicationController itself; the Pods it creates are verified when they are admitted")
			}
			kk := key{r.group, r.version}
			if _, seen := byAPI[kk]; !seen {
				order = append(order, kk)
			}
			if !slices.Contains(byAPI[kk], r.plural) {
				byAPI[kk] = append(byAPI[kk], r.plural)
			}
		}
		for _, kk := range order {
			rr := mapping()
			set(rr, "apiGroups", flowSeq(kk.group))
			set(rr, "apiVersions", flowSeq(kk.version))
			set(rr, "operations", flowSeq(operations...))
			set(rr, "resources", flowSeq(byAPI[kk]...))
			rules = append(rules, rr)
		}
	}
	if autogen {
		addRule([]string{"Pod"}, ops(rs.Match[0]))
		ag := mapping()
		pc := set(ag, "podControllers", mapping())
		var ctrls []string
		for _, k := range p.Controllers {
			if r, ok := ivpolControllers[k]; ok {
				ctrls = append(ctrls, r)
			} else if k == "ReplicationController" {
				c.note("ReplicationController: IVPOL does not auto-generate for it; the Pods it creates are still verified when they are admitted")
			} else {
				c.note(fmt.Sprintf("auto-generation for %s is not converted: IVPOL generates only for daemonsets, deployments, replicasets, statefulsets, jobs and cronjobs", k))
			}
		}
		set(pc, "controllers", flowSeq(ctrls...))
		out.autogen = ag
	} else {
		for _, f := range rs.Match {
			addRule(f.Kinds, ops(f))
		}
	}
	mc := mapping()
	set(mc, "resourceRules", seq(rules...))
	out.constraints = mc

	// Namespaces, and exclusions, have no place in resourceRules: a
	// namespaceSelector on kubernetes.io/metadata.name says exact names,
	// a matchCondition says the rest.
	var nsOnly []string
	sameNS := true
	for i, f := range rs.Match {
		if i > 0 && !slices.Equal(f.Namespaces, rs.Match[0].Namespaces) {
			sameNS = false
		}
	}
	if len(rs.Match) > 0 && sameNS {
		nsOnly = rs.Match[0].Namespaces
	}
	exact := !slices.ContainsFunc(nsOnly, hasWildcard)
	if p.Kind == "Policy" {
		c.note("a Policy applies only in its own namespace: so does the NamespacedImageValidatingPolicy it becomes")
	}
	var conds []*yaml.Node
	switch {
	case sameNS && len(nsOnly) > 0 && exact:
		sel := mapping()
		expr := mapping()
		set(expr, "key", str("kubernetes.io/metadata.name"))
		set(expr, "operator", str("In"))
		set(expr, "values", flowSeq(nsOnly...))
		set(sel, "matchExpressions", seq(expr))
		set(mc, "namespaceSelector", sel)
	case sameNS && len(nsOnly) > 0:
		conds = append(conds, condition("namespaces", nsExpr(nsOnly)))
	case !sameNS:
		var alts []string
		for _, f := range rs.Match {
			alts = append(alts, "("+filterExpr(f, ops(f))+")")
		}
		conds = append(conds, condition("match", strings.Join(alts, " || ")))
		c.note("the rule's match filters name different namespaces: written as one matchCondition over request.kind, request.namespace and request.operation")
	}
	var excl []string
	for _, f := range rs.Exclude {
		excl = append(excl, "("+filterExpr(f, ops(f))+")")
	}
	if len(excl) > 0 {
		conds = append(conds, condition("exclude", "!"+strings.Join(excl, " && !")))
	}
	if len(conds) > 0 {
		out.conditions = seq(conds...)
		if autogen {
			c.note("matchConditions on request.namespace also hold for the pod controllers IVPOL generates rules for")
		}
	}
	return out
}

func condition(name, expr string) *yaml.Node {
	n := mapping()
	set(n, "name", str(name))
	set(n, "expression", str(expr))
	return n
}

// nsExpr is a CEL test of request.namespace against Kyverno namespace
// wildcards.
func nsExpr(namespaces []string) string {
	var exact, alts []string
	for _, ns := range namespaces {
		if hasWildcard(ns) {
			alts = append(alts, fmt.Sprintf("request.namespace.matches(%s)", celString(wildcardRegexp(ns))))
		} else {
			exact = append(exact, celString(ns))
		}
	}
	if len(exact) > 0 {
		alts = append([]string{fmt.Sprintf("request.namespace in [%s]", strings.Join(exact, ", "))}, alts...)
	}
	return strings.Join(alts, " || ")
}

// filterExpr is a Kyverno resource filter as a CEL test of the admission
// request.
func filterExpr(f policy.FilterSummary, ops []string) string {
	var parts []string
	var kinds []string
	anyKind := false
	for _, k := range f.Kinds {
		name, _ := kindName(k)
		if name == "*" {
			anyKind = true
		}
		kinds = append(kinds, celString(name))
	}
	if len(kinds) > 0 && !anyKind {
		parts = append(parts, fmt.Sprintf("request.kind.kind in [%s]", strings.Join(kinds, ", ")))
	}
	if len(f.Namespaces) > 0 {
		ns := nsExpr(f.Namespaces)
		if strings.Contains(ns, "||") {
			ns = "(" + ns + ")"
		}
		parts = append(parts, ns)
	}
	if len(f.Operations) > 0 {
		var q []string
		for _, o := range ops {
			q = append(q, celString(o))
		}
		parts = append(parts, fmt.Sprintf("request.operation in [%s]", strings.Join(q, ", ")))
	}
	switch len(parts) {
	case 0:
		return "true"
	case 1:
		return parts[0]
	}
	return strings.Join(parts, " && ")
}
