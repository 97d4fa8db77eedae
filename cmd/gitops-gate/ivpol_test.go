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
