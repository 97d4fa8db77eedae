package web

import (
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/verify"
)

// show writes parts with the differing ones in [brackets].
func show(ps []part) string {
	var b strings.Builder
	for _, p := range ps {
		if p.Differs {
			b.WriteString("[" + p.Text + "]")
		} else {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

func TestDiffIdentity(t *testing.T) {
	for _, c := range []struct {
		name, expected, found string
		wantE, wantF          string
		regexp, same          bool
	}{
		{"another owner, wildcard repository", "acme/*/.github/workflows/release.yml@refs/tags/*", "evil-fork/migrate/.github/workflows/release.yml@refs/tags/v2.1.0",
			"[acme]/*/.github/workflows/release.yml@refs/tags/*", "[evil-fork]/migrate/.github/workflows/release.yml@refs/tags/v2.1.0", false, false},
		{"exact identities, another owner", "acme/migrate/.github/workflows/release.yml@refs/tags/v1", "evil-fork/migrate/.github/workflows/release.yml@refs/tags/v1",
			"[acme]/migrate/.github/workflows/release.yml@refs/tags/v1", "[evil-fork]/migrate/.github/workflows/release.yml@refs/tags/v1", false, false},
		{"another workflow", "acme/api/.github/workflows/release.yml@refs/tags/*", "acme/api/.github/workflows/debug.yml@refs/heads/main",
			"acme/api/.github/workflows/[release.yml@refs/tags]/*", "acme/api/.github/workflows/[debug.yml@refs/heads]/main", false, false},
		{"a segment in the middle", "acme/api/.github/workflows/release.yml", "acme/api/.github/actions/release.yml",
			"acme/api/.github/[workflows]/release.yml", "acme/api/.github/[actions]/release.yml", false, false},
		{"extra segments found", "acme/api/release.yml", "acme/api/x/y/release.yml",
			"acme/api/release.yml", "acme/api/[x/y]/release.yml", false, false},
		{"nothing in common", "a@b.c", "mallory@example.com", "[a@b.c]", "[mallory@example.com]", false, false},
		{"a regexp is shown whole", "/^acme/.*$/", "evil-fork/migrate", "/^acme/.*$/", "evil-fork/migrate", true, false},
		{"the identity matches", "acme/*", "acme/api/.github/workflows/release.yml@refs/tags/v1", "acme/*", "acme/api/.github/workflows/release.yml@refs/tags/v1", false, true},
		{"? is one character", "acme/api-?", "acme/api-10", "acme/[api-?]", "acme/[api-10]", false, false},
		{"markup stays text", "acme/<b>", "acme/<i>", "acme/[<b>]", "acme/[<i>]", false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := diffIdentity(c.expected, c.found)
			if show(d.Expected) != c.wantE || show(d.Found) != c.wantF || d.Regexp != c.regexp || d.Same != c.same {
				t.Errorf("diff(%q, %q) = %q, %q (regexp %v, same %v); want %q, %q", c.expected, c.found, show(d.Expected), show(d.Found), d.Regexp, d.Same, c.wantE, c.wantF)
			}
			// The parts are the identities, nothing lost or added.
			if strip(show(d.Expected)) != c.expected || strip(show(d.Found)) != c.found {
				t.Errorf("parts do not rebuild the identities: %q, %q", show(d.Expected), show(d.Found))
			}
		})
	}
}

func strip(s string) string { return strings.NewReplacer("[", "", "]", "").Replace(s) }

func TestCompareIdentities(t *testing.T) {
	gh := "https://token.actions.githubusercontent.com"
	exp := &gate.Expected{Issuer: gh, Subject: "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*"}
	c := compareIdentities(exp, &verify.Signer{Issuer: gh, Subject: "https://github.com/evil-fork/migrate/.github/workflows/release.yml@refs/tags/v2.1.0"})
	if c == nil || show(c.Subject.Found) != "[evil-fork]/migrate/.github/workflows/release.yml@refs/tags/v2.1.0" || c.Issuer != nil {
		t.Fatalf("%+v", c)
	}
	// Another host keeps its scheme and host, marked.
	c = compareIdentities(exp, &verify.Signer{Issuer: gh, Subject: "https://gitlab.com/acme/api/.github/workflows/release.yml@refs/tags/v1"})
	if got := show(c.Subject.Found); got != "https://[gitlab.com]/acme/api/.github/workflows/release.yml@refs/tags/v1" {
		t.Errorf("another host: %q", got)
	}
	// The same subject from another issuer: the issuers are compared.
	c = compareIdentities(exp, &verify.Signer{Issuer: "https://accounts.example.com", Subject: "https://github.com/acme/api/.github/workflows/release.yml@refs/tags/v1"})
	if !c.Subject.Same || c.Issuer == nil || show(c.Issuer.Found) != "https://[accounts.example.com]" {
		t.Errorf("another issuer: %+v", c)
	}
	// Keys and unknown signers: nothing to compare.
	if compareIdentities(exp, &verify.Signer{PublicKey: "sha256:ab"}) != nil || compareIdentities(exp, nil) != nil || compareIdentities(&gate.Expected{Other: "key"}, &verify.Signer{Subject: "x"}) != nil {
		t.Error("compared what cannot be compared")
	}
}
