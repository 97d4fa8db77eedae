package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckNothingVerifiedIsNotPass: a gate pointed at a directory with no
// app verified nothing, and must not be green; the repository with apps
// still passes.
func TestCheckNothingVerifiedIsNotPass(t *testing.T) {
	w, repo, pol, _, _ := checkWorld(t)
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "README.md"), []byte("# not a GitOps repository\n"), 0o644)
	for _, dir := range []string{empty, filepath.Join(empty, "")} {
		out, stderr, code := run(t, "check", dir, "--policy", pol, "--trusted-root", w.TrustedRootPath)
		if code != exitUsage || !strings.Contains(stderr, dir) || !strings.Contains(stderr, "no apps found") || strings.Contains(out, "PASS") {
			t.Errorf("check of a directory with no app: exit %d, want %d naming %s\n%s\n%s", code, exitUsage, dir, out, stderr)
		}
	}
	// The same directory through the other commands that verify.
	if _, stderr, code := run(t, "pin", empty, "--dry-run", "--policy", pol, "--trusted-root", w.TrustedRootPath); code != exitUsage || !strings.Contains(stderr, "no apps found") {
		t.Errorf("pin of a directory with no app: exit %d %s", code, stderr)
	}
	if out, _, code := run(t, "check", repo, "--app", "api", "--policy", pol, "--trusted-root", w.TrustedRootPath); code != exitOK {
		t.Errorf("a repository with apps: exit %d\n%s", code, out)
	}
}

// TestCheckUnreadableTrustRootIsConfigError: a --trusted-root that cannot
// be read is a usage error, said once, and no registry is contacted.
func TestCheckUnreadableTrustRootIsConfigError(t *testing.T) {
	w, repo, pol, _, _ := checkWorld(t)
	garbage := filepath.Join(t.TempDir(), "trusted_root.json")
	os.WriteFile(garbage, []byte("not json"), 0o644)
	for _, tr := range []string{filepath.Join(t.TempDir(), "missing.json"), garbage} {
		w.Registry.ResetRequests()
		out, stderr, code := run(t, "check", repo, "--policy", pol, "--trusted-root", tr)
		if code != exitUsage || strings.Count(out+stderr, tr) != 1 || !strings.Contains(stderr, "--trusted-root") {
			t.Errorf("--trusted-root %s: exit %d, want %d, the path named once:\n%s\n%s", tr, code, exitUsage, out, stderr)
		}
		if n := w.Registry.Requests(); n != 0 {
			t.Errorf("--trusted-root %s: %d registry requests before the configuration error", tr, n)
		}
	}
}

// TestCheckUnmatchedImagesSayWhy: an image no rule matches passes
// unverified, and the table says so on the image and in the summary.
func TestCheckUnmatchedImagesSayWhy(t *testing.T) {
	w, repo, _, _, unsigned := checkWorld(t)
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(pol, []byte(strings.ReplaceAll(checkPolicy, "REGISTRY/*", w.Registry.Host+"/acme/api*")), 0o644)
	out, stderr, code := run(t, "check", repo, "--policy", pol, "--trusted-root", w.TrustedRootPath)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"UNMATCHED", unsigned, "no rule matches this image, so it was not verified; --require-match",
		"PASS: 2 images: 1 verified, 1 not verified: no rule matches it (worker)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = run(t, "check", repo, "--policy", pol, "--trusted-root", w.TrustedRootPath, "--require-match")
	if code != exitDenied || !strings.Contains(out, "FAIL: 2 images: 1 verified, 1 failed (worker)") {
		t.Errorf("--require-match: exit %d\n%s", code, out)
	}
}

// TestPolicyNothingToVerify: a policy set without a verifyImages rule, and
// a policy directory holding a document that is not a policy (a misspelt
// kind), are configuration errors; an explicit ignore pattern excludes a
// file that is not a policy.
func TestPolicyNothingToVerify(t *testing.T) {
	w, repo, _, _, _ := checkWorld(t)
	validateOnly := filepath.Join(t.TempDir(), "validate.yaml")
	os.WriteFile(validateOnly, []byte(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-labels}
spec:
  rules:
    - name: labels
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate: {message: labels, pattern: {metadata: {labels: {app: "?*"}}}}
`), 0o644)
	if _, stderr, code := run(t, "check", repo, "--policy", validateOnly, "--trusted-root", w.TrustedRootPath); code != exitUsage || !strings.Contains(stderr, "no verifyImages rule") {
		t.Errorf("check with a validate-only policy: exit %d %s", code, stderr)
	}
	if out, _, code := run(t, "policy", "lint", validateOnly); code != exitUsage || !strings.Contains(out, "ERROR") || !strings.Contains(out, "no verifyImages rule: the gate would verify nothing") {
		t.Errorf("lint of a validate-only policy: exit %d\n%s", code, out)
	}

	dir := t.TempDir()
	good := strings.ReplaceAll(checkPolicy, "REGISTRY", w.Registry.Host)
	os.WriteFile(filepath.Join(dir, "signed.yaml"), []byte(good), 0o644)
	os.WriteFile(filepath.Join(dir, "typo.yaml"), []byte(strings.Replace(strings.Replace(good, "ClusterPolicy", "ClusterPolcy", 1), "acme-signed", "other", 1)), 0o644)
	out, _, code := run(t, "policy", "lint", dir)
	if code != exitUsage || !strings.Contains(out, "typo.yaml:2: kind: \"ClusterPolcy\"") || !strings.Contains(out, "did you mean ClusterPolicy?") {
		t.Errorf("lint of a misspelt kind: exit %d\n%s", code, out)
	}
	if _, stderr, code := run(t, "check", repo, "--policy", dir, "--trusted-root", w.TrustedRootPath); code != exitUsage || !strings.Contains(stderr, "ClusterPolcy") {
		t.Errorf("check with a misspelt kind: exit %d %s", code, stderr)
	}
	os.Remove(filepath.Join(dir, "typo.yaml"))
	os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [signed.yaml]\n"), 0o644)
	if out, _, code := run(t, "policy", "lint", dir); code != exitUsage || !strings.Contains(out, "--policy-ignore") {
		t.Errorf("lint of a kustomization in a policy directory: exit %d\n%s", code, out)
	}
	out, _, code = run(t, "policy", "lint", dir, "--policy-ignore", "kustomization.yaml")
	if code != exitOK || !strings.Contains(out, "SKIP  "+filepath.Join(dir, "kustomization.yaml")+" (ignored: kustomization.yaml)") || !strings.Contains(out, "OK    ") {
		t.Errorf("lint with --policy-ignore: exit %d\n%s", code, out)
	}
	if out, stderr, code := run(t, "check", repo, "--app", "api", "--policy", dir, "--policy-ignore", "kustomization.yaml", "--trusted-root", w.TrustedRootPath); code != exitOK {
		t.Errorf("check with --policy-ignore: exit %d\n%s\n%s", code, out, stderr)
	}
}
