package gate_test

import (
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/verify"
)

// inlineRootsPolicy pins the Sigstore instance in the policy itself
// (keyless roots, rekor.pubkey, ctlog.pubkey), as private deployments do.
func inlineRootsPolicy(t *testing.T, s *gatetest.Sigstore, typ string) string {
	t.Helper()
	ct, err := cryptoutils.MarshalPublicKeyToPEM(s.CTLogPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	block := func(p []byte) string { return "|\n" + indent(string(p), "                ") }
	doc := strings.Replace(acmePolicy, "    - imageReferences:", "    - type: "+typ+"\n      imageReferences:", 1)
	doc = strings.Replace(doc, `subject: "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*"`,
		`subjectRegExp: '^https://github\.com/acme/[^/]+/\.github/workflows/release\.yml@refs/tags/'`, 1)
	return strings.Replace(doc, "            additionalExtensions:", "            roots: "+block(s.ChainPEM())+
		"\n            rekor:\n              pubkey: "+indent(block(s.Rekor.PublicKeyPEM()), "  ")+
		"\n            ctlog:\n              pubkey: "+indent(block(ct), "  ")+
		"\n            additionalExtensions:", 1)
}

// The gap: a bundle under a policy with inline roots always failed
// ("bundles are verified against the gate's trust root"). Bundles are now
// verified against the policy's own PEMs, with no trust root at all; a
// bundle from another Sigstore instance still fails.
func TestInlineRootsForBundles(t *testing.T) {
	e := newEnv(t)
	pol := e.policy(inlineRootsPolicy(t, e.w.Sigstore, "SigstoreBundle"), true)
	noTrust := func(o *gate.Options, vo *verify.Options) { vo.Trusted, vo.TrustErr = nil, verify.ErrNoTrustRoot }
	signed := e.push("acme/inline:v1")
	e.signBundle(signed, gatetest.SignOptions{})
	expect(t, e.judge(e.w.Ref("acme/inline:v1"), pol, noTrust), gate.StatusPass, "")

	other, err := gatetest.New()
	if err != nil {
		t.Fatal(err)
	}
	foreign := e.push("acme/foreign:v1")
	if err := other.SignImageNewBundle(e.ctx, foreign, gatetest.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	expect(t, e.judge(e.w.Ref("acme/foreign:v1"), pol, noTrust), gate.StatusFail, "")

	// Attestations in bundles use the same material.
	head, tail, _ := strings.Cut(inlineRootsPolicy(t, e.w.Sigstore, "SigstoreBundle"), "      attestors:\n")
	att := e.policy(head+"      attestations:\n      - type: https://slsa.dev/provenance/v1\n        attestors:\n"+indent(tail, "  ")+"\n", true)
	e.attest(signed, gatetest.AttestOptions{PredicateType: gatetest.PredicateSLSAv1, Predicate: provenance(trustedBuilder), Format: gatetest.AttestBundle})
	expect(t, e.judge(e.w.Ref("acme/inline:v1"), att, noTrust), gate.StatusPass, "")
}

// --insecure-ignore-tlog / --insecure-ignore-sct on the native form: a
// private Sigstore without Rekor can use --identity; without the switch
// the same signature fails.
func TestNativeInsecureIgnoreTlog(t *testing.T) {
	e := newEnv(t)
	id := "https://token.actions.githubusercontent.com=https://github\\.com/acme/.+/\\.github/workflows/release\\.yml@refs/tags/v.*"
	strict, err := policy.NativeWith([]string{id}, nil, policy.NativeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lax, err := policy.NativeWith([]string{id}, nil, policy.NativeOptions{IgnoreTlog: true, IgnoreSCT: true})
	if err != nil {
		t.Fatal(err)
	}
	d := e.push("acme/private:v1")
	e.sign(d, gatetest.SignOptions{NoTlog: true, TSA: true})
	expect(t, e.judge(e.w.Ref("acme/private:v1"), strict), gate.StatusFail, "")
	expect(t, e.judge(e.w.Ref("acme/private:v1"), lax), gate.StatusPass, "")
	if k := lax.Policies[0].Rules[0].Verify[0].Attestors[0].Entries[0].Keyless; !k.Rekor.IgnoreTlog || !k.CTLog.IgnoreSCT {
		t.Errorf("switches not applied: %+v", k)
	}
}
