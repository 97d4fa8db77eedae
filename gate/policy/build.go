package policy

import (
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	yaml "go.yaml.in/yaml/v3"
)

// extensionKeys are the additionalExtensions Kyverno accepts (cosign's
// certificate extension names and their raw OIDs).
var extensionKeys = map[string]string{
	"oidcIssuer":               "1.3.6.1.4.1.57264.1.1",
	"githubWorkflowTrigger":    "1.3.6.1.4.1.57264.1.2",
	"githubWorkflowSha":        "1.3.6.1.4.1.57264.1.3",
	"githubWorkflowName":       "1.3.6.1.4.1.57264.1.4",
	"githubWorkflowRepository": "1.3.6.1.4.1.57264.1.5",
	"githubWorkflowRef":        "1.3.6.1.4.1.57264.1.6",
}

// ExtensionName maps a raw OID key to its name; names map to themselves.
func ExtensionName(key string) (string, bool) {
	if _, ok := extensionKeys[key]; ok {
		return key, true
	}
	for n, oid := range extensionKeys {
		if oid == key {
			return n, true
		}
	}
	return "", false
}

func buildRule(p *Policy, file, field string, node *yaml.Node, rr rawRule, policyAudit bool) (*Rule, error) {
	r := &Rule{Policy: p, Name: rr.Name}
	fail := func(sub string, n *yaml.Node, err error) error {
		line := 0
		if n != nil {
			line = n.Line
		}
		return &LoadError{File: file, Line: line, Field: joinPath(field, sub), Err: err}
	}
	if r.Name == "" {
		return nil, fail("name", node, errors.New("a rule needs a name"))
	}
	var err error
	if r.match, err = filters(rr.Match); err != nil {
		return nil, fail("match", mapValue(node, "match"), err)
	}
	if len(r.match) == 0 {
		return nil, fail("match", node, errors.New("a rule needs match.any, match.all or match.resources with kinds"))
	}
	if r.exclude, err = filters(rr.Exclude); err != nil {
		return nil, fail("exclude", mapValue(node, "exclude"), err)
	}
	viNodes := mapValue(node, "verifyImages")
	for i, rv := range rr.VerifyImages {
		vn := viNodes.Content[i]
		sub := fmt.Sprintf("verifyImages[%d]", i)
		v, err := buildVerification(r, i, rv, policyAudit)
		if err != nil {
			var le *LoadError
			if errors.As(err, &le) {
				le.File = file
				le.Field = joinPath(joinPath(field, sub), le.Field)
				if le.Line == 0 {
					le.Line = vn.Line
				}
				return nil, le
			}
			return nil, fail(sub, vn, err)
		}
		r.Verify = append(r.Verify, v)
	}
	if err := rr.ImageExtractors.Validate(); err != nil {
		return nil, fail("imageExtractors", mapValue(node, "imageExtractors"), err)
	}
	p.extractors = p.extractors.Merge(rr.ImageExtractors)
	return r, nil
}

// filters turns match/exclude into resource filters. all: with several
// entries would need every filter to hold at once; one entry is the same as
// any: with that entry, more is refused.
func filters(m rawMatch) ([]resourceFilter, error) {
	var out []resourceFilter
	var errs []error
	add := func(where string, d rawResDesc) {
		f := resourceFilter{Kinds: d.Kinds, Namespaces: d.Namespaces}
		for i, op := range d.Operations {
			switch o := Operation(op); o {
			case OpCreate, OpUpdate, OpDelete, OpConnect:
				f.Operations = append(f.Operations, o)
			default:
				errs = append(errs, fmt.Errorf("%s.operations[%d]: %q: want CREATE, UPDATE, DELETE or CONNECT", where, i, op))
			}
		}
		out = append(out, f)
	}
	for i, f := range m.Any {
		add(fmt.Sprintf("any[%d].resources", i), f.Resources)
	}
	switch len(m.All) {
	case 0:
	case 1:
		add("all[0].resources", m.All[0].Resources)
	default:
		return nil, fmt.Errorf("all: with more than one entry is %w; use any:", ErrUnsupported)
	}
	if m.Resources != nil {
		add("resources", *m.Resources)
	}
	return out, errors.Join(errs...)
}

func buildVerification(r *Rule, index int, rv rawVerify, policyAudit bool) (*Verification, error) {
	v := &Verification{
		Rule: r, Index: index, Type: rv.Type,
		ImageReferences: rv.ImageReferences, SkipImageReferences: rv.SkipImageReferences,
		Repository: rv.Repository, CosignOCI11: rv.CosignOCI11,
		Required: boolOr(rv.Required, true), VerifyDigest: boolOr(rv.VerifyDigest, true), MutateDigest: boolOr(rv.MutateDigest, true),
		Audit: policyAudit,
	}
	switch rv.Type {
	case "", "Cosign":
		v.Type = "Cosign"
	case "SigstoreBundle":
	case "Notary":
		return nil, &LoadError{Field: "type", Err: fmt.Errorf("Notary signatures are %w: the gate verifies Sigstore/cosign signatures", ErrUnsupported)}
	default:
		return nil, &LoadError{Field: "type", Err: fmt.Errorf("%q: want Cosign or SigstoreBundle", rv.Type)}
	}
	switch rv.FailureAction {
	case "":
	case "Audit", "audit":
		v.Audit = true
	case "Enforce", "enforce":
		v.Audit = false
	default:
		return nil, &LoadError{Field: "failureAction", Err: fmt.Errorf("%q: want Enforce or Audit", rv.FailureAction)}
	}
	if v.Audit && rv.MutateDigest == nil {
		// Kyverno's own validation: an Audit rule cannot mutate. Its
		// default mutateDigest: true then fails; the user must say false.
		return nil, &LoadError{Field: "mutateDigest", Err: errors.New("mutateDigest must be set to false for 'Audit' failure action (as Kyverno requires)")}
	}
	if v.Audit && v.MutateDigest {
		return nil, &LoadError{Field: "mutateDigest", Err: errors.New("mutateDigest must be set to false for 'Audit' failure action (as Kyverno requires)")}
	}
	if len(v.ImageReferences) == 0 {
		return nil, &LoadError{Field: "imageReferences", Err: errors.New("at least one image pattern is required")}
	}
	if len(rv.Attestors) == 0 && len(rv.Attestations) == 0 {
		return nil, &LoadError{Field: "attestors", Err: errors.New("no attestors and no attestations: the rule would verify nothing")}
	}
	for i, ra := range rv.Attestors {
		set, err := buildAttestorSet(i, ra)
		if err != nil {
			return nil, err
		}
		v.Attestors = append(v.Attestors, set)
	}
	for i, ra := range rv.Attestations {
		a, err := buildAttestation(v, i, ra)
		if err != nil {
			return nil, err
		}
		v.Attestations = append(v.Attestations, a)
	}
	return v, nil
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

func buildAttestorSet(i int, ra rawAttSet) (AttestorSet, error) {
	var set AttestorSet
	path := fmt.Sprintf("attestors[%d]", i)
	for j, e := range ra.Entries {
		ep := fmt.Sprintf("%s.entries[%d]", path, j)
		as, err := buildAttestor(ep, e)
		if err != nil {
			return set, err
		}
		set.Entries = append(set.Entries, as...)
	}
	if len(set.Entries) == 0 {
		return set, &LoadError{Field: path + ".entries", Err: errors.New("an attestor set needs entries")}
	}
	if ra.Count != nil {
		if *ra.Count < 1 || *ra.Count > len(set.Entries) {
			return set, &LoadError{Field: path + ".count", Err: fmt.Errorf("count %d: want 1 to %d (the number of entries)", *ra.Count, len(set.Entries))}
		}
		set.Count = *ra.Count
	}
	return set, nil
}

// buildAttestor returns one attestor per public key (Kyverno expands a
// multi-PEM publicKeys into several entries, and count applies across them).
func buildAttestor(path string, e rawAttestor) ([]*Attestor, error) {
	n := 0
	for _, set := range []bool{e.Keyless != nil, e.Keys != nil, e.Certificates != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, &LoadError{Field: path, Err: errors.New("an entry needs exactly one of keyless, keys or certificates")}
	}
	switch e.SignatureAlgorithm {
	case "", "sha256", "sha384", "sha512":
	default:
		return nil, &LoadError{Field: path + ".signatureAlgorithm", Err: fmt.Errorf("%q: want sha256, sha384 or sha512", e.SignatureAlgorithm)}
	}
	base := Attestor{Path: path, Annotations: e.Annotations, Repository: e.Repository, SignatureAlgorithm: e.SignatureAlgorithm}
	switch {
	case e.Keyless != nil:
		k, err := buildKeyless(path+".keyless", e.Keyless)
		if err != nil {
			return nil, err
		}
		a := base
		a.Keyless = k
		return []*Attestor{&a}, nil
	case e.Keys != nil:
		kp := path + ".keys"
		if e.Keys.SignatureAlgorithm != "" && base.SignatureAlgorithm == "" {
			base.SignatureAlgorithm = e.Keys.SignatureAlgorithm
		}
		pk := strings.TrimSpace(e.Keys.PublicKeys)
		if pk == "" {
			return nil, &LoadError{Field: kp + ".publicKeys", Err: errors.New("inline PEM public keys are required (kms, secret and k8s:// references are not supported: the gate's trust comes from its own configuration)")}
		}
		pems, err := splitPEM(pk, "PUBLIC KEY")
		if err != nil {
			return nil, &LoadError{Field: kp + ".publicKeys", Err: err}
		}
		rekor, ct, err := checkLogs(kp, e.Keys.Rekor, e.Keys.CTLog)
		if err != nil {
			return nil, err
		}
		var out []*Attestor
		for _, p := range pems {
			if _, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(p)); err != nil {
				return nil, &LoadError{Field: kp + ".publicKeys", Err: fmt.Errorf("not a PEM public key: %w", err)}
			}
			a := base
			a.Key = &Key{PublicKey: p, Rekor: rekor, CTLog: ct}
			out = append(out, &a)
		}
		return out, nil
	default:
		cp := path + ".certificates"
		c := e.Certificates
		if strings.TrimSpace(c.Cert) == "" && strings.TrimSpace(c.CertChain) == "" {
			return nil, &LoadError{Field: cp, Err: errors.New("cert or certChain is required")}
		}
		for _, f := range []struct{ name, val string }{{"cert", c.Cert}, {"certChain", c.CertChain}} {
			if strings.TrimSpace(f.val) == "" {
				continue
			}
			if _, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(f.val)); err != nil {
				return nil, &LoadError{Field: cp + "." + f.name, Err: fmt.Errorf("not PEM certificates: %w", err)}
			}
		}
		rekor, ct, err := checkLogs(cp, c.Rekor, c.CTLog)
		if err != nil {
			return nil, err
		}
		a := base
		a.Certificate = &Certificate{Cert: c.Cert, CertChain: c.CertChain, Rekor: rekor, CTLog: ct}
		return []*Attestor{&a}, nil
	}
}

func buildKeyless(path string, k *rawKeyless) (*Keyless, error) {
	out := &Keyless{Issuer: k.Issuer, IssuerRegExp: k.IssuerRegExp, Subject: k.Subject, SubjectRegExp: k.SubjectRegExp, Roots: k.Roots}
	if k.Subject == "" && k.SubjectRegExp == "" && k.Issuer == "" && k.IssuerRegExp == "" {
		return nil, &LoadError{Field: path, Err: errors.New("neither subject nor issuer: Kyverno would accept a certificate of any signer; name the identity that must have signed (subject or subjectRegExp, and issuer)")}
	}
	for name, re := range map[string]string{"issuerRegExp": k.IssuerRegExp, "subjectRegExp": k.SubjectRegExp} {
		if re == "" {
			continue
		}
		if _, err := regexp.Compile(re); err != nil {
			return nil, &LoadError{Field: path + "." + name, Err: fmt.Errorf("invalid regular expression: %w", err)}
		}
	}
	if len(k.AdditionalExtensions) > 0 {
		out.AdditionalExtensions = map[string]string{}
		for key, val := range k.AdditionalExtensions {
			n, ok := ExtensionName(key)
			if !ok {
				return nil, &LoadError{Field: path + ".additionalExtensions." + key, Err: fmt.Errorf("invalid certificate extension %s (want githubWorkflowTrigger, githubWorkflowSha, githubWorkflowName, githubWorkflowRepository, githubWorkflowRef, oidcIssuer or their OIDs)", key)}
			}
			out.AdditionalExtensions[n] = val
		}
	}
	if strings.TrimSpace(k.Roots) != "" {
		if _, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(k.Roots)); err != nil {
			return nil, &LoadError{Field: path + ".roots", Err: fmt.Errorf("not PEM certificates: %w", err)}
		}
	}
	var err error
	out.Rekor, out.CTLog, err = checkLogs(path, k.Rekor, k.CTLog)
	return out, err
}

func checkLogs(path string, r *rawRekor, c *rawCTLog) (Rekor, CTLog, error) {
	var rekor Rekor
	var ct CTLog
	if r != nil {
		rekor = Rekor{URL: r.URL, PubKey: r.PubKey, IgnoreTlog: r.IgnoreTlog}
		if strings.TrimSpace(r.PubKey) != "" {
			if _, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(r.PubKey)); err != nil {
				return rekor, ct, &LoadError{Field: path + ".rekor.pubkey", Err: fmt.Errorf("not a PEM public key: %w", err)}
			}
		}
	}
	if c != nil {
		ct = CTLog{IgnoreSCT: c.IgnoreSCT, PubKey: c.PubKey, TSACertChain: c.TSACertChain}
		if strings.TrimSpace(c.PubKey) != "" {
			if _, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(c.PubKey)); err != nil {
				return rekor, ct, &LoadError{Field: path + ".ctlog.pubkey", Err: fmt.Errorf("not a PEM public key: %w", err)}
			}
		}
		if strings.TrimSpace(c.TSACertChain) != "" {
			if _, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(c.TSACertChain)); err != nil {
				return rekor, ct, &LoadError{Field: path + ".ctlog.tsaCertChain", Err: fmt.Errorf("not PEM certificates: %w", err)}
			}
		}
	}
	return rekor, ct, nil
}

// splitPEM splits concatenated PEM blocks of one type.
func splitPEM(s, typ string) ([]string, error) {
	var out []string
	rest := []byte(s)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != typ {
			return nil, fmt.Errorf("PEM block %q: want %q", b.Type, typ)
		}
		out = append(out, string(pem.EncodeToMemory(b)))
	}
	if len(out) == 0 || strings.TrimSpace(string(rest)) != "" {
		return nil, fmt.Errorf("not PEM-encoded %s blocks", typ)
	}
	return out, nil
}
