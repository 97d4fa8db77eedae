package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyConvert: the command prints the conversion the golden file of
// gate/policy/convert holds, and the notes on standard error; a policy the
// gate refuses is a usage error that names the file.
func TestPolicyConvert(t *testing.T) {
	out, stderr, code := run(t, "policy", "convert", "../../testdata/policies/demo.yaml")
	want, err := os.ReadFile("../../gate/policy/convert/testdata/golden/testdata_policies_demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if code != exitOK || out != string(want) {
		t.Errorf("exit %d, stdout:\n%s\nwant:\n%s", code, out, want)
	}
	if !strings.Contains(stderr, "NOTE  acme-release-signed: Kyverno before 1.19 ignores verifyDigest") {
		t.Errorf("stderr: %s", stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    verifyImages:\n    - imageReferences: ['*']\n      attestors: [{entries: [{keyless: {}}]}]\n"), 0o644)
	if out, stderr, code := run(t, "policy", "convert", bad); code != exitUsage || out != "" || !strings.Contains(stderr, bad+":") {
		t.Errorf("a refused policy: exit %d, stdout %q, stderr %s", code, out, stderr)
	}
}

// TestPolicyLintIVPOL: lint reports the IVPOL mistakes of Kyverno's docs
// with file:line, in files and in directories.
func TestPolicyLintIVPOL(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "ivpol.yaml")
	os.WriteFile(f, []byte(`apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata:
  name: docs-example
spec:
  matchImageReferences:
    - expression: "image.registry == 'ghcr.io'"
  attestors:
    - name: cosign
      cosign:
        keyless:
          identities:
            - issuer: https://token.actions.githubusercontent.com
              subject: https://github.com/acme/*
  attestations:
    - name: slsa
      intoto:
        type: https://slsa.dev/provenance/v1
  validations:
    - expression: images.containers.all(image, verifyAttestationSignatures(image, attestations.slsa, [attestors.cosign]) > 0)
    - expression: images.containers.all(image, extractPayload(image, attestations.slsa).builder.id == 'x')
`), 0o644)
	out, _, _ := run(t, "policy", "lint", dir)
	for _, want := range []string{
		"WARN  " + f + ":7: spec.matchImageReferences[0].expression: the variable is ref, not image",
		"WARN  " + f + ":14: spec.attestors[0].cosign.keyless.identities[0].subject: \"https://github.com/acme/*\": IVPOL compares subject exactly",
		"WARN  " + f + ":21: spec.validations[1].expression: extractPayload(…).builder: for an in-toto attestation extractPayload returns the whole statement",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}
