package web

import (
	"regexp"
	"strings"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/verify"
)

// part is a run of an identity as shown: Differs marks the run that is not
// what the other side has.
type part struct {
	Text    string
	Differs bool
}

// identityDiff is an expected identity and the identity found instead,
// each cut into parts, so that a reader sees at once which path segments
// differ (acme vs evil-fork in acme/*/.github/… vs evil-fork/migrate/…).
type identityDiff struct {
	Expected, Found []part
	// Regexp: the expected identity is a /regexp/, shown whole: which
	// part of a regular expression "differs" is not a question with one
	// answer.
	Regexp bool
	// Same: the found identity matches the expected one (the image failed
	// for another reason, such as its issuer).
	Same bool
}

// diffIdentity compares an expected identity (exact, with Kyverno's
// wildcards * and ?, or a /regexp/) with a found one, by path segment:
// the common prefix and suffix of segments that match (a wildcard segment
// matches the segment it stands for) are plain; what is between them is
// marked on both sides.
func diffIdentity(expected, found string) identityDiff {
	whole := func(s string, differs bool) []part {
		if s == "" {
			return nil
		}
		return []part{{Text: s, Differs: differs}}
	}
	if isRegexp(expected) {
		return identityDiff{Expected: whole(expected, false), Found: whole(found, false), Regexp: true}
	}
	if wildcardMatch(expected, found) {
		return identityDiff{Expected: whole(expected, false), Found: whole(found, false), Same: true}
	}
	e, f := strings.Split(expected, "/"), strings.Split(found, "/")
	n := min(len(e), len(f))
	pre := 0
	for pre < n && segmentMatch(e[pre], f[pre]) {
		pre++
	}
	suf := 0
	for suf < n-pre && segmentMatch(e[len(e)-1-suf], f[len(f)-1-suf]) {
		suf++
	}
	return identityDiff{Expected: cut(e, pre, suf), Found: cut(f, pre, suf)}
}

// cut joins segs into the parts before, between and after the common
// prefix (pre segments) and suffix (suf segments).
func cut(segs []string, pre, suf int) []part {
	mid := segs[pre : len(segs)-suf]
	if len(mid) == 0 {
		// Nothing of its own on this side: the other side has extra
		// segments. Shown plain.
		return []part{{Text: strings.Join(segs, "/")}}
	}
	var out []part
	if pre > 0 {
		out = append(out, part{Text: strings.Join(segs[:pre], "/") + "/"})
	}
	out = append(out, part{Text: strings.Join(mid, "/"), Differs: true})
	if suf > 0 {
		out = append(out, part{Text: "/" + strings.Join(segs[len(segs)-suf:], "/")})
	}
	return out
}

func isRegexp(s string) bool { return len(s) >= 2 && s[0] == '/' && s[len(s)-1] == '/' }

func segmentMatch(pattern, s string) bool {
	return pattern == s || (strings.ContainsAny(pattern, "*?") && wildcardMatch(pattern, s))
}

// wildcardMatch is Kyverno's wildcard match: * is any run of characters
// (slashes too), ? is one character, everything else is literal.
func wildcardMatch(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`)$`)
	re, err := regexp.Compile(b.String())
	return err == nil && re.MatchString(s)
}

// identities is what the evaluation page shows for an image that failed
// with a known expected identity and a known found signer: the subjects
// compared, and the issuers when they differ.
type identities struct {
	Subject *identityDiff
	Issuer  *identityDiff
}

// compareIdentities compares what a policy expects with who signed; nil
// when there is nothing to compare (no keyless expectation, or a
// key-signed image).
func compareIdentities(exp *gate.Expected, found *verify.Signer) *identities {
	if exp == nil || found == nil || found.PublicKey != "" || exp.Subject == "" || found.Subject == "" {
		return nil
	}
	out := &identities{}
	e, f := exp.Subject, found.Subject
	// The page drops https://github.com/ from workflow identities; only
	// when both sides have it, so that a different host stays visible.
	if strings.HasPrefix(e, githubPrefix) && strings.HasPrefix(f, githubPrefix) || isRegexp(e) {
		e, f = identity(e), identity(f)
	}
	d := diffIdentity(e, f)
	out.Subject = &d
	if exp.Issuer != "" && found.Issuer != "" {
		if d := diffIdentity(exp.Issuer, found.Issuer); !d.Same {
			out.Issuer = &d
		}
	}
	return out
}
