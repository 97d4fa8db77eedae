package policy

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Native builds a policy from the CLI's exact-match forms: every image must
// be signed by one of the identities ("ISSUER=SUBJECT_REGEXP"; the issuer is
// compared exactly and the regexp is anchored at both ends) or one of the
// public key files. It applies to every kind and namespace. The regexp is
// matched whole (WholeMatch), whatever alternations it holds.
func Native(identities, keyFiles []string) (*Set, error) {
	return NativeWith(identities, keyFiles, NativeOptions{})
}

// NativeOptions are cosign's insecure switches for the native form
// (cosign verify --insecure-ignore-tlog, --insecure-ignore-sct), for
// private Sigstore deployments without Rekor or a CT log.
type NativeOptions struct {
	IgnoreTlog bool
	IgnoreSCT  bool
	// GitHub adds gh attestation verify's rule: an attestation signed by
	// a GitHub Actions workflow that passes its checks.
	GitHub *GitHubRule
}

// NativeWith is Native with cosign's insecure switches.
func NativeWith(identities, keyFiles []string, o NativeOptions) (*Set, error) {
	if len(identities) == 0 && len(keyFiles) == 0 && o.GitHub == nil {
		return nil, errors.New("no identities or keys")
	}
	p := &Policy{Kind: "ClusterPolicy", Name: "cli", File: "command line"}
	r := &Rule{Policy: p, Name: "identities", match: []resourceFilter{{Kinds: []string{"*"}}}}
	v := &Verification{Rule: r, Type: "Cosign", ImageReferences: []string{"*"}, Required: true, VerifyDigest: false, MutateDigest: true}
	set := AttestorSet{Count: 1}
	for i, id := range identities {
		issuer, subject, ok := strings.Cut(id, "=")
		if !ok || issuer == "" || subject == "" {
			return nil, fmt.Errorf("--identity %q: want ISSUER=SUBJECT_REGEXP, e.g. https://token.actions.githubusercontent.com=https://github\\.com/acme/.+/\\.github/workflows/release\\.yml@refs/tags/v.* (the regexp matches the whole subject)", id)
		}
		subject = WholeMatch(subject)
		if _, err := regexp.Compile(subject); err != nil {
			return nil, fmt.Errorf("--identity %q: subject: %w", id, err)
		}
		set.Entries = append(set.Entries, &Attestor{
			Path: fmt.Sprintf("--identity[%d]", i),
			Keyless: &Keyless{IssuerRegExp: "^" + regexp.QuoteMeta(issuer) + "$", SubjectRegExp: subject,
				Rekor: Rekor{IgnoreTlog: o.IgnoreTlog}, CTLog: CTLog{IgnoreSCT: o.IgnoreSCT}},
		})
	}
	for i, f := range keyFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--key: %w", err)
		}
		pems, err := splitPEM(string(data), "PUBLIC KEY")
		if err != nil {
			return nil, fmt.Errorf("--key %s: %w", f, err)
		}
		for _, pk := range pems {
			set.Entries = append(set.Entries, &Attestor{Path: fmt.Sprintf("--key[%d] %s", i, f), Key: &Key{PublicKey: pk, Rekor: Rekor{IgnoreTlog: o.IgnoreTlog}}})
		}
	}
	if len(set.Entries) > 0 {
		v.Attestors = []AttestorSet{set}
		r.Verify = []*Verification{v}
	}
	if o.GitHub != nil {
		gv, err := githubVerification(r, len(r.Verify), o.GitHub)
		if err != nil {
			return nil, err
		}
		r.Verify = append(r.Verify, gv)
	}
	p.Rules = []*Rule{r}
	return &Set{Policies: []*Policy{p}}, nil
}

// WholeMatch makes a regular expression match whole strings only:
// ^(?:re)$. Adding ^ and $ around re is not enough: in ^a|b$ each anchor
// binds to one alternative, so "refs/heads/main|refs/tags/v.*" would
// accept "refs/heads/main-attacker". The group anchors every alternative.
func WholeMatch(re string) string { return "^(?:" + re + ")$" }

// Merge returns the union of sets: every rule of each applies.
func Merge(sets ...*Set) *Set {
	out := &Set{}
	for _, s := range sets {
		if s == nil {
			continue
		}
		out.Policies = append(out.Policies, s.Policies...)
		out.Ignored = append(out.Ignored, s.Ignored...)
		out.Exceptions = append(out.Exceptions, s.Exceptions...)
		out.Extractors = out.Extractors.Merge(s.Extractors)
	}
	return out
}
