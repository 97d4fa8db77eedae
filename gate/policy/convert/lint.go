package convert

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/gitops-gate/gitops-gate/gate/policy"
)

// Finding is one IVPOL lint finding, at a file and line.
type Finding struct {
	File    string
	Line    int
	Field   string // e.g. spec.validations[1].expression
	Message string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", f.File, f.Line, f.Field, f.Message)
}

// IVPOLKinds are the kinds Lint reads.
var IVPOLKinds = []string{"ImageValidatingPolicy", "NamespacedImageValidatingPolicy"}

// Lint reads the ImageValidatingPolicies of a file as plain YAML (other
// documents are left alone) and reports the mistakes Kyverno's own
// documentation makes, which Kyverno accepts or only refuses at
// admission:
//
//   - image instead of ref in a matchImageReferences expression (the
//     variable is ref: the documented "image.registry == …" never compiles);
//   - a * or ? in an exact keyless subject or issuer (IVPOL compares them
//     exactly: the wildcard matches only itself, and every image is denied);
//   - extractPayload(…).builder.id and other predicate fields read without
//     .predicate (for an in-toto attestation extractPayload returns the
//     whole statement);
//   - extractPayload on an attestation no earlier validation verified
//     (Kyverno refuses to read a payload it did not verify);
//   - attestors.my-name or attestations.my-name (a subtraction in CEL);
//   - an attestor that is not in a list (verifyImageSignatures takes one);
//   - imageverify.verify(…), a function that does not exist;
//   - an unanchored subjectRegExp or issuerRegExp;
//   - Deny together with Warn in validationActions (refused by the CRD);
//   - policies.kyverno.io/v1alpha1 (deprecated from Kyverno 1.17).
func Lint(file string, data []byte) ([]Finding, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []Finding
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("%s: invalid YAML: %w", file, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		var docs []*yaml.Node
		if items := lookup(root, "items"); items != nil && items.Kind == yaml.SequenceNode {
			docs = items.Content
		} else {
			docs = []*yaml.Node{root}
		}
		for _, d := range docs {
			k := lookup(d, "kind")
			if k == nil || (k.Value != IVPOLKinds[0] && k.Value != IVPOLKinds[1]) {
				continue
			}
			l := &linter{file: file}
			l.policy(d)
			out = append(out, l.out...)
		}
	}
}

type linter struct {
	file string
	out  []Finding
}

func (l *linter) add(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	l.out = append(l.out, Finding{File: l.file, Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

func items(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

func value(n *yaml.Node, key string) string {
	if v := lookup(n, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

var (
	// imageIdent is the identifier image, not a field (.image), not a call
	// (image(ref) is the image library's deprecated parse function) and
	// not part of a longer name.
	imageIdent = regexp.MustCompile(`(^|[^.\w])image\b\s*([^\s(]|$)`)
	// stringLit matches CEL string literals, to look at code only.
	stringLit = regexp.MustCompile(`(?s)[rR]?'''.*?'''|[rR]?""".*?"""|[rR]?'(?:[^'\\\n]|\\.)*'|[rR]?"(?:[^"\\\n]|\\.)*"`)
	// payloadField is extractPayload(image, attestations.x).field.
	payloadField = regexp.MustCompile(`extractPayload\s*\(\s*[^,()]+,\s*(attestations(?:\.[A-Za-z_]\w*|\[\s*["'][^"']+["']\s*\]))\s*\)\s*\.\s*([A-Za-z_]\w*)`)
	// verifyAtt is verifyAttestationSignatures(image, attestations.x, ...).
	verifyAtt = regexp.MustCompile(`verifyAttestationSignatures\s*\(\s*[^,()]+,\s*(attestations(?:\.[A-Za-z_]\w*|\[\s*["'][^"']+["']\s*\]))`)
	// dashedRef is attestors.my-name or attestations.my-name.
	dashedRef = regexp.MustCompile(`\b(attestors|attestations)\.([A-Za-z_]\w*)-[A-Za-z0-9_-]+`)
	// oldVerify is the function of an early IVPOL design that the docs
	// still show (kyverno/website#2094).
	oldVerify = regexp.MustCompile(`\bimageverify\s*\.\s*verify\s*\(|(^|[^.\w])verify\s*\(`)
	// bareAttestor is an attestor passed without the list brackets.
	bareAttestor = regexp.MustCompile(`verify(?:ImageSignatures\s*\(\s*[^,()]+|AttestationSignatures\s*\(\s*[^,()]+,\s*[^,()]+),\s*attestors\b`)
)

// statementFields are the fields of an in-toto statement itself.
var statementFields = map[string]bool{"predicate": true, "predicateType": true, "subject": true, "_type": true, "type": true}

func code(expr string) string { return stringLit.ReplaceAllString(expr, "''") }

func attName(ref string) string {
	if n, ok := strings.CutPrefix(ref, "attestations."); ok {
		return n
	}
	return strings.Trim(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(ref, "attestations["), "]")), `"' `)
}

func (l *linter) policy(d *yaml.Node) {
	if av := lookup(d, "apiVersion"); av != nil && av.Value == "policies.kyverno.io/v1alpha1" {
		l.add(av, "apiVersion", "policies.kyverno.io/v1alpha1 is deprecated from Kyverno 1.17: write policies.kyverno.io/v1 (served from 1.17)")
	}
	spec := lookup(d, "spec")
	for i, m := range items(lookup(spec, "matchImageReferences")) {
		e := lookup(m, "expression")
		if e == nil {
			continue
		}
		if imageIdent.MatchString(code(e.Value)) {
			l.add(e, fmt.Sprintf("spec.matchImageReferences[%d].expression", i), "the variable is ref, not image (Kyverno's matchImageReferences environment declares only ref; %q does not compile)", e.Value)
		}
	}
	if acts := items(lookup(spec, "validationActions")); len(acts) > 0 {
		has := map[string]bool{}
		for _, a := range acts {
			has[a.Value] = true
		}
		if has["Deny"] && has["Warn"] {
			l.add(lookup(spec, "validationActions"), "spec.validationActions", "Deny and Warn may not be used together (the CRD refuses it)")
		}
	}
	referrers := map[string]bool{}
	for _, a := range items(lookup(spec, "attestations")) {
		if lookup(a, "referrer") != nil {
			referrers[value(a, "name")] = true
		}
	}
	for i, a := range items(lookup(spec, "attestors")) {
		ids := items(lookupPath(a, "cosign", "keyless", "identities"))
		for j, id := range ids {
			where := fmt.Sprintf("spec.attestors[%d].cosign.keyless.identities[%d]", i, j)
			for _, f := range []string{"subject", "issuer"} {
				if n := lookup(id, f); n != nil && hasWildcard(n.Value) {
					l.add(n, where+"."+f, "%q: IVPOL compares %s exactly, so * and ? match only themselves and every image is denied; write %sRegExp: %s", n.Value, f, f, wildcardRegexp(n.Value))
				}
			}
			for _, f := range []string{"subjectRegExp", "issuerRegExp"} {
				if n := lookup(id, f); n != nil && n.Value != "" && !policy.AnchoredAtStart(n.Value) {
					l.add(n, where+"."+f, "%q is not anchored in every alternative: it matches anywhere in the %s, e.g. inside another repository's URL; write ^(?:…)", n.Value, strings.TrimSuffix(f, "RegExp"))
				}
			}
		}
	}
	verified := map[string]bool{}
	for i, v := range items(lookup(spec, "validations")) {
		e := lookup(v, "expression")
		if e == nil {
			continue
		}
		where := fmt.Sprintf("spec.validations[%d].expression", i)
		c := code(e.Value)
		// A verification earlier in the same expression counts too: CEL
		// evaluates && and || from the left.
		here := map[string]int{}
		for _, m := range verifyAtt.FindAllStringSubmatchIndex(c, -1) {
			name := attName(c[m[2]:m[3]])
			if _, seen := here[name]; !seen {
				here[name] = m[0]
			}
		}
		for _, m := range payloadField.FindAllStringSubmatchIndex(c, -1) {
			name := attName(c[m[2]:m[3]])
			at, inExpr := here[name]
			if !verified[name] && !(inExpr && at < m[0]) {
				l.add(e, where, "extractPayload(…, %s) before any earlier validation verified it with verifyAttestationSignatures: Kyverno refuses to read an unverified payload (\"payload cannot be fetch before verifying\")", c[m[2]:m[3]])
			}
			if field := c[m[4]:m[5]]; !referrers[name] && !statementFields[field] {
				l.add(e, where, "extractPayload(…).%s: for an in-toto attestation extractPayload returns the whole statement; the predicate's fields are under .predicate (write extractPayload(…).predicate.%s)", field, field)
			}
		}
		for _, m := range verifyAtt.FindAllStringSubmatch(c, -1) {
			verified[attName(m[1])] = true
		}
		for _, m := range dashedRef.FindAllStringSubmatch(c, -1) {
			l.add(e, where, "%s: CEL reads this as a subtraction; write %s[%q]", m[0], m[1], strings.TrimPrefix(m[0], m[1]+"."))
		}
		if oldVerify.MatchString(c) {
			l.add(e, where, "imageverify.verify and verify() are not Kyverno functions (its docs show them, kyverno/website#2094): write images.containers.all(image, verifyImageSignatures(image, [attestors.name]) > 0)")
		}
		if bareAttestor.MatchString(c) {
			l.add(e, where, "the attestors argument is a list: write [attestors.name]")
		}
	}
}

// LintPaths lints the YAML files of paths, read as the policy loader
// reads them (policy.Files: directories recursively, ignore patterns as
// --policy-ignore).
func LintPaths(ignore []string, paths ...string) ([]Finding, error) {
	files, _, err := policy.Files(policy.LoadOptions{Ignore: ignore}, paths...)
	if err != nil {
		return nil, err
	}
	var out []Finding
	var errs []error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		found, err := Lint(f, data)
		out = append(out, found...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}
