package gate_test

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/verify"
)

// ivpolCosign is an IVPOL with one keyless attestor of the fixture's
// identity; EXTRA is replaced by more fields of the attestor's cosign
// block (indented by 8).
const ivpolCosign = `
apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata:
  name: trust
spec:
  validationConfigurations: {verifyDigest: false}
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["pods"]
  matchImageReferences:
    - glob: REGISTRY/*
  attestors:
    - name: cosign
      cosign:
        keyless:
          identities:
            - issuer: https://token.actions.githubusercontent.com
              subject: https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0
EXTRA
  validations:
    - expression: >-
        images.containers.map(image, verifyImageSignatures(image, [attestors.cosign])).all(e, e > 0)
      message: failed to verify image with cosign keyless
`

func ivpolCosignWith(extra string) string { return strings.Replace(ivpolCosign, "EXTRA", extra, 1) }

// TestIVPOLTrustedRoot: an attestor with cosign.trustedRoot verifies
// against that trusted_root.json (another Sigstore instance than the
// gate's), and against it only.
func TestIVPOLTrustedRoot(t *testing.T) {
	e := newEnv(t)
	private, err := gatetest.New()
	if err != nil {
		t.Fatal(err)
	}
	js, err := private.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	byPrivate := e.push("acme/private:v1")
	if err := private.SignImage(e.ctx, byPrivate, gatetest.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	byPrivateBundle := e.push("acme/privatebundle:v1")
	if err := private.SignImageNewBundle(e.ctx, byPrivateBundle, gatetest.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	byGate := e.push("acme/public:v1")
	e.sign(byGate, gatetest.SignOptions{})
	withRoot := ivpolCosignWith("        trustedRoot:\n          value: |\n" + indent(string(js), "            "))

	cases := []struct {
		name, policy string
		image        string
		want         gate.Status
		reason       string
	}{
		{"private instance, policy's trusted root", withRoot, byPrivate.String(), gate.StatusPass, ""},
		{"private instance bundle, policy's trusted root", withRoot, byPrivateBundle.String(), gate.StatusPass, ""},
		{"private instance, gate's root", ivpolCosignWith(""), byPrivate.String(), gate.StatusFail, "failed to verify image"},
		// The policy's root replaces the gate's: it does not add to it.
		{"gate's instance, policy's trusted root", withRoot, byGate.String(), gate.StatusFail, "failed to verify image"},
		{"gate's instance, gate's root", ivpolCosignWith(""), byGate.String(), gate.StatusPass, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := e.judgeObject(e.ivpolSet(c.policy, policy.LoadOptions{}), prodPod, c.image)
			t.Logf("%s %q", v.Status, v.Reason)
			if v.Status != c.want || !strings.Contains(v.Reason, c.reason) {
				t.Errorf("verdict %s %q, want %s containing %q", v.Status, v.Reason, c.want, c.reason)
			}
		})
	}

	// Two attestors of one identity, one with the policy's trusted root:
	// the result of the first is never reused for the second (the check
	// is keyed by the trusted root too).
	t.Run("same identity, other root: no reuse", func(t *testing.T) {
		both := strings.Replace(withRoot, "    - name: cosign\n      cosign:", "    - name: public\n      cosign:\n        keyless:\n          identities:\n            - issuer: https://token.actions.githubusercontent.com\n              subject: https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0\n    - name: cosign\n      cosign:", 1)
		both = strings.Replace(both, "verifyImageSignatures(image, [attestors.cosign])).all(e, e > 0)",
			"verifyImageSignatures(image, [attestors.public]) > 0 && verifyImageSignatures(image, [attestors.cosign]) > 0).all(e, e)", 1)
		v := e.judgeObject(e.ivpolSet(both, policy.LoadOptions{}), prodPod, byGate.String())
		if v.Status != gate.StatusFail {
			t.Errorf("verdict %s %q, want fail: the gate's instance did not sign under the policy's root", v.Status, v.Reason)
		}
	})
}

// TestIVPOLTUF: a tuf block naming public-good Sigstore verifies against
// the gate's trust root only when that is public-good's; otherwise the
// verdict is an error saying the gate fetches no TUF repository, never a
// verification against another root.
func TestIVPOLTUF(t *testing.T) {
	e := newEnv(t)
	signed := e.push("acme/tuf:v1")
	e.sign(signed, gatetest.SignOptions{})
	doc := ivpolCosignWith("        tuf:\n          mirror: https://tuf-repo-cdn.sigstore.dev")
	set := e.ivpolSet(doc, policy.LoadOptions{})

	// The fixture's root stands for public-good's: its Rekor log is named
	// public-good's.
	var fixtureLog string
	for id := range e.tr.RekorLogs() {
		fixtureLog = id
	}
	asPublicGood := func(_ *gate.Options, vo *verify.Options) { vo.PublicGoodLogIDs = []string{fixtureLog} }
	if v := e.judgeObject(set, prodPod, signed.String(), asPublicGood); v.Status != gate.StatusPass {
		t.Errorf("gate's root is public-good's: verdict %s %q, want pass", v.Status, v.Reason)
	}
	v := e.judgeObject(set, prodPod, signed.String())
	if v.Status != gate.StatusError || !strings.Contains(v.Reason, "fetches no TUF repository") {
		t.Errorf("gate's root is not public-good's: verdict %s %q, want an error saying the gate fetches no TUF repository", v.Status, v.Reason)
	}
	// Without the tuf block the same image passes against the gate's root.
	if v := e.judgeObject(e.ivpolSet(ivpolCosignWith(""), policy.LoadOptions{}), prodPod, signed.String()); v.Status != gate.StatusPass {
		t.Errorf("no tuf block: verdict %s %q, want pass", v.Status, v.Reason)
	}
	// A key attestor that ignores the log needs no root: Kyverno reads no
	// TUF repository for it either.
	kp, err := gatetest.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	keyed := e.push("acme/tufkeyed:v1")
	if err := e.w.Sigstore.SignImageWithKey(e.ctx, keyed, kp, gatetest.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	keyDoc := strings.Replace(doc, "        keyless:\n          identities:\n            - issuer: https://token.actions.githubusercontent.com\n              subject: https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0\n",
		"        key:\n          data: |\n"+indent(string(kp.PublicPEM), "            ")+"\n        ctlog: {insecureIgnoreTlog: true}\n", 1)
	if v := e.judgeObject(e.ivpolSet(keyDoc, policy.LoadOptions{}), prodPod, keyed.String()); v.Status != gate.StatusPass {
		t.Errorf("key without log, public-good tuf: verdict %s %q, want pass", v.Status, v.Reason)
	}
}

// TestIVPOLTagPrefix: with cosign.source.tagPrefix the signature is read
// from <prefix>sha256-<hex>.sig (cosign's ociremote.WithPrefix); a
// signature under the unprefixed tag does not count, and a policy without
// the prefix does not find the prefixed one.
func TestIVPOLTagPrefix(t *testing.T) {
	e := newEnv(t)
	prefixed := e.push("acme/prefixed:v1")
	if err := e.w.Sigstore.SignImage(e.ctx, prefixed, gatetest.SignOptions{}, ociremote.WithPrefix("team-a-")); err != nil {
		t.Fatal(err)
	}
	plain := e.push("acme/plain:v1")
	e.sign(plain, gatetest.SignOptions{})
	// Signatures in another repository, under the prefix.
	elsewhere := e.push("acme/elsewhere:v1")
	sigRepo := e.w.Registry.Host + "/acme/signatures"
	target, err := ociremoteTarget(sigRepo)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.w.Sigstore.SignImage(e.ctx, elsewhere, gatetest.SignOptions{}, ociremote.WithPrefix("team-a-"), target); err != nil {
		t.Fatal(err)
	}
	withPrefix := ivpolCosignWith("        source:\n          tagPrefix: team-a-")
	withRepo := ivpolCosignWith("        source:\n          repository: " + sigRepo + "\n          tagPrefix: team-a-")
	cases := []struct {
		name, policy string
		image        string
		want         gate.Status
	}{
		{"prefixed signature, policy with prefix", withPrefix, prefixed.String(), gate.StatusPass},
		{"prefixed signature, policy without prefix", ivpolCosignWith(""), prefixed.String(), gate.StatusFail},
		{"unprefixed signature, policy with prefix", withPrefix, plain.String(), gate.StatusFail},
		{"prefixed signature in another repository", withRepo, elsewhere.String(), gate.StatusPass},
		{"prefixed signature in another repository, policy without repository", withPrefix, elsewhere.String(), gate.StatusFail},
	}
	// Attestations too are read from <prefix>sha256-<hex>.att.
	sbom := gatetest.AttestOptions{PredicateType: gatetest.PredicateCycloneDX, Predicate: gatetest.CycloneDXBOM()}
	attested := e.push("acme/attested:v1")
	if err := e.w.Sigstore.AttestImage(e.ctx, attested, sbom, ociremote.WithPrefix("team-a-")); err != nil {
		t.Fatal(err)
	}
	attestations := func(doc string) string {
		return strings.Replace(strings.Replace(doc, "  validations:", "  attestations:\n    - name: sbom\n      intoto:\n        type: https://cyclonedx.org/bom\n  validations:", 1),
			"verifyImageSignatures(image, [attestors.cosign])", "verifyAttestationSignatures(image, attestations.sbom, [attestors.cosign])", 1)
	}
	cases = append(cases, []struct {
		name, policy string
		image        string
		want         gate.Status
	}{
		{"prefixed attestation, policy with prefix", attestations(withPrefix), attested.String(), gate.StatusPass},
		{"prefixed attestation, policy without prefix", attestations(ivpolCosignWith("")), attested.String(), gate.StatusFail},
	}...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := e.judgeObject(e.ivpolSet(c.policy, policy.LoadOptions{}), prodPod, c.image)
			t.Logf("%s %q", v.Status, v.Reason)
			if v.Status != c.want {
				t.Errorf("verdict %s %q, want %s", v.Status, v.Reason, c.want)
			}
		})
	}
}

// ociremoteTarget stores signatures in repo (cosign's COSIGN_REPOSITORY).
func ociremoteTarget(repo string) (ociremote.Option, error) {
	r, err := name.NewRepository(repo)
	if err != nil {
		return nil, err
	}
	return ociremote.WithTargetRepository(r), nil
}
