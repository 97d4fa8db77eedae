package gate_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/verify"
)

const trustedBuilder = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0"

// provenancePolicy requires a SLSA v1 provenance signed by acme's release
// workflow and built by it (TYPE is Cosign or SigstoreBundle).
const provenancePolicy = `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: provenance}
spec:
  validationFailureAction: Enforce
  rules:
  - name: built-by-acme
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - type: TYPE
      imageReferences: ["REGISTRY/*"]
      mutateDigest: MUTATE
      attestations:
      - type: https://slsa.dev/provenance/v1
        attestors:
        - entries:
          - keyless:
              issuer: "https://token.actions.githubusercontent.com"
              subjectRegExp: '^https://github\.com/acme/app/\.github/workflows/release\.yml@refs/tags/'
        conditions:
        - all:
          - key: "{{ runDetails.builder.id }}"
            operator: Equals
            value: "` + trustedBuilder + `"
          - key: "{{ buildDefinition.buildType }}"
            operator: Equals
            value: https://actions.github.io/buildtypes/workflow/v1
`

func (e *env) attest(d name.Digest, o gatetest.AttestOptions) {
	e.t.Helper()
	if err := e.w.Sigstore.AttestImage(e.ctx, d, o); err != nil {
		e.t.Fatal(err)
	}
}

func provenance(builder string) map[string]any {
	return gatetest.SLSAProvenanceV1(gatetest.GitHubProvenance{Repository: "acme/app", Ref: "refs/tags/v1.0.0", BuilderID: builder})
}

func typed(doc, typ string) string { return strings.Replace(doc, "TYPE", typ, 1) }

// The attack class: an image whose provenance names another builder, or
// whose provenance is signed by someone else, or belongs to another image,
// must not pass a provenance rule; the legitimate provenance passes in
// every storage format.
func TestSLSAProvenance(t *testing.T) {
	e := newEnv(t)
	cosignPol := e.policy(typed(provenancePolicy, "Cosign"), true)
	bundlePol := e.policy(typed(provenancePolicy, "SigstoreBundle"), true)
	slsa := func(builder string) gatetest.AttestOptions {
		return gatetest.AttestOptions{PredicateType: gatetest.PredicateSLSAv1, Predicate: provenance(builder)}
	}
	with := func(o gatetest.AttestOptions, f gatetest.AttestFormat) gatetest.AttestOptions { o.Format = f; return o }

	good := e.push("acme/good:v1")
	e.attest(good, slsa(trustedBuilder))
	v := e.judge(e.w.Ref("acme/good:v1"), cosignPol)
	expect(t, v, gate.StatusPass, "")
	if len(v.Attestations) != 1 || v.Attestations[0].Provenance == nil || v.Attestations[0].Provenance.BuilderID != trustedBuilder ||
		v.Attestations[0].Provenance.SourceRepository != "https://github.com/acme/app" || v.Attestations[0].Provenance.SourceCommit == "" ||
		v.Attestations[0].Signer == nil || !strings.HasPrefix(v.Attestations[0].Signer.Subject, "https://github.com/acme/app/") {
		t.Errorf("verdict does not show the provenance: %+v", v.Attestations)
	}

	evil := "https://github.com/evil/fork/.github/workflows/release.yml@refs/heads/main"
	other := e.push("acme/otherbuilder:v1")
	e.attest(other, slsa(evil))
	v = e.judge(e.w.Ref("acme/otherbuilder:v1"), cosignPol)
	expect(t, v, gate.StatusFail, `runDetails.builder.id: want "`+trustedBuilder+`", got "`+evil+`"`)
	if v.FailedCondition == nil || v.FailedCondition.Key != "runDetails.builder.id" {
		t.Errorf("failedCondition %+v", v.FailedCondition)
	}

	stranger := e.push("acme/stranger:v1")
	o := slsa(trustedBuilder)
	o.Identity = gatetest.IdentityFor("evil/app", "refs/tags/v1.0.0")
	e.attest(stranger, o)
	expect(t, e.judge(e.w.Ref("acme/stranger:v1"), cosignPol), gate.StatusFail, "no attestation of type https://slsa.dev/provenance/v1 signed by this attestor")

	// A provenance of another image, attached to this one (an attacker
	// copying a good attestation): its subject names the other digest.
	moved := e.push("acme/moved:v1")
	o = slsa(trustedBuilder)
	o.Subject = &good
	e.attest(moved, o)
	expect(t, e.judge(e.w.Ref("acme/moved:v1"), cosignPol), gate.StatusFail, "signed for another image")
	movedB := e.push("acme/moved-bundle:v1")
	e.attest(movedB, with(o, gatetest.AttestBundle))
	expect(t, e.judge(e.w.Ref("acme/moved-bundle:v1"), bundlePol), gate.StatusFail, "signed for another image")

	missing := e.push("acme/missing:v1")
	e.sign(missing, gatetest.SignOptions{})
	expect(t, e.judge(e.w.Ref("acme/missing:v1"), cosignPol), gate.StatusFail, "looked at: no .att tag (sha256-")

	// Every storage format, under the type that reads it.
	inRef := e.push("acme/referrer:v1")
	e.attest(inRef, with(slsa(trustedBuilder), gatetest.AttestBundle))
	expect(t, e.judge(e.w.Ref("acme/referrer:v1"), bundlePol), gate.StatusPass, "")
	expect(t, e.judge(e.w.Ref("acme/referrer:v1"), cosignPol), gate.StatusFail, "set type: SigstoreBundle")
	expect(t, e.judge(e.w.Ref("acme/good:v1"), bundlePol), gate.StatusFail, "set type: Cosign")
	for _, at := range []string{"", "application/vnd.oci.empty.v1+json"} {
		fb := e.push("acme/fallback" + strings.ReplaceAll(strings.ReplaceAll(at, "/", "-"), "+", "-") + ":v1")
		fo := with(slsa(trustedBuilder), gatetest.AttestBundleFallback)
		fo.FallbackArtifactType = at
		e.attest(fb, fo)
		e.w.Registry.SetFaults(gatetest.Faults{NoReferrersAPI: true})
		expect(t, e.judge(e.w.Ref(fb.Context().RepositoryStr()+":v1"), bundlePol), gate.StatusPass, "")
		e.w.Registry.SetFaults(gatetest.Faults{})
	}
}

const sbomPolicy = `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: sbom}
spec:
  validationFailureAction: Enforce
  rules:
  - name: has-sbom
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["REGISTRY/*"]
      mutateDigest: MUTATE
      attestations:
      - type: PREDICATE
        attestors:
        - entries:
          - keyless:
              issuer: "https://token.actions.githubusercontent.com"
              subjectRegExp: '^https://github\.com/acme/'
`

func TestSBOMPresentAbsent(t *testing.T) {
	e := newEnv(t)
	spdx := e.policy(strings.Replace(sbomPolicy, "PREDICATE", gatetest.PredicateSPDX, 1), true)
	cdx := e.policy(strings.Replace(sbomPolicy, "PREDICATE", gatetest.PredicateCycloneDX, 1), true)
	with := e.push("acme/sbom:v1")
	e.attest(with, gatetest.AttestOptions{PredicateType: gatetest.PredicateSPDX, Predicate: gatetest.SPDXDocument("app")})
	e.attest(with, gatetest.AttestOptions{PredicateType: gatetest.PredicateCycloneDX, Predicate: gatetest.CycloneDXBOM()})
	expect(t, e.judge(e.w.Ref("acme/sbom:v1"), spdx), gate.StatusPass, "")
	expect(t, e.judge(e.w.Ref("acme/sbom:v1"), cdx), gate.StatusPass, "")

	without := e.push("acme/nosbom:v1")
	e.attest(without, gatetest.AttestOptions{PredicateType: gatetest.PredicateSLSAv1, Predicate: provenance(trustedBuilder)})
	expect(t, e.judge(e.w.Ref("acme/nosbom:v1"), spdx), gate.StatusFail, "no attestation of type https://spdx.dev/Document signed by this attestor")

	// GitHub's attest-sbom writes the SPDX type with a version suffix;
	// Kyverno compares exactly, so the verdict fails and says what to write.
	versioned := e.push("acme/sbom-versioned:v1")
	e.attest(versioned, gatetest.AttestOptions{PredicateType: gatetest.PredicateSPDX + "/v2.3", Predicate: gatetest.SPDXDocument("app")})
	expect(t, e.judge(e.w.Ref("acme/sbom-versioned:v1"), spdx), gate.StatusFail, "write type: https://spdx.dev/Document/v2.3")
}

const vulnPolicy = `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: vuln}
spec:
  validationFailureAction: Enforce
  rules:
  - name: fresh-scan
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["REGISTRY/*"]
      mutateDigest: MUTATE
      attestations:
      - type: https://cosign.sigstore.dev/attestation/vuln/v1
        attestors:
        - entries:
          - keyless:
              issuer: "https://token.actions.githubusercontent.com"
              subjectRegExp: '^https://github\.com/acme/'
        conditions:
        - all:
          - key: "{{ time_since('', metadata.scanFinishedOn, '') }}"
            operator: DurationLessThanOrEquals
            value: "168h"
            message: the vulnerability scan is older than 7 days
`

func TestVulnScanAge(t *testing.T) {
	e := newEnv(t)
	pol := e.policy(vulnPolicy, true)
	fresh := e.push("acme/fresh:v1")
	e.attest(fresh, gatetest.AttestOptions{PredicateType: gatetest.PredicateCosignVuln, Predicate: gatetest.CosignVuln(time.Now().Add(-24*time.Hour), []any{})})
	expect(t, e.judge(e.w.Ref("acme/fresh:v1"), pol), gate.StatusPass, "")
	stale := e.push("acme/stale:v1")
	e.attest(stale, gatetest.AttestOptions{PredicateType: gatetest.PredicateCosignVuln, Predicate: gatetest.CosignVuln(time.Now().Add(-8*24*time.Hour), []any{}), Format: gatetest.AttestBundle})
	expect(t, e.judge(e.w.Ref("acme/stale:v1"), e.policy(strings.Replace(vulnPolicy, "    - imageReferences", "    - type: SigstoreBundle\n      imageReferences", 1), true)),
		gate.StatusFail, "the vulnerability scan is older than 7 days")
}

// The attack: a rule that requires a signature by acme's release workflow
// accepted a Sigstore bundle holding any in-toto attestation that
// identity signed (cosign v3.1's verify counts every bundle). An
// attestation says something about the image; it is not the signature.
func TestSignatureRuleRefusesAttestation(t *testing.T) {
	e := newEnv(t)
	pol := e.policy(bundlePolicy(acmePolicy), true)
	only := e.push("acme/attested-only:v1")
	e.attest(only, gatetest.AttestOptions{PredicateType: gatetest.PredicateSLSAv1, Predicate: provenance(trustedBuilder), Format: gatetest.AttestBundle})
	expect(t, e.judge(e.w.Ref("acme/attested-only:v1"), pol), gate.StatusFail, "does not count as a signature")
	// The legitimate variant: the same image also signed passes.
	e.signBundle(only, gatetest.SignOptions{})
	expect(t, e.judge(e.w.Ref("acme/attested-only:v1"), pol), gate.StatusPass, "")
	// A cosign v3 signature bundle under the fallback tag, with an empty
	// artifactType, is found on a registry without the referrers API.
	fb := e.push("acme/sig-fallback:v1")
	if err := e.w.Sigstore.SignImageNewBundleFallback(e.ctx, fb, gatetest.SignOptions{}, ""); err != nil {
		t.Fatal(err)
	}
	e.w.Registry.SetFaults(gatetest.Faults{NoReferrersAPI: true})
	defer e.w.Registry.SetFaults(gatetest.Faults{})
	expect(t, e.judge(e.w.Ref("acme/sig-fallback:v1"), pol), gate.StatusPass, "")
}

// docExample returns the YAML block of docs/policies.md that holds marker.
func docExample(t *testing.T, marker string) string {
	t.Helper()
	b, err := os.ReadFile("../docs/policies.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, blk := range strings.Split(string(b), "```yaml\n")[1:] {
		body, _, _ := strings.Cut(blk, "```")
		if strings.Contains(body, marker) {
			return body
		}
	}
	t.Fatalf("docs/policies.md has no YAML example with %q", marker)
	return ""
}

// TestDocsProvenanceExample runs the provenance policy of docs/policies.md:
// acme's release workflow passes, another builder fails with the field
// named.
func TestDocsProvenanceExample(t *testing.T) {
	e := newEnv(t)
	doc := strings.ReplaceAll(docExample(t, "name: acme-provenance"), "ghcr.io/acme/*", "REGISTRY/acme/*")
	pol := e.policy(doc, true)
	good := e.push("acme/app:v1.0.0")
	e.attest(good, gatetest.AttestOptions{PredicateType: gatetest.PredicateSLSAv1, Predicate: provenance(trustedBuilder), Format: gatetest.AttestBundle})
	expect(t, e.judge(e.w.Ref("acme/app:v1.0.0"), pol), gate.StatusPass, "")
	bad := e.push("acme/app:v1.0.1")
	evil := "https://github.com/evil/app/.github/workflows/release.yml@refs/tags/v1.0.1"
	e.attest(bad, gatetest.AttestOptions{PredicateType: gatetest.PredicateSLSAv1, Predicate: provenance(evil), Format: gatetest.AttestBundle})
	expect(t, e.judge(e.w.Ref("acme/app:v1.0.1"), pol), gate.StatusFail, `runDetails.builder.id: want "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/v*", got "`+evil+`" (built by acme's release workflow)`)

	vuln := e.policy(strings.ReplaceAll(docExample(t, "name: fresh-vuln-scan"), "ghcr.io/acme/*", "REGISTRY/acme/*"), true)
	e.attest(good, gatetest.AttestOptions{PredicateType: gatetest.PredicateCosignVuln, Predicate: gatetest.CosignVuln(time.Now().Add(-8*24*time.Hour), []any{})})
	expect(t, e.judge(e.w.Ref("acme/app:v1.0.0"), vuln), gate.StatusFail, `time_since('', metadata.scanFinishedOn, ''): want DurationLessThanOrEquals "168h"`)
}

// A missing signature says where the gate looked, as the issue asks:
// the .sig tag, the referrers API and its fallback tag.
func TestNoSignatureSaysWhereItLooked(t *testing.T) {
	e := newEnv(t)
	pols := e.policy(acmePolicy, true)
	d := e.push("acme/unsigned:v1")
	fb := strings.Replace(d.DigestStr(), ":", "-", 1)
	expect(t, e.judge(e.w.Ref("acme/unsigned:v1"), pols), gate.StatusFail,
		"no signatures found at "+d.DigestStr()+": no .sig tag ("+fb+".sig), no OCI 1.1 referrers (referrers API 404 or empty, fallback tag "+fb+" absent)")
	e.w.Registry.SetFaults(gatetest.Faults{NoReferrersAPI: true})
	defer e.w.Registry.SetFaults(gatetest.Faults{})
	expect(t, e.judge(e.w.Ref("acme/unsigned:v1"), pols), gate.StatusFail, "fallback tag "+fb+" absent")
}

// check --bundle FILE: a Sigstore bundle given on the command line counts
// for the image it signs (as cosign verify --bundle), and only for it.
func TestBundleFile(t *testing.T) {
	e := newEnv(t)
	pols := e.policy(acmePolicy, true)
	d := e.push("acme/filed:v1")
	other := e.push("acme/other:v1")
	var b []byte
	if err := e.w.Sigstore.AttestImage(e.ctx, d, gatetest.AttestOptions{Format: gatetest.AttestBundle, PredicateType: "https://sigstore.dev/cosign/sign/v1", Out: &b}); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "image.sigstore.json")
	os.WriteFile(f, b, 0o600)
	bundle, err := sgbundle.LoadJSONFromPath(f)
	if err != nil {
		t.Fatal(err)
	}
	withFile := func(_ *gate.Options, vo *verify.Options) { vo.Bundles = []*sgbundle.Bundle{bundle} }
	expect(t, e.judge(e.w.Ref("acme/filed:v1"), pols), gate.StatusFail, "no signatures found")
	expect(t, e.judge(e.w.Ref("acme/filed:v1"), pols, withFile), gate.StatusPass, "")
	expect(t, e.judge(e.w.Ref("acme/other:v1"), pols, withFile), gate.StatusFail, "")
	_ = other
}
