package convert

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/policy/conditions"
)

// APIVersion is the version of the policies written.
const APIVersion = "policies.kyverno.io/v1"

// CommentPrefix starts every comment on something that is not converted
// exactly.
const CommentPrefix = "convert: "

// Note is one thing that is not converted exactly, with where it is.
type Note struct {
	Policy  string // the ImageValidatingPolicy written
	Message string
}

func (n Note) String() string { return n.Policy + ": " + n.Message }

// Result is the conversion of one file: one ImageValidatingPolicy per
// verifyImages entry (IVPOL has one matchImageReferences, one set of
// validationConfigurations and one validationActions per policy).
type Result struct {
	Docs  []*yaml.Node
	Notes []Note
}

// YAML is the policies as a YAML stream.
func (r *Result) YAML() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	for _, d := range r.Docs {
		if err := enc.Encode(d); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ErrNothingToConvert is returned for a file whose policies have no
// verifyImages rule.
var ErrNothingToConvert = errors.New("no verifyImages rule to convert")

// File converts the ClusterPolicies and Policies of one file. They are
// loaded with gate/policy, strictly: a policy the gate refuses is an error
// here too, with the loader's file:line.
func File(file string, data []byte) (*Result, error) {
	pols, err := policy.Parse(file, data)
	if err != nil {
		return nil, err
	}
	raws, err := rawPolicies(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	res := &Result{}
	for _, p := range pols {
		raw := raws[rawKey(p.Kind, p.Namespace, p.Name)]
		convertPolicy(res, p, raw)
	}
	if len(res.Docs) == 0 {
		return nil, fmt.Errorf("%s: %w", file, ErrNothingToConvert)
	}
	return res, nil
}

// rawPolicies indexes the policy documents of a file (list items
// included) by kind/name, for the settings the rule model does not keep
// because they do not change a verdict (failurePolicy, background,
// useCache...), which the conversion still carries over or comments on.
func rawPolicies(data []byte) (map[string]*yaml.Node, error) {
	out := map[string]*yaml.Node{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if items := lookup(n, "items"); items != nil && items.Kind == yaml.SequenceNode {
			for _, it := range items.Content {
				walk(it)
			}
		}
		if k := lookup(n, "kind"); k != nil {
			if name := lookupPath(n, "metadata", "name"); name != nil {
				out[rawKey(k.Value, namespaceOf(k.Value, lookupPath(n, "metadata", "namespace")), name.Value)] = n
			}
		}
	}
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(doc.Content) > 0 {
			walk(doc.Content[0])
		}
	}
}

func rawKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }

// namespaceOf is a policy's namespace as gate/policy reads it: none for a
// ClusterPolicy, default for a Policy that names none.
func namespaceOf(kind string, ns *yaml.Node) string {
	if kind != "Policy" {
		return ""
	}
	if ns == nil || ns.Value == "" {
		return "default"
	}
	return ns.Value
}

// converter writes one ImageValidatingPolicy.
type converter struct {
	res  *Result
	name string
	// counters name attestors by kind: keyless0, key0, cert0...
	counters map[string]int
}

func (c *converter) note(msg string) {
	c.res.Notes = append(c.res.Notes, Note{Policy: c.name, Message: msg})
}

// comment records a note and returns it as a YAML comment.
func (c *converter) comment(msg string) string {
	c.note(msg)
	return "# " + CommentPrefix + msg
}

// comments turns the notes recorded since mark into YAML comments.
func (c *converter) commentsSince(mark int) string {
	var out []string
	for _, n := range c.res.Notes[mark:] {
		out = append(out, "# "+CommentPrefix+n.Message)
	}
	return strings.Join(out, "\n")
}

var dnsUnsafe = regexp.MustCompile(`[^a-z0-9.-]+`)

// dnsName is s as a Kubernetes object name.
func dnsName(s string) string {
	s = strings.Trim(dnsUnsafe.ReplaceAllString(strings.ToLower(s), "-"), "-.")
	if len(s) > 253 {
		s = strings.TrimRight(s[:253], "-.")
	}
	return s
}

func convertPolicy(res *Result, p *policy.Policy, raw *yaml.Node) {
	sum := p.Summarize()
	spec := lookup(raw, "spec")
	entries := 0
	for _, r := range p.Rules {
		entries += len(r.Verify)
	}
	rawRules := map[string]*yaml.Node{}
	if rules := lookup(spec, "rules"); rules != nil {
		for _, rn := range rules.Content {
			if n := lookup(rn, "name"); n != nil {
				rawRules[n.Value] = rn
			}
		}
	}
	for ri, r := range p.Rules {
		rawRule := rawRules[r.Name]
		for vi, v := range r.Verify {
			name := p.Name
			if entries > 1 {
				name += "-" + r.Name
				if len(r.Verify) > 1 {
					name += fmt.Sprintf("-%d", vi)
				}
			}
			c := &converter{res: res, name: dnsName(name), counters: map[string]int{}}
			var rawVerify *yaml.Node
			if vis := lookup(rawRule, "verifyImages"); vis != nil && vi < len(vis.Content) {
				rawVerify = vis.Content[vi]
			}
			res.Docs = append(res.Docs, c.verification(p, sum.Rules[ri], v, spec, rawRule, rawVerify))
		}
	}
}

func (c *converter) verification(p *policy.Policy, rs policy.RuleSummary, v *policy.Verification, spec, rawRule, rawVerify *yaml.Node) *yaml.Node {
	root := mapping()
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}
	doc.HeadComment = fmt.Sprintf("# Converted by gitops-gate policy convert from %s %s, rule %s, verifyImages[%d] (%s).",
		p.Kind, p.Name, v.Rule.Name, v.Index, filepath.Base(p.File))

	set(root, "apiVersion", str(APIVersion))
	kind := "ImageValidatingPolicy"
	if p.Kind == "Policy" {
		kind = "NamespacedImageValidatingPolicy"
	}
	set(root, "kind", str(kind))
	meta := set(root, "metadata", mapping())
	set(meta, "name", str(c.name))
	if p.Kind == "Policy" {
		set(meta, "namespace", str(p.Namespace))
	}
	s := set(root, "spec", mapping())

	// Actions.
	action := "Deny"
	if v.Audit {
		action = "Audit"
	}
	set(s, "validationActions", flowSeq(action))
	fp := "Fail"
	if n := lookup(spec, "failurePolicy"); n != nil && n.Value != "" {
		fp = n.Value
	}
	var fpComment string
	if fp == "Ignore" {
		fpComment = c.comment("failurePolicy: Ignore in an IVPOL also admits on every evaluation error (a registry that cannot be reached, a CEL runtime error), where the ClusterPolicy's covered only an unreachable webhook; write Fail to keep errors denying")
	}
	set(s, "failurePolicy", str(fp), fpComment)
	if n := lookup(spec, "webhookTimeoutSeconds"); n != nil && n.Value != "" {
		wc := mapping()
		set(wc, "timeoutSeconds", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: n.Value})
		set(s, "webhookConfiguration", wc)
	}
	if n := lookup(spec, "background"); n != nil && n.Value == "false" {
		ev := mapping()
		bg := set(ev, "background", mapping())
		set(bg, "enabled", boolean(false))
		set(s, "evaluation", ev)
	}

	// Match.
	mark := len(c.res.Notes)
	m := c.match(p, rs)
	set(s, "matchConstraints", m.constraints, c.commentsSince(mark))
	if m.conditions != nil {
		set(s, "matchConditions", m.conditions)
	}
	if m.autogen != nil {
		set(s, "autogen", m.autogen)
	}
	if n := lookup(rawRule, "imageExtractors"); n != nil {
		set(s, "images", seq(), c.comment("imageExtractors are not converted: write each as an images[] CEL extractor (name, expression over object); until then IVPOL does not see those images"))
	}

	// Images.
	mark = len(c.res.Notes)
	var imgComments []string
	globs := imageGlobs(v.ImageReferences)
	if len(globs) > len(v.ImageReferences) {
		imgComments = append(imgComments, "# IVPOL matches the image as written; Kyverno's ClusterPolicy matched its normalised form (docker.io/ and :latest added, the tag beside a digest dropped), so those spellings are listed too.")
	}
	refs := seq()
	if len(v.SkipImageReferences) == 0 {
		for _, g := range globs {
			e := mapping()
			set(e, "glob", str(g))
			refs.Content = append(refs.Content, e)
		}
	} else {
		var inc, exc []string
		for _, g := range v.ImageReferences {
			for _, f := range rawSpellings(g) {
				inc = append(inc, fmt.Sprintf("ref.matches(%s)", celString(wildcardRegexp(f))))
			}
		}
		for _, g := range v.SkipImageReferences {
			exc = append(exc, fmt.Sprintf("ref.matches(%s)", celString(wildcardRegexp(g))))
		}
		e := mapping()
		set(e, "expression", str(fmt.Sprintf("(%s) && !(%s)", strings.Join(inc, " || "), strings.Join(exc, " || "))))
		refs.Content = append(refs.Content, e)
		c.note("skipImageReferences are written as one matchImageReferences expression; a skip pattern is matched against the image as written, so an image Kyverno skipped only in its normalised spelling (docker.io/ added) is now verified")
	}
	set(s, "matchImageReferences", refs, append(imgComments, c.commentsSince(mark))...)

	if n := lookup(rawVerify, "imageRegistryCredentials"); n != nil {
		set(s, "credentials", n, c.comment("imageRegistryCredentials become credentials (secrets must be in Kyverno's namespace); the gate itself authenticates with its own registry credentials"))
	}

	// Digest and required.
	mark = len(c.res.Notes)
	if lookup(rawVerify, "useCache") != nil {
		c.note("useCache has no IVPOL field: Kyverno caches IVPOL verifications by its own flags")
	}
	if v.CosignOCI11 {
		c.note("cosignOCI11 has no IVPOL field: IVPOL finds signatures in OCI 1.1 referrers on its own")
	}
	switch v.Type {
	case "Cosign":
		c.note("type: Cosign read only cosign's .sig/.att tags; IVPOL also finds Sigstore bundles (cosign v3, actions/attest) signed by the same attestors")
	case "SigstoreBundle":
		c.note("type: SigstoreBundle read only Sigstore bundles; IVPOL also finds cosign's classic .sig/.att signatures by the same attestors")
	}
	c.note("Kyverno before 1.19 ignores verifyDigest and required, and mutateDigest does nothing there (kyverno#16808, #16809): a tag is admitted unpinned and unverified images pass; run Kyverno 1.19 or later")
	vc := mapping()
	set(vc, "mutateDigest", boolean(v.MutateDigest))
	set(vc, "verifyDigest", boolean(v.VerifyDigest))
	set(vc, "required", boolean(v.Required))
	set(s, "validationConfigurations", vc, c.commentsSince(mark))

	// Attestors, attestations and the validations that use them.
	attestors := seq()
	var validations []*yaml.Node
	// Every image of every kind the policy extracts (containers,
	// initContainers, ephemeralContainers and any images[] extractor):
	// the ClusterPolicy verified them all.
	forEachImage := func(expr string) string {
		return fmt.Sprintf("images.all(kind, images[kind].all(image,\n  %s))", strings.ReplaceAll(expr, "\n", "\n  "))
	}
	for i, as := range v.Attestors {
		names := c.attestors(attestors, as, v)
		validations = append(validations, validation(
			forEachImage(fmt.Sprintf("verifyImageSignatures(image, [%s]) >= %d", strings.Join(names, ", "), as.Required())),
			signedMessage("every image must be signed", as, i, len(v.Attestors)), ""))
	}
	var atts []*yaml.Node
	var attComments []string
	usedNames := map[string]bool{}
	for _, a := range v.Attestations {
		name := attestationName(a, usedNames)
		an := mapping()
		set(an, "name", str(name))
		it := set(an, "intoto", mapping())
		set(it, "type", str(a.Type))
		atts = append(atts, an)
		ref := member("attestations", name)
		for i, as := range a.Attestors {
			names := c.attestors(attestors, as, v)
			validations = append(validations, validation(
				forEachImage(fmt.Sprintf("verifyAttestationSignatures(image, %s, [%s]) >= %d", ref, strings.Join(names, ", "), as.Required())),
				signedMessage(fmt.Sprintf("every image must have a %s attestation signed", a.Type), as, i, len(a.Attestors)), ""))
		}
		for ci, aa := range a.Conditions {
			validations = append(validations, c.conditionValidation(a, ci, aa, ref, forEachImage))
		}
		if len(a.Conditions) > 0 {
			attComments = append(attComments, c.comment(fmt.Sprintf("attestation %s: Kyverno's ClusterPolicy required every %s statement to meet the conditions; IVPOL's extractPayload reads one verified statement", name, a.Type)))
		}
	}
	set(s, "attestors", attestors)
	if len(atts) > 0 {
		set(s, "attestations", seq(atts...), attComments...)
	}
	set(s, "validations", seq(validations...))
	return doc
}

// validation is one validations entry; comment goes above the entry.
func validation(expr, message, comment string) *yaml.Node {
	n := mapping()
	n.HeadComment = comment
	e := str(expr)
	if strings.Contains(expr, "\n") {
		e.Style = yaml.LiteralStyle
	}
	set(n, "expression", e)
	set(n, "message", str(message))
	return n
}

func signedMessage(prefix string, as policy.AttestorSet, i, n int) string {
	var ds []string
	for _, a := range as.Entries {
		ds = append(ds, a.Describe())
	}
	who := strings.Join(ds, "; ")
	if len(as.Entries) > 1 {
		who = fmt.Sprintf("%d of: %s", as.Required(), who)
	}
	msg := prefix + ": " + who
	if n > 1 {
		msg = fmt.Sprintf("%s (attestor set %d)", msg, i)
	}
	return msg
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9]+`)

// attestationName is the attestation's own name, or one made from its
// type (https://slsa.dev/provenance/v1 → provenance), unique in the
// policy.
func attestationName(a *policy.Attestation, used map[string]bool) string {
	name := a.Name
	if name == "" {
		t := strings.TrimRight(a.Type, "/")
		parts := strings.Split(t, "/")
		for i := len(parts) - 1; i >= 0; i-- {
			p := nonIdent.ReplaceAllString(parts[i], "")
			if p != "" && !regexp.MustCompile(`^v[0-9.]*$`).MatchString(parts[i]) {
				name = strings.ToLower(p)
				break
			}
		}
		if name == "" || name[0] >= '0' && name[0] <= '9' {
			name = "attestation" + name
		}
	}
	base, n := name, 1
	for used[name] {
		n++
		name = fmt.Sprintf("%s%d", base, n)
	}
	used[name] = true
	return name
}

// conditionValidation writes one conditions entry (all of All, and one
// of Any when given) as a validation. A condition without a clear CEL
// equivalent makes the validation "false": the converted policy denies
// until a person rewrites it, rather than admitting what the original
// refused.
func (c *converter) conditionValidation(a *policy.Attestation, ci int, aa conditions.AnyAll, ref string, forEachImage func(string) string) *yaml.Node {
	// Kyverno's conditions read the predicate; extractPayload returns the
	// whole in-toto statement. [x].all(p, …) binds p once with CEL's
	// standard macros.
	payload := fmt.Sprintf("extractPayload(image, %s).predicate", ref)
	var all, anyOf, msgs, failed, allGuards []string
	conv := func(list []conditions.Condition, into *[]string, group string) {
		for k, cond := range list {
			e, guards, ok, why := conditionCEL(cond, "p")
			if !ok {
				failed = append(failed, fmt.Sprintf("conditions[%d].%s[%d] (key %v, operator %s, value %v): %s", ci, group, k, cond.Key, cond.Operator, cond.Value, why))
				continue
			}
			if group == "all" {
				for _, g := range guards {
					if !slices.Contains(allGuards, g) {
						allGuards = append(allGuards, g)
					}
				}
			} else {
				// The any group is evaluated beside the all group's
				// guards: only what they do not test is added.
				var own []string
				for _, g := range guards {
					if !slices.Contains(allGuards, g) {
						own = append(own, g)
					}
				}
				if len(own) > 0 {
					e = "(" + strings.Join(append(own, e), " && ") + ")"
				}
			}
			*into = append(*into, e)
			if cond.Message != "" {
				msgs = append(msgs, cond.Message)
			}
		}
	}
	conv(aa.All, &all, "all")
	conv(aa.Any, &anyOf, "any")
	msg := fmt.Sprintf("the %s attestation does not meet conditions[%d]", a.Type, ci)
	if len(msgs) > 0 {
		msg += ": " + strings.Join(msgs, "; ")
	}
	if len(failed) > 0 {
		var cs []string
		for _, f := range failed {
			cs = append(cs, c.comment("NOT CONVERTED, this validation denies until rewritten in CEL over "+payload+": "+f))
		}
		return validation("false", msg+" (a condition is not converted: rewrite it in CEL)", strings.Join(cs, "\n"))
	}
	if len(allGuards) > 0 {
		all = append([]string{strings.Join(allGuards, " && ")}, all...)
	}
	expr := strings.Join(all, " &&\n")
	if len(anyOf) > 0 {
		any := strings.Join(anyOf, " ||\n")
		if len(anyOf) > 1 && len(all) > 0 {
			any = "(" + any + ")"
		}
		if expr != "" {
			expr += " &&\n" + any
		} else {
			expr = any
		}
	}
	if expr == "" {
		expr = "true"
	}
	expr = fmt.Sprintf("[%s].all(p,\n  %s)", payload, strings.ReplaceAll(expr, "\n", "\n  "))
	return validation(forEachImage(expr), msg, "")
}

// attestors appends one IVPOL attestor per entry of set and returns their
// references (attestors.keyless0...).
func (c *converter) attestors(list *yaml.Node, as policy.AttestorSet, v *policy.Verification) []string {
	var refs []string
	for _, a := range as.Entries {
		kind := "keyless"
		switch {
		case a.Key != nil:
			kind = "key"
		case a.Certificate != nil:
			kind = "cert"
		}
		name := fmt.Sprintf("%s%d", kind, c.counters[kind])
		c.counters[kind]++
		refs = append(refs, member("attestors", name))

		n := mapping()
		set(n, "name", str(name))
		cs := set(n, "cosign", mapping())
		var rekor policy.Rekor
		var ct policy.CTLog
		switch {
		case a.Keyless != nil:
			k := a.Keyless
			rekor, ct = k.Rekor, k.CTLog
			kl := set(cs, "keyless", mapping())
			id := mapping()
			c.identity(id, "issuer", k.Issuer, k.IssuerRegExp, v.Type)
			c.identity(id, "subject", k.Subject, k.SubjectRegExp, v.Type)
			set(kl, "identities", seq(id))
			if k.Roots != "" {
				set(kl, "roots", str(k.Roots))
			}
			if len(k.AdditionalExtensions) > 0 {
				ext := mapping()
				for _, key := range sortedKeys(k.AdditionalExtensions) {
					set(ext, key, str(k.AdditionalExtensions[key]))
				}
				set(kl, "additionalExtensions", ext, c.comment("additionalExtensions: Kyverno's IVPOL (1.19) accepts this field but does not check it, so at admission any workflow trigger, ref or repository of the identity passes; narrow subjectRegExp where the subject can say the same"))
			}
			if a.SignatureAlgorithm != "" {
				c.note("signatureAlgorithm of a keyless attestor has no IVPOL field")
			}
		case a.Key != nil:
			rekor, ct = a.Key.Rekor, a.Key.CTLog
			kn := set(cs, "key", mapping())
			set(kn, "data", str(a.Key.PublicKey))
			if a.SignatureAlgorithm != "" {
				set(kn, "hashAlgorithm", str(a.SignatureAlgorithm))
			}
		case a.Certificate != nil:
			rekor, ct = a.Certificate.Rekor, a.Certificate.CTLog
			cn := set(cs, "certificate", mapping())
			if a.Certificate.Cert != "" {
				v := set(cn, "cert", mapping())
				set(v, "value", str(a.Certificate.Cert))
			}
			if a.Certificate.CertChain != "" {
				v := set(cn, "certChain", mapping())
				set(v, "value", str(a.Certificate.CertChain))
			}
		}
		if l := ctlog(rekor, ct); l != nil {
			set(cs, "ctlog", l)
		}
		repo := a.Repository
		if repo == "" {
			repo = v.Repository
		}
		if repo != "" {
			src := set(cs, "source", mapping())
			set(src, "repository", str(repo))
		}
		if len(a.Annotations) > 0 {
			an := mapping()
			for _, k := range sortedKeys(a.Annotations) {
				set(an, k, str(a.Annotations[k]))
			}
			set(cs, "annotations", an)
		}
		list.Content = append(list.Content, n)
	}
	return refs
}

// identity writes issuer or subject. A Kyverno ClusterPolicy reads
// subject and issuer as wildcards (type Cosign); IVPOL compares them
// exactly, so a wildcard becomes the anchored regular expression the gate
// already matches it with. With type SigstoreBundle Kyverno compared them
// exactly too, and the exact field is kept.
func (c *converter) identity(id *yaml.Node, field, exact, re, typ string) {
	switch {
	case re != "":
		set(id, field+"RegExp", str(re))
	case exact == "":
	case hasWildcard(exact) && typ == "SigstoreBundle":
		set(id, field, str(exact), c.comment(fmt.Sprintf("%s %q: with type: SigstoreBundle Kyverno compared it exactly, so this wildcard never matched, and IVPOL compares exactly too; if a wildcard was meant, write %sRegExp: %s", field, exact, field, wildcardRegexp(exact))))
	case hasWildcard(exact):
		set(id, field+"RegExp", str(wildcardRegexp(exact)), "# "+field+": "+exact)
	default:
		set(id, field, str(exact))
	}
}

func ctlog(r policy.Rekor, c policy.CTLog) *yaml.Node {
	n := mapping()
	if r.URL != "" {
		set(n, "url", str(r.URL))
	}
	if r.PubKey != "" {
		set(n, "rekorPubKey", str(r.PubKey))
	}
	if c.PubKey != "" {
		set(n, "ctLogPubKey", str(c.PubKey))
	}
	if c.TSACertChain != "" {
		set(n, "tsaCertChain", str(c.TSACertChain))
	}
	if r.IgnoreTlog {
		set(n, "insecureIgnoreTlog", boolean(true))
	}
	if c.IgnoreSCT {
		set(n, "insecureIgnoreSCT", boolean(true))
	}
	if len(n.Content) == 0 {
		return nil
	}
	return n
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Files converts policy files into one stream. Every file's problem is
// returned, joined; nothing is written for a set with an error.
func Files(paths ...string) (*Result, error) {
	all := &Result{}
	var errs []error
	for _, f := range paths {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		res, err := File(f, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all.Docs = append(all.Docs, res.Docs...)
		all.Notes = append(all.Notes, res.Notes...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return all, nil
}
