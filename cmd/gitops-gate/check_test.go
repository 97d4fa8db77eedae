package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
)

const checkPolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: acme-signed
spec:
  validationFailureAction: Enforce
  rules:
    - name: release-workflow
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["REGISTRY/*"]
          attestors:
            - entries:
                - keyless:
                    issuer: https://token.actions.githubusercontent.com
                    subject: "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*"
`

// checkWorld is a repository whose two apps use a signed and an unsigned image.
func checkWorld(t *testing.T) (w *gatetest.World, repo, pol string, signed, unsigned string) {
	t.Helper()
	w = gatetest.NewWorld(t)
	ctx := context.Background()
	d, err := w.PushImage(ctx, "acme/api:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Sigstore.SignImage(ctx, d, gatetest.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.PushImage(ctx, "acme/worker:v2"); err != nil {
		t.Fatal(err)
	}
	signed, unsigned = w.Ref("acme/api:v1"), w.Ref("acme/worker:v2")
	repo = t.TempDir()
	dep := func(name, image string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "\nspec:\n  template:\n    spec:\n      containers:\n        - name: " + name + "\n          image: " + image + "\n"
	}
	os.MkdirAll(filepath.Join(repo, "api"), 0o755)
	os.MkdirAll(filepath.Join(repo, "worker"), 0o755)
	os.WriteFile(filepath.Join(repo, "api", "deploy.yaml"), []byte(dep("api", signed)), 0o644)
	os.WriteFile(filepath.Join(repo, "worker", "deploy.yaml"), []byte(dep("worker", unsigned)), 0o644)
	pol = filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(pol, []byte(strings.ReplaceAll(checkPolicy, "REGISTRY", w.Registry.Host)), 0o644)
	return w, repo, pol, signed, unsigned
}

func TestCheckTableJSONSARIF(t *testing.T) {
	w, repo, pol, signed, unsigned := checkWorld(t)
	out, stderr, code := run(t, "check", repo, "--policy", pol, "--trusted-root", w.TrustedRootPath)
	if code != exitDenied {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitDenied, out, stderr)
	}
	for _, want := range []string{"PASS", signed, "acme/app@refs/tags/v1.0.0", "FAIL", unsigned, "worker/deploy.yaml:10", "no signatures found at sha256:",
		"FAIL: 2 images: 1 verified, 1 failed (worker)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	out, _, code = run(t, "check", repo, "--policy", pol, "--trusted-root", w.TrustedRootPath, "-o", "json")
	var rep gate.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if code != exitDenied || rep.APIVersion != gate.APIVersion || rep.Result != gate.StatusFail || rep.Summary.Passed != 1 || rep.Summary.Failed != 1 {
		t.Errorf("json report: exit %d %+v", code, rep.Summary)
	}
	im := rep.Apps[0].Images[0]
	if im.Status != gate.StatusPass || im.Signer == nil || im.Signer.Issuer != "https://token.actions.githubusercontent.com" || im.Digest == "" || im.Normalized == "" || im.Tlog == nil {
		t.Errorf("api image %+v", im)
	}

	out, _, _ = run(t, "check", repo, "--policy", pol, "--trusted-root", w.TrustedRootPath, "-o", "sarif")
	var sarif struct {
		Version string
		Runs    []struct {
			Results []struct {
				RuleID    string
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &sarif); err != nil {
		t.Fatalf("sarif: %v", err)
	}
	if sarif.Version != "2.1.0" || len(sarif.Runs[0].Results) != 1 {
		t.Fatalf("sarif %+v", sarif)
	}
	loc := sarif.Runs[0].Results[0].Locations[0].PhysicalLocation
	if sarif.Runs[0].Results[0].RuleID != "GG001" || loc.ArtifactLocation.URI != "worker/deploy.yaml" || loc.Region.StartLine != 10 {
		t.Errorf("sarif result %+v", sarif.Runs[0].Results[0])
	}
}

func TestCheckPassesAndExitCodes(t *testing.T) {
	w, repo, pol, _, _ := checkWorld(t)
	out, _, code := run(t, "check", repo, "--app", "api", "--policy", pol, "--trusted-root", w.TrustedRootPath)
	if code != exitOK || !strings.Contains(out, "PASS: 1 images: 1 verified") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	// The native form: exact issuer, anchored subject.
	_, _, code = run(t, "check", repo, "--app", "api", "--trusted-root", w.TrustedRootPath,
		"--identity", `https://token.actions.githubusercontent.com=https://github\.com/acme/app/\.github/workflows/release\.yml@refs/tags/v.*`)
	if code != exitOK {
		t.Errorf("native identity: exit %d", code)
	}
	_, _, code = run(t, "check", repo, "--app", "api", "--trusted-root", w.TrustedRootPath,
		"--identity", `https://token.actions.githubusercontent.com=https://github\.com/acme/app`)
	if code != exitDenied {
		t.Errorf("an anchored subject must not match a prefix: exit %d", code)
	}
	// No trust root: every image that needs one is an error, exit 3.
	out, stderr, code := run(t, "check", repo, "--app", "api", "--policy", pol)
	if code != exitOperational || !strings.Contains(stderr, "no trust root configured") || !strings.Contains(out, "ERROR") {
		t.Errorf("no trust root: exit %d\n%s\n%s", code, out, stderr)
	}
	// No policy, bad policy, bad output: usage errors.
	if _, _, code := run(t, "check", repo, "--trusted-root", w.TrustedRootPath); code != exitUsage {
		t.Errorf("no policy: exit %d", code)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte(strings.Replace(checkPolicy, "issuer:", "isuer:", 1)), 0o644)
	if _, stderr, code := run(t, "check", repo, "--policy", bad, "--trusted-root", w.TrustedRootPath); code != exitUsage || !strings.Contains(stderr, "keyless.isuer") {
		t.Errorf("bad policy: exit %d %s", code, stderr)
	}
	// The registry is gone: operational error, never a pass.
	w.Registry.Close()
	if _, _, code := run(t, "check", repo, "--app", "api", "--policy", pol, "--trusted-root", w.TrustedRootPath, "--registry-retries", "0"); code != exitOperational {
		t.Errorf("registry down: exit %d", code)
	}
}

func TestPolicyLint(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(strings.ReplaceAll(checkPolicy, "REGISTRY", "ghcr.io/acme")), 0o644)
	risky := filepath.Join(dir, "risky.yaml")
	os.WriteFile(risky, []byte(strings.Replace(strings.ReplaceAll(checkPolicy, "REGISTRY", "ghcr.io/acme"),
		`subject: "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*"`, `subjectRegExp: "https://github.com/acme/"`, 1)), 0o644)
	out, _, code := run(t, "policy", "lint", good, risky)
	if code != exitOK || !strings.Contains(out, "OK    "+good) || !strings.Contains(out, "not anchored") || !strings.Contains(out, "Pod rules also apply to") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	bad := filepath.Join(dir, "notary.yaml")
	os.WriteFile(bad, []byte(strings.Replace(checkPolicy, "- imageReferences:", "- type: Notary\n          imageReferences:", 1)), 0o644)
	out, _, code = run(t, "policy", "lint", bad)
	if code != exitUsage || !strings.Contains(out, "Notary signatures are not supported") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}
