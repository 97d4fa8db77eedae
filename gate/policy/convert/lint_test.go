package convert

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kyvernoConformance is adapted from Kyverno's own conformance test
// (kyverno/kyverno test/conformance/chainsaw/image-validating-policies/
// standard/cosign-attestation-extract-cache-hit/policy.yaml): a correct
// policy, on which no lint may fire.
const kyvernoConformance = `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata:
  name: ivpol-cosign-attestation-extract-cache
spec:
  failurePolicy: Fail
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["pods"]
  matchImageReferences:
    - glob: ghcr.io/kyverno/test-images/cosign:*
    - expression: parseImageReference(ref).registry() == 'ghcr.io' && image(ref).repository() != ''
  attestors:
    - name: cosign
      cosign:
        keyless:
          identities:
            - issuer: https://token.actions.githubusercontent.com
              subject: https://github.com/kyverno/test-images/.github/workflows/cosign.yml@refs/heads/main
            - issuerRegExp: ^https://token\.actions\.githubusercontent\.com$
              subjectRegExp: ^https://github\.com/kyverno/
  attestations:
    - name: slsa
      intoto:
        type: https://slsa.dev/provenance/v1
    - name: sbom
      referrer:
        type: sbom/cyclone-dx
  validations:
    - expression: >-
        images.containers.map(image, verifyAttestationSignatures(image, attestations.slsa, [attestors.cosign])).all(e, e > 0)
      message: failed to verify SLSA intoto attestation with Cosign keyless
    - expression: >-
        images.containers.map(image, has(extractPayload(image, attestations.slsa).predicate.buildDefinition)).all(e, e)
      message: "image.registry is not checked here: 'image' in a string is not code"
    - expression: >-
        images.containers.map(image, verifyAttestationSignatures(image, attestations.sbom, [attestors.cosign]) > 0 && extractPayload(image, attestations.sbom).bomFormat == 'CycloneDX').all(e, e)
`

func TestLintAcceptsKyvernosOwnExample(t *testing.T) {
	f, err := Lint("ok.yaml", []byte(kyvernoConformance))
	if err != nil || len(f) > 0 {
		t.Errorf("findings on a correct policy: %v %v", err, f)
	}
}

// TestLintFindsTheDocsMistakes: each case is a mistake of Kyverno's
// documentation (or one its users report), written into a policy; the
// lint names the file, the line and the fix.
func TestLintFindsTheDocsMistakes(t *testing.T) {
	for _, c := range []struct {
		name, from, to string
		line           int
		want           string
	}{
		{"image instead of ref (kyverno#17418)", "- glob: ghcr.io/kyverno/test-images/cosign:*", "- expression: \"image.registry == 'ghcr.io'\"", 15, "the variable is ref, not image"},
		{"image() on image", "parseImageReference(ref).registry()", "image.registry()", 16, "the variable is ref, not image"},
		{"wildcard in an exact subject", "subject: https://github.com/kyverno/test-images/.github/workflows/cosign.yml@refs/heads/main", "subject: https://github.com/kyverno/*", 23, "compares subject exactly"},
		{"wildcard in an exact issuer", "- issuer: https://token.actions.githubusercontent.com", "- issuer: https://token.actions.*", 22, "compares issuer exactly"},
		{"unanchored subjectRegExp", "subjectRegExp: ^https://github\\.com/kyverno/", "subjectRegExp: github\\.com/kyverno/", 25, "not anchored"},
		{".builder.id without .predicate (website SLSA sample)", "predicate.buildDefinition", "builder.id", 37, "under .predicate"},
		{"extractPayload before verification", "verifyAttestationSignatures(image, attestations.slsa, [attestors.cosign])).all(e, e > 0)", "true).all(e, e)", 37, "before any earlier validation verified it"},
		{"dashed name with a dot", "attestations.slsa, [attestors.cosign])).all(e, e > 0)", "attestations.slsa, [attestors.my-cosign])).all(e, e > 0)", 34, "subtraction"},
		{"attestor outside a list", "[attestors.cosign])).all(e, e > 0)", "attestors.cosign)).all(e, e > 0)", 34, "is a list"},
		{"imageverify.verify (kyverno/website#2094)", "images.containers.map(image, has(extractPayload(image, attestations.slsa).predicate.buildDefinition)).all(e, e)", "imageverify.verify(images.containers, attestors.cosign).all(result, result.verified)", 37, "not Kyverno functions"},
		{"Deny and Warn", "validationActions: [Deny]", "validationActions: [Deny, Warn]", 7, "Deny and Warn"},
		{"v1alpha1", "apiVersion: policies.kyverno.io/v1", "apiVersion: policies.kyverno.io/v1alpha1", 1, "deprecated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pol := strings.Replace(kyvernoConformance, c.from, c.to, 1)
			if pol == kyvernoConformance {
				t.Fatalf("%q is not in the example", c.from)
			}
			f, err := Lint("p.yaml", []byte(pol))
			if err != nil {
				t.Fatal(err)
			}
			if len(f) != 1 || !strings.Contains(f[0].Message, c.want) || f[0].Line != c.line || f[0].File != "p.yaml" {
				t.Errorf("findings %v, want one at line %d saying %q", f, c.line, c.want)
			}
		})
	}
}

// TestLintIgnoresOtherKinds: a ClusterPolicy or any other document in the
// same file is the loader's business.
func TestLintIgnoresOtherKinds(t *testing.T) {
	f, err := Lint("p.yaml", []byte("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec: {rules: []}\n---\n"+strings.Replace(kyvernoConformance, "subject: https://github.com/kyverno/test-images", "subject: https://github.com/*/test-images", 1)))
	if err != nil || len(f) != 1 || f[0].Line != 28 {
		t.Errorf("%v %v", f, err)
	}
}

// TestLintPathsReadsWhatTheLoaderReads: a directory is read as the policy
// loader reads it: recursively, without a mounted ConfigMap's "..data"
// copies, and without what --policy-ignore excludes.
func TestLintPathsReadsWhatTheLoaderReads(t *testing.T) {
	dir := t.TempDir()
	bad := strings.Replace(kyvernoConformance, "validationActions: [Deny]", "validationActions: [Deny, Warn]", 1)
	for _, f := range []string{"team/ivpol.yaml", "..2026_12_01/ivpol.yaml", "tests/ivpol.yaml"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(bad), 0o644)
	}
	f, err := LintPaths([]string{"tests/*"}, dir)
	if err != nil || len(f) != 1 || f[0].File != filepath.Join(dir, "team/ivpol.yaml") {
		t.Errorf("%v %v", f, err)
	}
}
