package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadRefusesDocumentsThatAreNotPolicies: a misspelt kind, a policy
// kind outside kyverno.io and any other object in a policy file or
// directory are errors naming file, line and the nearest kind, so no
// policy is dropped in silence; an ignore pattern excludes a file that is
// not a policy, and lists it.
func TestLoadRefusesDocumentsThatAreNotPolicies(t *testing.T) {
	for _, c := range []struct{ name, doc, want string }{
		{"misspelt kind", strings.Replace(githubPolicy, "kind: ClusterPolicy", "kind: ClusterPolcy", 1), `p.yaml:3: kind: "ClusterPolcy" (apiVersion "kyverno.io/v1") is not a policy kind gitops-gate reads (kyverno.io ClusterPolicy or Policy; policies.kyverno.io ImageValidatingPolicy, NamespacedImageValidatingPolicy or PolicyException); did you mean ClusterPolicy?`},
		{"lower case", strings.Replace(githubPolicy, "kind: ClusterPolicy", "kind: clusterpolicy", 1), "did you mean ClusterPolicy?"},
		{"wrong group", strings.Replace(githubPolicy, "kyverno.io/v1", "policy.example.com/v1", 1), `apiVersion: "policy.example.com/v1": a ClusterPolicy is read only from kyverno.io`},
		{"another object", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", `kind: "ConfigMap" (apiVersion "v1") is not a policy kind`},
		{"no kind", "apiVersion: kyverno.io/v1\nmetadata: {name: x}\n", "kind: missing"},
		{"a list", "- a\n- b\n", "not a Kubernetes object"},
		{"second document", githubPolicy + "---\n" + strings.Replace(githubPolicy, "kind: ClusterPolicy", "kind: ClusterPolcy", 1), "ClusterPolcy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(c.doc))
			var le *LoadError
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, &le) {
				t.Errorf("err = %v\nwant a *LoadError containing %q", err, c.want)
			}
			if err != nil && !strings.Contains(err.Error(), "--policy-ignore") {
				t.Errorf("the error does not say how to exclude a file: %v", err)
			}
		})
	}

	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "tests"), 0o755)
	os.WriteFile(filepath.Join(dir, "verify.yaml"), []byte(githubPolicy), 0o644)
	os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "tests", "resource.yaml"), []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n"), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "Kustomization") || !strings.Contains(err.Error(), "tests/resource.yaml") {
		t.Errorf("a directory with non-policy files: %v", err)
	}
	set, err := LoadWith(LoadOptions{Ignore: []string{"kustomization.yaml", "tests"}}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Policies) != 1 || len(set.Ignored) != 2 || !strings.Contains(set.Ignored[0], "kustomization.yaml (ignored: kustomization.yaml)") {
		t.Errorf("policies %d, ignored %q", len(set.Policies), set.Ignored)
	}
	if _, err := LoadWith(LoadOptions{Ignore: []string{"[unclosed"}}, dir); err == nil || !strings.Contains(err.Error(), `"[unclosed"`) {
		t.Errorf("a bad pattern: %v", err)
	}
}

// TestLoadRefusesASetThatVerifiesNothing: policies with only validate,
// mutate or generate rules verify no image; a set of them is an error, a
// set with one verifyImages rule is not.
func TestLoadRefusesASetThatVerifiesNothing(t *testing.T) {
	dir := t.TempDir()
	validate := `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-labels}
spec:
  rules:
    - name: labels
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate: {message: labels, pattern: {metadata: {labels: {app: "?*"}}}}
`
	os.WriteFile(filepath.Join(dir, "labels.yaml"), []byte(validate), 0o644)
	_, err := Load(dir)
	if !errors.Is(err, ErrNoRules) || !strings.Contains(err.Error(), "ClusterPolicy require-labels") {
		t.Errorf("err = %v, want ErrNoRules naming the policy", err)
	}
	os.WriteFile(filepath.Join(dir, "verify.yaml"), []byte(githubPolicy), 0o644)
	if set, err := Load(dir); err != nil || len(set.Rules()) != 1 {
		t.Errorf("with a verifyImages rule: %v", err)
	}
}

// A policy ConfigMap mounted as a volume (as deploy/ does) holds every file
// twice, through Kubernetes' atomic-writer "..data" entries; each policy is
// read once.
func TestLoadConfigMapVolume(t *testing.T) {
	src, err := os.ReadFile("../../testdata/policies/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ts := filepath.Join(dir, "..2026_12_01_19_00_00.123456789")
	if err := os.Mkdir(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ts, "demo.yaml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Base(ts), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/demo.yaml", filepath.Join(dir, "demo.yaml")); err != nil {
		t.Fatal(err)
	}
	set, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Policies) != 1 || set.Policies[0].File != filepath.Join(dir, "demo.yaml") {
		t.Fatalf("want the policy once, through the mounted name; got %d policies", len(set.Policies))
	}
}

// Two files defining the same policy leave the gate unable to know which
// one the cluster holds: a load error naming both, not a silent choice.
func TestLoadDuplicatePolicyName(t *testing.T) {
	src, err := os.ReadFile("../../testdata/policies/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"a.yaml", "b.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, f), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err = Load(dir)
	if err == nil || !strings.Contains(err.Error(), "b.yaml") || !strings.Contains(err.Error(), "also defined in "+filepath.Join(dir, "a.yaml")) {
		t.Fatalf("want a duplicate error naming both files, got %v", err)
	}
}
