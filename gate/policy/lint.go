package policy

import (
	"fmt"
	"regexp/syntax"
	"strings"
)

// Warning is a legal policy construct that is risky; Kyverno accepts it too.
type Warning struct {
	File    string
	Where   string
	Message string
}

func (w Warning) String() string { return fmt.Sprintf("%s: %s: %s", w.File, w.Where, w.Message) }

// Lint returns the warnings of a loaded policy.
func Lint(p *Policy) []Warning {
	var out []Warning
	for _, r := range p.Rules {
		for _, v := range r.Verify {
			sets := append([]AttestorSet{}, v.Attestors...)
			prefixes := make([]string, len(sets))
			for _, at := range v.Attestations {
				for range at.Attestors {
					prefixes = append(prefixes, fmt.Sprintf("attestations[%d].", at.Index))
				}
				sets = append(sets, at.Attestors...)
			}
			for si, set := range sets {
				for _, a := range set.Entries {
					where := fmt.Sprintf("rule %s verifyImages[%d] %s%s", r.Name, v.Index, prefixes[si], a.Path)
					warn := func(msg string) { out = append(out, Warning{File: p.File, Where: where, Message: msg}) }
					var rekor Rekor
					var ct CTLog
					switch {
					case a.Keyless != nil:
						k := a.Keyless
						rekor, ct = k.Rekor, k.CTLog
						if k.Subject == "" && k.SubjectRegExp == "" && k.AdditionalExtensions["githubWorkflowRepository"] == "" {
							warn("no subject: any identity of the issuer may sign (for GitHub Actions, any workflow of any repository); set subject or subjectRegExp")
						}
						if k.SubjectRegExp != "" && !AnchoredAtStart(k.SubjectRegExp) {
							warn(fmt.Sprintf("subjectRegExp %q is not anchored in every alternative: it matches anywhere in the subject, e.g. inside another repository's URL; write ^(?:…) (Kyverno matches it unanchored too)", k.SubjectRegExp))
						}
						if k.IssuerRegExp != "" && !AnchoredAtStart(k.IssuerRegExp) {
							warn(fmt.Sprintf("issuerRegExp %q is not anchored in every alternative; write ^(?:…)", k.IssuerRegExp))
						}
						if k.Subject == "*" || k.Issuer == "*" {
							warn("a bare * accepts any value")
						}
						if v.Type == "SigstoreBundle" && (strings.ContainsAny(k.Subject, "*?") || strings.ContainsAny(k.Issuer, "*?")) {
							warn("type: SigstoreBundle: Kyverno compares subject and issuer exactly there (sigstore-go certificate identity), so a wildcard never matches and every image is denied; use subjectRegExp/issuerRegExp")
						}
					case a.Key != nil:
						rekor, ct = a.Key.Rekor, a.Key.CTLog
					case a.Certificate != nil:
						rekor, ct = a.Certificate.Rekor, a.Certificate.CTLog
					}
					if rekor.IgnoreTlog && a.Keyless != nil {
						warn("rekor.ignoreTlog: without the transparency log a Fulcio certificate (valid 10 minutes) has no trusted signing time, so verification fails once it expires")
					}
					if ct.IgnoreSCT {
						warn("ctlog.ignoreSCT: the certificate's transparency is not checked")
					}
				}
			}
			if v.Audit {
				out = append(out, Warning{File: p.File, Where: fmt.Sprintf("rule %s verifyImages[%d]", r.Name, v.Index), Message: "Audit: failures are reported, not enforced"})
			}
		}
	}
	return out
}

// AnchoredAtStart reports whether every string re matches must match from
// the start: each alternative begins with ^ (or \A). "^a|b" is not: its
// second alternative matches anywhere.
func AnchoredAtStart(re string) bool {
	t, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return false
	}
	return startsAnchored(t.Simplify())
}

func startsAnchored(t *syntax.Regexp) bool {
	switch t.Op {
	case syntax.OpBeginText:
		return true
	case syntax.OpConcat, syntax.OpCapture:
		return len(t.Sub) > 0 && startsAnchored(t.Sub[0])
	case syntax.OpAlternate:
		for _, s := range t.Sub {
			if !startsAnchored(s) {
				return false
			}
		}
		return len(t.Sub) > 0
	}
	return false
}
