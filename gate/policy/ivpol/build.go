package ivpol

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/gobwas/glob"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	yaml "go.yaml.in/yaml/v3"

	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/policy/celexpr"
	"github.com/gitops-gate/gitops-gate/gate/trust"
)

// Kinds read from policies.kyverno.io.
const (
	KindPolicy     = "ImageValidatingPolicy"
	KindNamespaced = "NamespacedImageValidatingPolicy"
	KindException  = "PolicyException"
	group          = "policies.kyverno.io"
)

func init() { policy.Register(frontEnd{}) }

type frontEnd struct{}

func (frontEnd) Reads(apiVersion, kind string) bool {
	return strings.HasPrefix(apiVersion, group+"/") && (kind == KindPolicy || kind == KindNamespaced || kind == KindException)
}

func (fe frontEnd) Parse(file string, root *yaml.Node, o policy.LoadOptions) ([]*policy.Policy, []*policy.Exception, error) {
	if k := policy.MapValue(root, "kind"); k != nil && k.Value == KindException {
		e, err := fe.parseException(file, root)
		if err != nil {
			return nil, nil, err
		}
		e.Impl = e
		return nil, []*policy.Exception{&e.Exception}, nil
	}
	p, err := build(file, root, o)
	if err != nil {
		return nil, nil, err
	}
	return []*policy.Policy{p}, nil, nil
}

// Link attaches each exception to the IVPOLs it names; one naming no
// loaded policy is an error (a typo would leave it without effect,
// silently).
func (fe frontEnd) Link(set *policy.Set, o policy.LoadOptions) error {
	var errs []error
	seen := map[string]*exception{}
	for _, pe := range set.Exceptions {
		e := excOf(pe)
		if e == nil {
			continue
		}
		// The cluster holds one object per namespace and name: two files
		// defining it leave the gate unable to know which applies.
		if prev, dup := seen[e.namespace+"/"+e.Name]; dup {
			errs = append(errs, &policy.LoadError{File: e.File, Field: "metadata.name", Err: fmt.Errorf("PolicyException %s/%s is also defined in %s: the cluster holds only one of them", e.namespace, e.Name, prev.File)})
			continue
		}
		seen[e.namespace+"/"+e.Name] = e
		used := false
		for _, p := range set.Policies {
			if !e.refers(p) {
				continue
			}
			for _, r := range p.Rules {
				for _, vf := range r.Verify {
					if prog, ok := vf.Program.(*program); ok {
						prog.exceptions = append(prog.exceptions, e)
						used = true
					}
				}
			}
		}
		if !used {
			errs = append(errs, &policy.LoadError{File: e.File, Field: "spec.policyRefs", Err: fmt.Errorf("PolicyException %s names no loaded ImageValidatingPolicy (%s)", e.Name, strings.Join(e.Policies, ", "))})
		}
	}
	return errors.Join(errs...)
}

func excOf(pe *policy.Exception) *exception {
	e, _ := pe.Impl.(*exception)
	return e
}

// builder carries the file and document being read, for errors.
type builder struct {
	file     string
	root     *yaml.Node
	env      *celexpr.Env
	warnings []string // notes on the policy (Policy.Warnings)
}

func (b *builder) decode(root *yaml.Node, out any) error {
	if err := policy.CheckFields(b.file, root, reflect.TypeOf(out).Elem(), ""); err != nil {
		return err
	}
	if err := root.Decode(out); err != nil {
		return &policy.LoadError{File: b.file, Line: root.Line, Err: err}
	}
	return nil
}

// node finds the node of a field path such as spec.validations[0].expression.
func (b *builder) node(path string) *yaml.Node {
	n := b.root
	for _, part := range strings.Split(path, ".") {
		name, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 {
			name = part[:i]
			idx, _ = strconv.Atoi(strings.TrimSuffix(part[i+1:], "]"))
		}
		next := policy.MapValue(n, name)
		if next == nil {
			return n
		}
		n = next
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return n
			}
			n = n.Content[idx]
		}
	}
	return n
}

func (b *builder) errAt(path string, err error) error {
	return &policy.LoadError{File: b.file, Line: b.node(path).Line, Field: path, Err: err}
}

// compile compiles the expression at path; a compile error names the file
// line of the expression's line and the column within it.
func (b *builder) compile(env *celexpr.Env, path, expr string, want *celexpr.Type) (*celexpr.Program, error) {
	p, err := env.Compile(expr, want)
	if err == nil {
		return p, nil
	}
	n := b.node(path)
	line := n.Line
	var ce *celexpr.CompileError
	if errors.As(err, &ce) {
		switch n.Style {
		case yaml.LiteralStyle:
			line += ce.Pos.Line // the text starts on the line after |
		case yaml.FoldedStyle:
			line++
		default:
			line += ce.Pos.Line - 1
		}
	}
	return nil, &policy.LoadError{File: b.file, Line: line, Field: path, Err: err}
}

func (b *builder) namedBools(path string, list []rawNamedExpr) ([]namedProgram, error) {
	env, err := b.policyEnv()
	if err != nil {
		return nil, err
	}
	var out []namedProgram
	for i, mc := range list {
		field := fmt.Sprintf("%s[%d].expression", path, i)
		if mc.Expression == "" {
			return nil, b.errAt(field, errors.New("missing"))
		}
		p, err := b.compile(env, field, mc.Expression, celexpr.Bool)
		if err != nil {
			return nil, err
		}
		out = append(out, namedProgram{name: mc.Name, field: field, prog: p})
	}
	return out, nil
}

func (b *builder) policyEnv() (*celexpr.Env, error) {
	if b.env != nil {
		return b.env, nil
	}
	env, err := celexpr.NewPolicyEnv()
	b.env = env
	return env, err
}

// controllerKinds are the autogen.podControllers.controllers values.
var controllerKinds = map[string]string{"daemonsets": "DaemonSet", "deployments": "Deployment", "replicasets": "ReplicaSet",
	"statefulsets": "StatefulSet", "jobs": "Job", "cronjobs": "CronJob"}

func build(file string, root *yaml.Node, o policy.LoadOptions) (*policy.Policy, error) {
	b := &builder{file: file, root: root}
	var raw rawPolicy
	if err := b.decode(root, &raw); err != nil {
		return nil, err
	}
	versions := []string{"v1alpha1", "v1beta1", "v1"}
	if raw.Kind == KindNamespaced {
		versions = versions[1:] // added in Kyverno 1.16 at v1beta1
	}
	if v := strings.TrimPrefix(raw.APIVersion, group+"/"); !slices.Contains(versions, v) {
		return nil, b.errAt("apiVersion", fmt.Errorf("%q: a %s is read from %s/%s", raw.APIVersion, raw.Kind, group, strings.Join(versions, ", ")))
	}
	if raw.Metadata.Name == "" {
		return nil, b.errAt("metadata.name", errors.New("missing: a policy needs a name (Kyverno refuses it too)"))
	}
	p := &policy.Policy{Kind: raw.Kind, Name: raw.Metadata.Name, File: file}
	if raw.Kind == KindNamespaced {
		p.Namespace = raw.Metadata.Namespace
		if p.Namespace == "" {
			p.Namespace = "default"
		}
	}
	s := raw.Spec
	r := &policy.Rule{Policy: p, Name: "validations"}
	vf := &policy.Verification{Rule: r, Type: policy.TypeAuto,
		Required:     boolOr(s.ValidationConfigurations.Required),
		VerifyDigest: boolOr(s.ValidationConfigurations.VerifyDigest),
		MutateDigest: boolOr(s.ValidationConfigurations.MutateDigest)}
	prog := &program{pol: p, vf: vf, attestors: map[string][]*policy.Attestor{}, attestations: map[string]*policy.Attestation{}, referrers: map[string]string{}}
	vf.Program = prog

	// Actions and failure policy.
	actions := s.ValidationActions
	if len(actions) == 0 {
		actions = []string{"Deny"}
	}
	for i, a := range actions {
		if a != "Deny" && a != "Warn" && a != "Audit" {
			return nil, b.errAt(fmt.Sprintf("spec.validationActions[%d]", i), fmt.Errorf("%q: want Deny, Warn or Audit", a))
		}
	}
	if slices.Contains(actions, "Deny") && slices.Contains(actions, "Warn") {
		return nil, b.errAt("spec.validationActions", errors.New("Deny and Warn may not be used together (as Kyverno requires)"))
	}
	vf.Audit = !slices.Contains(actions, "Deny")
	switch s.FailurePolicy {
	case "", "Fail":
	case "Ignore":
		vf.IgnoreErrors = true
	default:
		return nil, b.errAt("spec.failurePolicy", fmt.Errorf("%q: want Fail or Ignore", s.FailurePolicy))
	}
	if ev := s.Evaluation; ev != nil {
		if ev.Mode != "" && ev.Mode != "Kubernetes" {
			return nil, b.errAt("spec.evaluation.mode", fmt.Errorf("%q is %w: the gate judges Kubernetes objects (mode Kubernetes)", ev.Mode, policy.ErrUnsupported))
		}
		if ev.Admission != nil && ev.Admission.Enabled != nil && !*ev.Admission.Enabled {
			// Only background reports: nothing is denied at admission.
			vf.Audit = true
			p.Warnings = append(p.Warnings, "evaluation.admission.enabled is false: Kyverno only reports, so failures are audit")
		}
	}
	if o.KyvernoVersion != "" {
		v, err := semver.NewVersion(strings.TrimPrefix(o.KyvernoVersion, "v"))
		if err != nil {
			return nil, fmt.Errorf("kyvernoVersion %q: want a version such as 1.18.2", o.KyvernoVersion)
		}
		if v.LessThan(semver.MustParse("1.19.0")) {
			prog.olderKyverno = v.String()
		}
	}

	env, err := b.policyEnv()
	if err != nil {
		return nil, err
	}
	cons, err := b.constraints(p, s, o)
	if err != nil {
		return nil, err
	}
	r.Constraints = cons
	prog.cons = cons

	// Images.
	for i, im := range s.Images {
		field := fmt.Sprintf("spec.images[%d]", i)
		if im.Name == "" {
			return nil, b.errAt(field+".name", errors.New("missing"))
		}
		pr, err := b.compile(env, field+".expression", im.Expression, nil)
		if err != nil {
			return nil, err
		}
		prog.extractors = append(prog.extractors, namedProgram{name: im.Name, field: field + ".expression", prog: pr})
	}
	refEnv, err := celexpr.NewRefEnv()
	if err != nil {
		return nil, err
	}
	for i, m := range s.MatchImageReferences {
		field := fmt.Sprintf("spec.matchImageReferences[%d]", i)
		switch {
		case m.Glob != "" && m.Expression != "", m.Glob == "" && m.Expression == "":
			return nil, b.errAt(field, errors.New("want exactly one of glob or expression"))
		case m.Glob != "":
			g, err := glob.Compile(m.Glob)
			if err != nil {
				return nil, b.errAt(field+".glob", err)
			}
			prog.globs = append(prog.globs, g)
			vf.ImageReferences = append(vf.ImageReferences, m.Glob)
		default:
			pr, err := b.compile(refEnv, field+".expression", m.Expression, celexpr.Bool)
			if err != nil {
				return nil, err
			}
			prog.refExprs = append(prog.refExprs, namedProgram{field: field + ".expression", prog: pr})
			vf.ImageReferences = append(vf.ImageReferences, "expression: "+m.Expression)
		}
	}

	// Attestors and attestations.
	var all policy.AttestorSet
	all.Count = 1
	for i, ra := range s.Attestors {
		field := fmt.Sprintf("spec.attestors[%d]", i)
		if ra.Name == "" {
			return nil, b.errAt(field+".name", errors.New("missing"))
		}
		if _, dup := prog.attestors[ra.Name]; dup {
			return nil, b.errAt(field+".name", fmt.Errorf("%q is defined twice", ra.Name))
		}
		alts, err := b.attestor(field, ra)
		if err != nil {
			return nil, err
		}
		prog.attestors[ra.Name] = alts
		prog.attestorKeys = append(prog.attestorKeys, ra.Name)
		all.Entries = append(all.Entries, alts...)
	}
	if len(all.Entries) > 0 {
		vf.Attestors = []policy.AttestorSet{all}
	}
	for i, ra := range s.Attestations {
		field := fmt.Sprintf("spec.attestations[%d]", i)
		if ra.Name == "" {
			return nil, b.errAt(field+".name", errors.New("missing"))
		}
		switch {
		case (ra.InToto == nil) == (ra.Referrer == nil):
			return nil, b.errAt(field, errors.New("want exactly one of intoto or referrer"))
		case ra.InToto != nil:
			if ra.InToto.Type == "" {
				return nil, b.errAt(field+".intoto.type", errors.New("missing"))
			}
			at := &policy.Attestation{Verification: vf, Index: i, Name: ra.Name, Type: ra.InToto.Type}
			prog.attestations[ra.Name] = at
			vf.Attestations = append(vf.Attestations, at)
		default:
			if ra.Referrer.Type == "" {
				return nil, b.errAt(field+".referrer.type", errors.New("missing"))
			}
			prog.referrers[ra.Name] = ra.Referrer.Type
		}
	}

	// Variables and validations.
	for i, v := range s.Variables {
		field := fmt.Sprintf("spec.variables[%d].expression", i)
		if v.Name == "" {
			return nil, b.errAt(fmt.Sprintf("spec.variables[%d].name", i), errors.New("missing"))
		}
		pr, err := b.compile(env, field, v.Expression, nil)
		if err != nil {
			return nil, err
		}
		prog.variables = append(prog.variables, namedProgram{name: v.Name, field: field, prog: pr})
	}
	if len(s.Validations) == 0 {
		return nil, b.errAt("spec.validations", errors.New("missing: without validations the policy verifies nothing"))
	}
	for i, v := range s.Validations {
		field := fmt.Sprintf("spec.validations[%d]", i)
		pr, err := b.compile(env, field+".expression", v.Expression, celexpr.Bool)
		if err != nil {
			return nil, err
		}
		val := validation{index: i, prog: pr, message: v.Message}
		if v.MessageExpression != "" {
			if val.messageExpr, err = b.compile(env, field+".messageExpression", v.MessageExpression, celexpr.String); err != nil {
				return nil, err
			}
		}
		prog.validations = append(prog.validations, val)
	}
	r.Verify = []*policy.Verification{vf}
	p.Rules = []*policy.Rule{r}
	p.Warnings = append(p.Warnings, b.warnings...)
	if len(cons.autogen) > 0 {
		p.Controllers = cons.autogen
	}
	return p, nil
}

func boolOr(b *bool) bool { return b == nil || *b }

func (b *builder) constraints(p *policy.Policy, s rawSpec, o policy.LoadOptions) (*constraints, error) {
	c := &constraints{pol: p, namespaceLabels: o.NamespaceLabels}
	mc := s.MatchConstraints
	if mc == nil || len(mc.ResourceRules) == 0 {
		return nil, b.errAt("spec.matchConstraints", errors.New("resourceRules are required: without them the policy matches nothing (recent Kyverno refuses an empty matchConstraints)"))
	}
	switch mc.MatchPolicy {
	case "", "Equivalent", "Exact":
	default:
		return nil, b.errAt("spec.matchConstraints.matchPolicy", fmt.Errorf("%q: want Exact or Equivalent", mc.MatchPolicy))
	}
	rules := func(path string, list []rawResourceRule) ([]resourceRule, error) {
		var out []resourceRule
		for i, rr := range list {
			f := fmt.Sprintf("%s[%d]", path, i)
			for j, op := range rr.Operations {
				if !slices.Contains([]string{"CREATE", "UPDATE", "DELETE", "CONNECT", "*"}, op) {
					return nil, b.errAt(fmt.Sprintf("%s.operations[%d]", f, j), fmt.Errorf("%q: want CREATE, UPDATE, DELETE, CONNECT or *", op))
				}
			}
			switch rr.Scope {
			case "", "*", "Cluster", "Namespaced":
			default:
				return nil, b.errAt(f+".scope", fmt.Errorf("%q: want *, Cluster or Namespaced", rr.Scope))
			}
			if len(rr.Resources) == 0 || len(rr.APIGroups) == 0 || len(rr.APIVersions) == 0 || len(rr.Operations) == 0 {
				return nil, b.errAt(f, errors.New("apiGroups, apiVersions, resources and operations are required"))
			}
			out = append(out, resourceRule{groups: rr.APIGroups, versions: rr.APIVersions, resources: rr.Resources,
				operations: rr.Operations, names: rr.ResourceNames, scope: rr.Scope})
		}
		return out, nil
	}
	var err error
	if c.match, err = rules("spec.matchConstraints.resourceRules", mc.ResourceRules); err != nil {
		return nil, err
	}
	if c.exclude, err = rules("spec.matchConstraints.excludeResourceRules", mc.ExcludeResourceRules); err != nil {
		return nil, err
	}
	if c.nsSel, c.nsSelOnlyName, err = selector(mc.NamespaceSelector); err != nil {
		return nil, b.errAt("spec.matchConstraints.namespaceSelector", err)
	}
	if c.objSel, _, err = selector(mc.ObjectSelector); err != nil {
		return nil, b.errAt("spec.matchConstraints.objectSelector", err)
	}
	if c.conditions, err = b.namedBools("spec.matchConditions", s.MatchConditions); err != nil {
		return nil, err
	}
	// Autogen (kyverno/kyverno pkg/cel/autogen): only for a policy whose
	// one rule is on core v1 pods, without object selector, exclusions or
	// resource names.
	one := mc.ResourceRules[0]
	if len(mc.ResourceRules) == 1 && len(mc.ExcludeResourceRules) == 0 && mc.ObjectSelector == nil && len(one.ResourceNames) == 0 &&
		slices.Equal(one.Resources, []string{"pods"}) && slices.Contains(one.APIGroups, "") && (slices.Contains(one.APIVersions, "v1") || slices.Contains(one.APIVersions, "*")) {
		names := []string{"daemonsets", "deployments", "replicasets", "statefulsets", "jobs", "cronjobs"}
		if s.Autogen != nil && s.Autogen.PodControllers != nil {
			names = s.Autogen.PodControllers.Controllers
		}
		for i, n := range names {
			k, ok := controllerKinds[n]
			if !ok {
				return nil, b.errAt(fmt.Sprintf("spec.autogen.podControllers.controllers[%d]", i), fmt.Errorf("%q: want one of daemonsets, deployments, replicasets, statefulsets, jobs, cronjobs", n))
			}
			c.autogen = append(c.autogen, k)
		}
		sort.Strings(c.autogen)
	}
	return c, nil
}

// attestor builds one named attestor: one model attestor per keyless
// identity (any identity verifies the attestor, as cosign's
// CheckOpts.Identities).
func (b *builder) attestor(field string, ra rawAttestor) ([]*policy.Attestor, error) {
	if !ra.Notary.IsZero() {
		return nil, b.errAt(field+".notary", fmt.Errorf("Notation is not supported: gitops-gate verifies Sigstore/cosign signatures (%w)", policy.ErrUnsupported))
	}
	if ra.Cosign == nil {
		return nil, b.errAt(field, errors.New("want cosign (Notation is not supported)"))
	}
	cf := field + ".cosign"
	c := ra.Cosign
	publicGood, err := b.tuf(cf+".tuf", c.TUF)
	if err != nil {
		return nil, err
	}
	trustedRoot, err := b.trustedRoot(cf+".trustedRoot", c.TrustedRoot)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, set := range []bool{c.Key != nil, c.Keyless != nil, c.Certificate != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, b.errAt(cf, errors.New("want exactly one of key, keyless or certificate"))
	}
	base := policy.Attestor{Path: field + " (" + ra.Name + ")", Annotations: c.Annotations,
		TrustedRoot: trustedRoot, PublicGoodTUF: publicGood && trustedRoot == ""}
	var rekor policy.Rekor
	var ct policy.CTLog
	if l := c.CTLog; l != nil {
		rekor = policy.Rekor{URL: l.URL, PubKey: l.RekorPubKey, IgnoreTlog: l.InsecureIgnoreTlog}
		ct = policy.CTLog{IgnoreSCT: l.InsecureIgnoreSCT, PubKey: l.CTLogPubKey, TSACertChain: l.TSACertChain}
		for name, pem := range map[string]string{"rekorPubKey": l.RekorPubKey, "ctLogPubKey": l.CTLogPubKey} {
			if strings.TrimSpace(pem) == "" {
				continue
			}
			if _, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(pem)); err != nil {
				return nil, b.errAt(cf+".ctlog."+name, fmt.Errorf("not a PEM public key: %w", err))
			}
		}
		if strings.TrimSpace(l.TSACertChain) != "" {
			if _, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(l.TSACertChain)); err != nil {
				return nil, b.errAt(cf+".ctlog.tsaCertChain", fmt.Errorf("not PEM certificates: %w", err))
			}
		}
	}
	if src := c.Source; src != nil {
		if strings.ContainsAny(src.TagPrefix, ":/@ \t") {
			return nil, b.errAt(cf+".source.tagPrefix", fmt.Errorf("%q: a tag prefix cannot hold ':', '/', '@' or spaces", src.TagPrefix))
		}
		base.Repository, base.TagPrefix = src.Repository, src.TagPrefix
	}
	switch {
	case c.Key != nil:
		k := c.Key
		kf := cf + ".key"
		switch {
		case k.KMS != "":
			return nil, b.errAt(kf+".kms", fmt.Errorf("KMS keys are %w: give the public key inline (data)", policy.ErrUnsupported))
		case k.Expression != "":
			return nil, b.errAt(kf+".expression", fmt.Errorf("a key from an expression is %w: give the public key inline (data)", policy.ErrUnsupported))
		case strings.TrimSpace(k.Data) == "":
			return nil, b.errAt(kf+".data", errors.New("missing: the PEM public key"))
		}
		switch k.HashAlgorithm {
		case "", "sha224", "sha256", "sha384", "sha512":
			base.SignatureAlgorithm = k.HashAlgorithm
		default:
			return nil, b.errAt(kf+".hashAlgorithm", fmt.Errorf("%q: want sha224, sha256, sha384 or sha512", k.HashAlgorithm))
		}
		if _, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(k.Data)); err != nil {
			return nil, b.errAt(kf+".data", fmt.Errorf("not a PEM public key: %w", err))
		}
		a := base
		a.Key = &policy.Key{PublicKey: k.Data, Rekor: rekor, CTLog: ct}
		return []*policy.Attestor{&a}, nil
	case c.Certificate != nil:
		cc := c.Certificate
		cert := &policy.Certificate{Rekor: rekor, CTLog: ct}
		for name, v := range map[string]*rawStringOrExpr{"cert": cc.Cert, "certChain": cc.CertChain} {
			if v == nil {
				continue
			}
			if v.Expression != "" {
				return nil, b.errAt(cf+".certificate."+name+".expression", fmt.Errorf("a certificate from an expression is %w: give it inline (value)", policy.ErrUnsupported))
			}
			if _, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(v.Value)); err != nil || strings.TrimSpace(v.Value) == "" {
				return nil, b.errAt(cf+".certificate."+name+".value", fmt.Errorf("not PEM certificates: %v", err))
			}
			if name == "cert" {
				cert.Cert = v.Value
			} else {
				cert.CertChain = v.Value
			}
		}
		if cert.Cert == "" && cert.CertChain == "" {
			return nil, b.errAt(cf+".certificate", errors.New("cert or certChain is required"))
		}
		a := base
		a.Certificate = cert
		return []*policy.Attestor{&a}, nil
	}
	kl := c.Keyless
	kf := cf + ".keyless"
	var ext map[string]string
	if !kl.AdditionalExtensions.IsZero() {
		// Kyverno's IVPOL (1.19) accepts the field and checks nothing; the
		// gate checks it, as for a ClusterPolicy: never weaker than what
		// the policy says, and the note says where Kyverno admits more.
		var raw map[string]string
		if err := kl.AdditionalExtensions.Decode(&raw); err != nil {
			return nil, b.errAt(kf+".additionalExtensions", fmt.Errorf("want a map of extension to value: %w", err))
		}
		ext = map[string]string{}
		for key, val := range raw {
			n, ok := policy.ExtensionName(key)
			if !ok {
				return nil, b.errAt(kf+".additionalExtensions."+key, fmt.Errorf("invalid certificate extension %s (want githubWorkflowTrigger, githubWorkflowSha, githubWorkflowName, githubWorkflowRepository, githubWorkflowRef, oidcIssuer or their OIDs)", key))
			}
			ext[n] = val
		}
		b.warnings = append(b.warnings, field+": keyless.additionalExtensions is checked by the gate, but Kyverno's ImageValidatingPolicy (1.19) does not check it: Kyverno admits an image the gate fails for it")
	}
	if strings.TrimSpace(kl.Roots) != "" {
		if _, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(kl.Roots)); err != nil {
			return nil, b.errAt(kf+".roots", fmt.Errorf("not PEM certificates: %w", err))
		}
	}
	if len(kl.Identities) == 0 {
		return nil, b.errAt(kf+".identities", errors.New("missing: name the identities that may sign"))
	}
	var out []*policy.Attestor
	for i, id := range kl.Identities {
		idf := fmt.Sprintf("%s.identities[%d]", kf, i)
		if id.SubjectExpression != "" {
			return nil, b.errAt(idf+".subjectExpression", fmt.Errorf("is %w (Kyverno 1.19 declares it but does not enforce it either): use subject or subjectRegExp", policy.ErrUnsupported))
		}
		if id.Subject == "" && id.SubjectRegExp == "" && id.Issuer == "" && id.IssuerRegExp == "" {
			return nil, b.errAt(idf, errors.New("neither subject nor issuer: any signer would be accepted; name the identity that must have signed"))
		}
		k := &policy.Keyless{Roots: kl.Roots, Rekor: rekor, CTLog: ct, AdditionalExtensions: ext}
		// IVPOL compares issuer and subject exactly, or as regular
		// expressions (cosign CheckOpts.Identities): never as Kyverno
		// wildcards.
		k.IssuerRegExp, k.SubjectRegExp = exactOr(id.Issuer, id.IssuerRegExp), exactOr(id.Subject, id.SubjectRegExp)
		for name, re := range map[string]string{"issuerRegExp": id.IssuerRegExp, "subjectRegExp": id.SubjectRegExp} {
			if _, err := regexp.Compile(re); err != nil {
				return nil, b.errAt(idf+"."+name, fmt.Errorf("invalid regular expression: %w", err))
			}
		}
		a := base
		if len(kl.Identities) > 1 {
			a.Path = fmt.Sprintf("%s identity %d", base.Path, i)
		}
		a.Keyless = k
		out = append(out, &a)
	}
	return out, nil
}

// exactOr is the regexp an exact value means, or re.
func exactOr(exact, re string) string {
	if exact != "" {
		return "^" + regexp.QuoteMeta(exact) + "$"
	}
	return re
}

// publicGoodMirror is the TUF repository of public-good Sigstore, Kyverno's
// default mirror (sigstore/sigstore pkg/tuf DefaultRemoteRoot).
const publicGoodMirror = "https://tuf-repo-cdn.sigstore.dev"

// tuf reads cosign.tuf. Kyverno fetches the trusted root from that TUF
// repository at admission; the gate fetches no TUF repository (only
// registries are contacted). A tuf block naming public-good Sigstore (its
// mirror, no other root) is what Kyverno does without one: the attestor is
// marked, and the verifier uses the gate's trust root only if that is
// public-good's, and errs otherwise. Any other mirror or root is a load
// error: the gate could never verify against what the policy asks for,
// and using its own root instead would be a different policy in silence.
func (b *builder) tuf(field string, t *rawTUF) (publicGood bool, err error) {
	if t == nil {
		return false, nil
	}
	how := "the gate does not fetch TUF repositories: give the trusted_root.json that repository serves inline (cosign.trustedRoot.value) instead of tuf, or run the gate with it (--trusted-root)"
	switch {
	case t.Root.Path != "":
		return false, b.errAt(field+".root.path", fmt.Errorf("a TUF root read from %q is %w: %s", t.Root.Path, policy.ErrUnsupported, how))
	case t.Root.Data != "":
		return false, b.errAt(field+".root.data", fmt.Errorf("a custom TUF root is %w: %s", policy.ErrUnsupported, how))
	case t.Mirror != "" && strings.TrimRight(t.Mirror, "/") != publicGoodMirror:
		return false, b.errAt(field+".mirror", fmt.Errorf("TUF mirror %q is %w: %s", t.Mirror, policy.ErrUnsupported, how))
	}
	return true, nil
}

// trustedRoot reads cosign.trustedRoot: a Sigstore trusted_root.json given
// inline (value), as Kyverno parses it (no path form exists). The
// expression form reads live cluster data (a ConfigMap) the gate does not
// have, so it stays refused.
func (b *builder) trustedRoot(field string, t *rawStringOrExpr) (string, error) {
	if t == nil {
		return "", nil
	}
	if t.Expression != "" {
		return "", b.errAt(field+".expression", fmt.Errorf("a trusted root from an expression is %w: it reads cluster data at admission the gate does not have; give the trusted_root.json inline (value)", policy.ErrUnsupported))
	}
	if strings.TrimSpace(t.Value) == "" {
		return "", b.errAt(field+".value", errors.New("missing: the trusted_root.json"))
	}
	if _, err := trust.Parse("trusted root", []byte(t.Value)); err != nil {
		return "", b.errAt(field+".value", err)
	}
	return t.Value, nil
}
