package ivpol

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/policy/celexpr"
)

// nameLabel is the label the API server sets on every namespace.
const nameLabel = "kubernetes.io/metadata.name"

// resourceRule is one admissionregistration NamedRuleWithOperations.
type resourceRule struct {
	groups, versions, resources, operations, names []string
	scope                                          string
}

// constraints are an IVPOL's matchConstraints and matchConditions.
type constraints struct {
	pol             *policy.Policy
	match, exclude  []resourceRule
	nsSel, objSel   labels.Selector // nil: everything
	nsSelOnlyName   bool            // the namespace selector reads only nameLabel
	conditions      []namedProgram
	autogen         []string // controller kinds the policy is generated for
	namespaceLabels map[string]map[string]string
}

type namedProgram struct {
	name, field string
	prog        *celexpr.Program
}

// clusterScoped are the built-in kinds without a namespace.
var clusterScoped = []string{"Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding",
	"CustomResourceDefinition", "StorageClass", "PriorityClass", "ValidatingWebhookConfiguration",
	"MutatingWebhookConfiguration", "APIService", "RuntimeClass", "IngressClass", "CSIDriver"}

// Applies implements policy.Constraints.
func (c *constraints) Applies(ctx context.Context, res policy.Resource) (direct, viaPods bool, err error) {
	if c.pol.Kind == KindNamespaced && res.Namespace != "" && res.Namespace != c.pol.Namespace {
		return false, false, nil
	}
	direct = c.rules(res.APIVersion, res.Kind, res.Namespace, res.Name) ||
		slices.Contains(c.autogen, res.Kind)
	// Kyverno admits every Pod through a Pod policy, whoever creates it:
	// a pod-creating resource's Pods are judged by it, also when the policy
	// matches the resource's own kind (then both are judged).
	viaPods = res.Kind != "Pod" && c.rules("v1", "Pod", res.Namespace, "")
	if !direct && !viaPods {
		return false, false, nil
	}
	if ok, err := c.namespaceMatches(res); err != nil || !ok {
		return false, false, err
	}
	obj := c.objectFor(res)
	if c.objSel != nil && !c.objSel.Empty() {
		if obj == nil {
			return false, false, fmt.Errorf("spec.matchConstraints.objectSelector needs the object's labels, which the gate does not have here")
		}
		if !c.objSel.Matches(labels.Set(objectLabels(obj))) {
			return false, false, nil
		}
	}
	vars := c.vars(res, obj)
	for _, mc := range c.conditions {
		ok, err := mc.prog.EvalBool(ctx, vars, nil)
		if err != nil {
			return false, false, fmt.Errorf("%s (%s): %w", mc.field, mc.name, err)
		}
		if !ok {
			return false, false, nil
		}
	}
	return direct, viaPods, nil
}

// vars are the variables of matchConditions and exceptions.
func (c *constraints) vars(res policy.Resource, obj map[string]any) map[string]any {
	return map[string]any{"object": obj, "oldObject": nil, "namespaceObject": c.namespaceObject(res),
		"request": map[string]any{"operation": "CREATE", "namespace": res.Namespace, "name": res.Name,
			"kind": map[string]any{"kind": res.Kind}}}
}

// rules applies resourceRules and excludeResourceRules on CREATE or
// UPDATE: the gate does not know which the sync sends.
func (c *constraints) rules(apiVersion, kind, namespace, name string) bool {
	for _, op := range []string{"CREATE", "UPDATE"} {
		matched := false
		for _, r := range c.match {
			if r.matches(apiVersion, kind, namespace, name, op, true) {
				matched = true
				break
			}
		}
		if !matched {
			continue
		}
		excluded := false
		for _, r := range c.exclude {
			if r.matches(apiVersion, kind, namespace, name, op, false) {
				excluded = true
				break
			}
		}
		if !excluded {
			return true
		}
	}
	return false
}

// matches is the API server's rule test. An unknown apiVersion or
// namespace is taken as matching when unknownMatches (match rules) and not
// otherwise (exclude rules): the stricter reading.
func (r resourceRule) matches(apiVersion, kind, namespace, name, op string, unknownMatches bool) bool {
	if !anyOf(r.operations, op) {
		return false
	}
	group, version := "", apiVersion
	if i := strings.LastIndexByte(apiVersion, '/'); i >= 0 {
		group, version = apiVersion[:i], apiVersion[i+1:]
	}
	if apiVersion == "" {
		if !unknownMatches && !(anyOf(r.groups, "*") && anyOf(r.versions, "*")) {
			return false
		}
	} else if !anyOf(r.groups, group) || !anyOf(r.versions, version) {
		return false
	}
	plural, _ := meta.UnsafeGuessKindToResource(schema.GroupVersionKind{Group: group, Version: version, Kind: kind})
	if !slices.Contains(r.resources, "*") && !slices.Contains(r.resources, "*/*") && !slices.Contains(r.resources, plural.Resource) {
		return false
	}
	if len(r.names) > 0 && !slices.Contains(r.names, name) {
		return false
	}
	switch r.scope {
	case "Namespaced":
		if namespace == "" {
			return unknownMatches && !slices.Contains(clusterScoped, kind)
		}
	case "Cluster":
		if namespace != "" {
			return false
		}
	}
	return true
}

func anyOf(list []string, s string) bool {
	return slices.Contains(list, "*") || slices.Contains(list, s)
}

// namespaceMatches applies namespaceSelector as the API server does:
// cluster-scoped objects always match, a Namespace by its own labels,
// anything else by its namespace's labels, which come from the gate's
// configuration (cluster.namespaceLabels). Labels the gate does not have
// are an error: it cannot tell, so it fails closed.
func (c *constraints) namespaceMatches(res policy.Resource) (bool, error) {
	if c.nsSel == nil || c.nsSel.Empty() {
		return true, nil
	}
	ns := res.Namespace
	if res.Kind == "Namespace" {
		ns = res.Name
	} else if ns == "" {
		if slices.Contains(clusterScoped, res.Kind) {
			return true, nil
		}
		return false, fmt.Errorf("spec.matchConstraints.namespaceSelector: the namespace of %s/%s is not known (the manifest leaves it to the sync)", res.Kind, res.Name)
	}
	set, ok := c.nsLabels(ns)
	if !ok {
		return false, fmt.Errorf("spec.matchConstraints.namespaceSelector needs the labels of namespace %q, which the gate's configuration does not list (cluster.namespaceLabels)", ns)
	}
	return c.nsSel.Matches(labels.Set(set)), nil
}

func (c *constraints) nsLabels(ns string) (map[string]string, bool) {
	l, ok := c.namespaceLabels[ns]
	if !ok && !c.nsSelOnlyName {
		return nil, false
	}
	out := map[string]string{nameLabel: ns}
	for k, v := range l {
		out[k] = v
	}
	return out, true
}

func (c *constraints) namespaceObject(res policy.Resource) map[string]any {
	if res.Namespace == "" {
		return nil
	}
	md := map[string]any{"name": res.Namespace}
	if l, ok := c.namespaceLabels[res.Namespace]; ok {
		ls := map[string]any{nameLabel: res.Namespace}
		for k, v := range l {
			ls[k] = v
		}
		md["labels"] = ls
	}
	return map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": md}
}

// objectFor is the object the policy's expressions see: the resource, or,
// when the policy judges it as the Pods it creates (autogen or a Pod rule),
// the Pod of its template, as Kyverno's autogen rewrites object.spec to the
// template's.
func (c *constraints) objectFor(res policy.Resource) map[string]any {
	if res.Object == nil || res.Kind == "Pod" || c.rules(res.APIVersion, res.Kind, res.Namespace, res.Name) {
		return res.Object
	}
	return podOf(res)
}

// podOf builds the Pod a controller's template describes.
func podOf(res policy.Resource) map[string]any {
	spec, _ := res.Object["spec"].(map[string]any)
	if res.Kind == "CronJob" {
		jt, _ := spec["jobTemplate"].(map[string]any)
		spec, _ = jt["spec"].(map[string]any)
	}
	tmpl, _ := spec["template"].(map[string]any)
	if tmpl == nil {
		return nil
	}
	md := map[string]any{}
	if m, ok := tmpl["metadata"].(map[string]any); ok {
		for k, v := range m {
			md[k] = v
		}
	}
	if res.Namespace != "" {
		md["namespace"] = res.Namespace
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": tmpl["spec"]}
}

func objectLabels(obj map[string]any) map[string]string {
	md, _ := obj["metadata"].(map[string]any)
	ls, _ := md["labels"].(map[string]any)
	out := map[string]string{}
	for k, v := range ls {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// selector builds a label selector; onlyName says it reads nothing but
// the namespace name label.
func selector(s *rawSelector) (labels.Selector, bool, error) {
	if s == nil {
		return nil, false, nil
	}
	ls := &metav1.LabelSelector{MatchLabels: s.MatchLabels}
	onlyName := true
	for k := range s.MatchLabels {
		onlyName = onlyName && k == nameLabel
	}
	for _, r := range s.MatchExpressions {
		ls.MatchExpressions = append(ls.MatchExpressions, metav1.LabelSelectorRequirement{Key: r.Key, Operator: metav1.LabelSelectorOperator(r.Operator), Values: r.Values})
		onlyName = onlyName && r.Key == nameLabel
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	return sel, onlyName, err
}

// Describe says what the policy applies to, for the policy page.
func (c *constraints) Describe() string {
	var parts []string
	for _, r := range c.match {
		parts = append(parts, strings.Join(r.resources, ", ")+" ("+strings.Join(r.operations, ", ")+")")
	}
	d := strings.Join(parts, "; ")
	for _, r := range c.exclude {
		d += ", except " + strings.Join(r.resources, ", ")
		if len(r.names) > 0 {
			d += " named " + strings.Join(r.names, ", ")
		}
	}
	if len(c.autogen) > 0 {
		d += " (and the Pods of every controller; autogen for " + strings.Join(c.autogen, ", ") + ")"
	}
	if c.nsSel != nil && !c.nsSel.Empty() {
		d += ", in namespaces matching " + c.nsSel.String()
	}
	if c.objSel != nil && !c.objSel.Empty() {
		d += ", objects matching " + c.objSel.String()
	}
	for _, mc := range c.conditions {
		d += ", when " + mc.name + " holds"
	}
	return d
}
