package policy

import (
	"fmt"
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
			for _, set := range v.Attestors {
				for _, a := range set.Entries {
					where := fmt.Sprintf("rule %s verifyImages[%d] %s", r.Name, v.Index, a.Path)
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
						if k.SubjectRegExp != "" && !strings.HasPrefix(k.SubjectRegExp, "^") {
							warn(fmt.Sprintf("subjectRegExp %q is not anchored: it matches anywhere in the subject, e.g. inside another repository's URL; start it with ^ (Kyverno matches it unanchored too)", k.SubjectRegExp))
						}
						if k.IssuerRegExp != "" && !strings.HasPrefix(k.IssuerRegExp, "^") {
							warn(fmt.Sprintf("issuerRegExp %q is not anchored; start it with ^", k.IssuerRegExp))
						}
						if k.Subject == "*" || k.Issuer == "*" {
							warn("a bare * accepts any value")
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
