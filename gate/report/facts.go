package report

import (
	"regexp"
	"strings"

	"github.com/gitops-gate/gitops-gate/gate"
)

// ghCheck finds gh attestation verify's checks in a reason: "signer
// workflow: want X, got Y" (gate/verify).
var ghCheck = regexp.MustCompile(`(signer repository|signer workflow|source ref|source digest|runner environment): want (\S+), got (\S+)`)

// AttestationFact says in a few words what an attestation decided for an
// image: the condition that failed ("runDetails.builder.id want
// …/release.yml@refs/tags/v1, got …/dev.yml@refs/tags/v1"), the identity
// check that failed ("signer workflow want …, got …"), the attestation
// that is missing, or for a passing image who built it ("built by
// …/release.yml@refs/tags/v1"). It is "" when no attestation was involved.
// URIs are shortened for one-line surfaces (a commit status has 140
// characters); the full values are in the reason and the JSON report.
func AttestationFact(im gate.ImageVerdict) string {
	if im.Status.Passing() {
		for _, st := range im.Attestations {
			if st.Provenance != nil && st.Provenance.BuilderID != "" {
				return "built by " + shortURI(st.Provenance.BuilderID)
			}
		}
		return ""
	}
	if f := im.FailedCondition; f != nil {
		return f.Key + " want " + shortURI(f.Want) + ", got " + shortURI(f.Got)
	}
	if m := ghCheck.FindStringSubmatch(im.Reason); m != nil {
		return m[1] + " want " + shortURI(m[2]) + ", got " + shortURI(m[3])
	}
	if strings.HasPrefix(im.Attestor, "attestations[") {
		if _, rest, ok := strings.Cut(im.Reason, "no attestation of type "); ok {
			typ, _, _ := strings.Cut(rest, " ")
			return "no " + shortType(typ) + " attestation"
		}
	}
	return ""
}

// StatusFact is the attestation fact a one-line status adds: for a
// failing evaluation the first image (failed before errored) an
// attestation decided, as "app: fact"; for a passing one who built the
// first attested image. "" when attestations decided nothing.
func StatusFact(rep *gate.Report) string {
	if rep.Result == gate.StatusPass {
		for _, a := range rep.Apps {
			for _, im := range a.Images {
				if f := AttestationFact(im); f != "" {
					return f
				}
			}
		}
		return ""
	}
	for _, st := range []gate.Status{gate.StatusFail, gate.StatusError} {
		for _, a := range rep.Apps {
			for _, im := range a.Images {
				if im.Status != st {
					continue
				}
				if f := AttestationFact(im); f != "" {
					return a.Name + ": " + f
				}
			}
		}
	}
	return ""
}

// shortURI keeps what tells workflows apart: a workflow file and its ref
// ("…/release.yml@refs/tags/v1"), or a repository's owner/name.
func shortURI(s string) string {
	s = strings.Trim(s, `"`)
	base, ref, hasRef := strings.Cut(s, "@")
	if i := strings.Index(base, "/.github/workflows/"); i >= 0 {
		base = "…/" + base[i+len("/.github/workflows/"):]
	} else if _, rest, ok := strings.Cut(base, "://"); ok {
		if _, p, ok := strings.Cut(rest, "/"); ok {
			base = p
		}
	}
	if hasRef {
		return base + "@" + ref
	}
	return base
}

// shortType is a predicate type's last two path segments: provenance/v1.
func shortType(t string) string {
	parts := strings.Split(strings.TrimRight(t, "/"), "/")
	if len(parts) >= 2 {
		return parts[len(parts)-2] + "/" + parts[len(parts)-1]
	}
	return t
}
