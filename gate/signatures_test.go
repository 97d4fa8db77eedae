package gate_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/verify"
)

func withVerification(fields string) string {
	return strings.Replace(acmePolicy, "    - imageReferences:", "    - "+fields+"\n      imageReferences:", 1)
}

// bundlePolicy is acmePolicy read as Sigstore bundles. Its subject is a
// regexp: Kyverno's SigstoreBundle path compares subject exactly.
func bundlePolicy(doc string) string {
	doc = strings.Replace(doc, "    - imageReferences:", "    - type: SigstoreBundle\n      imageReferences:", 1)
	return strings.Replace(doc, `subject: "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*"`,
		`subjectRegExp: '^https://github\.com/acme/[^/]+/\.github/workflows/release\.yml@refs/tags/'`, 1)
}

func (e *env) signBundle(d name.Digest, o gatetest.SignOptions) {
	e.t.Helper()
	if err := e.w.Sigstore.SignImageNewBundle(e.ctx, d, o); err != nil {
		e.t.Fatal(err)
	}
}

// The attack: a valid signature in a format Kyverno with the policy does
// not read used to pass, while admission found "no signatures". Kyverno's
// type Cosign reads the .sig tag with cosign's VerifyImageSignatures, and
// OCI 1.1 referrer signatures only with cosignOCI11 (kyverno/kyverno
// pkg/image/verifiers/cpol/cosign/cosign.go buildCosignOptions sets
// ExperimentalOCI11 from it); type SigstoreBundle reads only bundles
// (sigstore.go fetchBundles). The verdict now fails with the fix.
func TestSignatureFormatsKyvernoReads(t *testing.T) {
	e := newEnv(t)
	cosignPol := e.policy(acmePolicy, true)
	bundlePol := e.policy(bundlePolicy(acmePolicy), true)
	oci11Pol := e.policy(withVerification("cosignOCI11: true"), true)
	bundleWildcard := e.policy(withVerification("type: SigstoreBundle"), true)

	bundled := e.push("acme/bundled:v1")
	e.signBundle(bundled, gatetest.SignOptions{})
	referrer := e.push("acme/referrer:v1")
	e.sign(referrer, gatetest.SignOptions{OCI11: true})
	classic := e.push("acme/classic:v1")
	e.sign(classic, gatetest.SignOptions{})

	for _, c := range []struct {
		name, image string
		pols        string
		want        gate.Status
		reason      string
	}{
		{"bundle, type Cosign", "acme/bundled:v1", "cosign", gate.StatusFail, "signed as a Sigstore bundle; Kyverno with type: Cosign will not find it: set type: SigstoreBundle"},
		{"bundle, type Cosign with cosignOCI11", "acme/bundled:v1", "oci11", gate.StatusFail, "set type: SigstoreBundle"},
		{"bundle, type SigstoreBundle", "acme/bundled:v1", "bundle", gate.StatusPass, ""},
		{"referrer, type Cosign", "acme/referrer:v1", "cosign", gate.StatusFail, "Kyverno with type: Cosign reads referrers only with cosignOCI11: set cosignOCI11: true"},
		{"referrer, cosignOCI11", "acme/referrer:v1", "oci11", gate.StatusPass, ""},
		{"referrer, type SigstoreBundle", "acme/referrer:v1", "bundle", gate.StatusFail, "set type: Cosign and cosignOCI11: true"},
		{"classic, type SigstoreBundle", "acme/classic:v1", "bundle", gate.StatusFail, "Kyverno with type: SigstoreBundle will not find it: set type: Cosign"},
		{"classic, type Cosign", "acme/classic:v1", "cosign", gate.StatusPass, ""},
		{"classic, cosignOCI11", "acme/classic:v1", "oci11", gate.StatusPass, ""},
		// Kyverno's SigstoreBundle path compares subject and issuer exactly
		// (pkg/image/verifiers/cpol/cosign/sigstore.go buildPolicy passes
		// them to sigstore-go's NewShortCertificateIdentity): a wildcard
		// subject admits nothing there.
		{"bundle, type SigstoreBundle, wildcard subject", "acme/bundled:v1", "bundle-wildcard", gate.StatusFail,
			"Kyverno with type: SigstoreBundle compares subject exactly: \"https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0\" is not \"https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*\" (a wildcard never matches there: write subjectRegExp)"},
	} {
		pols := map[string]*policy.Set{"cosign": cosignPol, "bundle": bundlePol, "oci11": oci11Pol, "bundle-wildcard": bundleWildcard}[c.pols]
		t.Run(c.name, func(t *testing.T) {
			expect(t, e.judge(e.w.Ref(c.image), pols), c.want, c.reason)
		})
	}
}

// The attack: an attestor's annotations were checked only on classic
// signatures, so a Sigstore bundle (which carries no cosign annotations)
// satisfied a rule that requires them. Every format now answers for them;
// Kyverno checks them on the classic payload (kyverno/kyverno
// pkg/image/verifiers/cpol/cosign/cosign.go checkAnnotations) and its
// SigstoreBundle path has no payload to check them on.
func TestAnnotationsOnEveryFormat(t *testing.T) {
	e := newEnv(t)
	const ann = "        - annotations: {env: prod}\n          keyless:"
	annotated := strings.Replace(acmePolicy, "        - keyless:", ann, 1)
	bundlePol := e.policy(bundlePolicy(annotated), true)
	cosignPol := e.policy(annotated, true)
	oci11Pol := e.policy(strings.Replace(annotated, "    - imageReferences:", "    - cosignOCI11: true\n      imageReferences:", 1), true)

	bundled := e.push("acme/bundled:v1")
	e.signBundle(bundled, gatetest.SignOptions{})
	expect(t, e.judge(e.w.Ref("acme/bundled:v1"), bundlePol), gate.StatusFail, `a Sigstore bundle carries no cosign annotations, and the attestor requires env="prod"`)
	expect(t, e.judge(e.w.Ref("acme/bundled:v1"), cosignPol), gate.StatusFail, "")

	for _, c := range []struct {
		name  string
		o     gatetest.SignOptions
		pols  *policy.Set
		want  gate.Status
		match string
	}{
		{"classic env=prod", gatetest.SignOptions{Annotations: map[string]any{"env": "prod"}}, cosignPol, gate.StatusPass, ""},
		{"classic env=dev", gatetest.SignOptions{Annotations: map[string]any{"env": "dev"}}, cosignPol, gate.StatusFail, "env"},
		{"classic without annotations", gatetest.SignOptions{}, cosignPol, gate.StatusFail, "env"},
		{"referrer env=prod", gatetest.SignOptions{OCI11: true, Annotations: map[string]any{"env": "prod"}}, oci11Pol, gate.StatusPass, ""},
		{"referrer without annotations", gatetest.SignOptions{OCI11: true}, oci11Pol, gate.StatusFail, "env"},
	} {
		t.Run(c.name, func(t *testing.T) {
			repo := "acme/" + strings.ReplaceAll(strings.ReplaceAll(c.name, " ", "-"), "=", "-") + ":v1"
			e.sign(e.push(repo), c.o)
			expect(t, e.judge(e.w.Ref(repo), c.pols), c.want, c.match)
		})
	}
}

// The attack: anyone who can push to a repository can attach signatures
// to a digest; discovery examined all of them, each a request and a
// verification. It is now bounded per digest (verify.DefaultMaxSignatures,
// Kyverno's 50: kyverno/kyverno pkg/image/verifiers/cpol/cosign/sigstore.go
// attestationlimit), and past the bound the verdict is an error: the gate
// cannot decide, which is neither a pass nor a fail.
func TestSignatureDiscoveryBounded(t *testing.T) {
	e := newEnv(t)
	if verify.DefaultMaxSignatures != 50 {
		t.Errorf("DefaultMaxSignatures = %d, want Kyverno's 50", verify.DefaultMaxSignatures)
	}
	max2 := func(_ *gate.Options, vo *verify.Options) { vo.MaxSignatures = 2 }
	pol := e.policy(acmePolicy, true)
	bundlePol := e.policy(bundlePolicy(acmePolicy), true)

	two := e.push("acme/two:v1")
	for i := 0; i < 2; i++ {
		e.sign(two, gatetest.SignOptions{})
	}
	expect(t, e.judge(e.w.Ref("acme/two:v1"), pol, max2), gate.StatusPass, "")
	three := e.push("acme/three:v1")
	for i := 0; i < 3; i++ {
		e.sign(three, gatetest.SignOptions{})
	}
	expect(t, e.judge(e.w.Ref("acme/three:v1"), pol, max2), gate.StatusError, "the signature tag of "+three.DigestStr()+" holds 3 signatures, more than the 2 the gate examines per digest")

	// Referrers, at the default bound: 50 bundles are examined, 51 are not.
	fifty := e.push("acme/fifty:v1")
	for i := 0; i < verify.DefaultMaxSignatures; i++ {
		e.signBundle(fifty, gatetest.SignOptions{})
	}
	expect(t, e.judge(e.w.Ref("acme/fifty:v1"), bundlePol), gate.StatusPass, "")
	e.signBundle(fifty, gatetest.SignOptions{})
	expect(t, e.judge(e.w.Ref("acme/fifty:v1"), bundlePol), gate.StatusError, fmt.Sprintf("has %d OCI referrers, more than the 50 the gate examines per digest", verify.DefaultMaxSignatures+1))
}
