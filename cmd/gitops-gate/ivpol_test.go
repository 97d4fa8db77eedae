package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkIVPOL is checkPolicy written as Kyverno's ImageValidatingPolicy,
// with a matchCondition that reads the (pod view of the) object.
const checkIVPOL = `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata:
  name: acme-signed
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["pods"]
  matchConditions:
    - name: has-containers
      expression: "object.spec.containers.size() > 0"
  matchImageReferences:
    - glob: "REGISTRY/*"
  validationConfigurations:
    mutateDigest: true
  attestors:
    - name: release
      cosign:
        keyless:
          identities:
            - issuer: https://token.actions.githubusercontent.com
              subjectRegExp: '^https://github\.com/acme/[^/]+/\.github/workflows/release\.yml@refs/tags/.+$'
  validations:
    - expression: "images.containers.all(i, verifyImageSignatures(i, [attestors.release]) > 0)"
      message: not signed by acme's release workflow
---
apiVersion: policies.kyverno.io/v1beta1
kind: PolicyException
metadata:
  name: legacy-worker
  namespace: kyverno
spec:
  policyRefs: [{name: acme-signed, kind: ImageValidatingPolicy}]
  expiresAt: "2020-01-01T00:00:00Z"
`

// TestCheckIVPOL: gitops-gate check --policy ivpol.yaml, end to end.
func TestCheckIVPOL(t *testing.T) {
	w, repo, _, _, _ := checkWorld(t)
	pol := filepath.Join(t.TempDir(), "ivpol.yaml")
	os.WriteFile(pol, []byte(strings.ReplaceAll(checkIVPOL, "REGISTRY", w.Registry.Host)), 0o644)

	out, _, code := run(t, "check", repo, "--app", "api", "--policy", pol, "--trusted-root", w.TrustedRootPath)
	if code != exitOK || !strings.Contains(out, "PASS: 1 images: 1 verified") {
		t.Errorf("signed image: exit %d:\n%s", code, out)
	}
	out, _, code = run(t, "check", repo, "--app", "worker", "--policy", pol, "--trusted-root", w.TrustedRootPath)
	if code != exitDenied || !strings.Contains(out, "not signed by acme's release workflow") || !strings.Contains(out, "expired") {
		t.Errorf("unsigned image (the expired exception no longer applies): exit %d:\n%s", code, out)
	}
	out, _, code = run(t, "policy", "lint", pol)
	if code != exitOK || !strings.Contains(out, "ImageValidatingPolicy acme-signed, CEL validations") || !strings.Contains(out, "PolicyException legacy-worker exempts from ImageValidatingPolicy/acme-signed (EXPIRED 2020-01-01T00:00:00Z") {
		t.Errorf("lint: exit %d:\n%s", code, out)
	}
	// A Notary attestor is a load error that says so.
	bad := filepath.Join(t.TempDir(), "notary.yaml")
	os.WriteFile(bad, []byte(strings.Replace(checkIVPOL, "      cosign:\n        keyless:", "      notary: {certs: {value: x}}\n      cosign:\n        keyless:", 1)), 0o644)
	if _, stderr, code := run(t, "check", repo, "--policy", bad, "--trusted-root", w.TrustedRootPath); code != exitUsage || !strings.Contains(stderr, "Notation is not supported") {
		t.Errorf("notary: exit %d %s", code, stderr)
	}
}

// taskIVPOL verifies the step images of Tekton Tasks through an images[]
// CEL extractor: images the gate's built-in extraction does not know.
const taskIVPOL = `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata:
  name: signed-steps
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: ["tekton.dev"]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["tasks"]
  images:
    - name: steps
      expression: "object.spec.steps.map(s, s.image)"
  attestors:
    - name: release
      cosign:
        keyless:
          identities:
            - issuer: https://token.actions.githubusercontent.com
              subjectRegExp: '^https://github\.com/acme/[^/]+/\.github/workflows/release\.yml@refs/tags/.+$'
  validations:
    - expression: "images.steps.all(i, verifyImageSignatures(i, [attestors.release]) > 0)"
      message: a step image is not signed by acme's release workflow
`

// TestCheckIVPOLImageExtractors: an IVPOL's images[] extractor adds the
// images it finds; an unsigned one fails, a signed one passes.
func TestCheckIVPOLImageExtractors(t *testing.T) {
	w, _, _, signed, unsigned := checkWorld(t)
	pol := filepath.Join(t.TempDir(), "ivpol.yaml")
	os.WriteFile(pol, []byte(taskIVPOL), 0o644)
	task := func(image string) string {
		return "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: build\n  namespace: ci\nspec:\n  steps:\n    - name: build\n      image: " + image + "\n"
	}
	for _, c := range []struct {
		image string
		code  int
		want  string
	}{
		{signed, exitOK, "PASS"},
		{unsigned, exitDenied, "a step image is not signed by acme's release workflow"},
	} {
		repo := t.TempDir()
		os.MkdirAll(filepath.Join(repo, "ci"), 0o755)
		os.WriteFile(filepath.Join(repo, "ci", "task.yaml"), []byte(task(c.image)), 0o644)
		out, stderr, code := run(t, "check", repo, "--policy", pol, "--trusted-root", w.TrustedRootPath, "--require-match")
		if code != c.code || !strings.Contains(out, c.want) || !strings.Contains(out, c.image) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s\n%s", c.image, code, c.code, c.want, out, stderr)
		}
	}
}
