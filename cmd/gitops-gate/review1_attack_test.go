package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ATTACK: render --pin approves image strings, not objects: an unsigned image that passed where no rule applies (an excluded namespace) is accepted in an object Argo CD reads in a namespace the rule covers.
//
// PluginOutput re-extracts the images of the objects Argo CD decodes and
// requires each to be in Approved(report), a set of image strings. When an
// image passes in one place only because no rule applies there (namespace
// sandbox is excluded: the verdict is unmatched, which passes), the same
// string is "approved" everywhere. An object the gate's decoder does not
// see, or sees in another namespace, then carries it into prod: a
// ConfigMap with items: [Deployment in prod] (Argo CD expands any object
// with an items list), or a metadata block with namespace: twice (the gate
// reads the first, Argo CD the last). Kyverno denies those Pods in prod;
// the plugin prints them with exit 0. Each image in the output must have
// been judged for the object (kind and namespace) Argo CD will apply.
func TestAttackPluginOutputApprovesStringsNotObjects(t *testing.T) {
	w, _, _, _, unsigned := checkWorld(t)
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	excl := strings.Replace(checkPolicy, "      verifyImages:", "      exclude:\n        any:\n          - resources:\n              namespaces: [sandbox]\n      verifyImages:", 1)
	os.WriteFile(pol, []byte(strings.ReplaceAll(excl, "REGISTRY", w.Registry.Host)), 0o644)
	sandbox := fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: play, namespace: sandbox}\nspec:\n  template:\n    spec:\n      containers:\n        - {name: play, image: %s}\n", unsigned)
	prod := fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: prod}\nspec:\n  template:\n    spec:\n      containers:\n        - {name: web, image: %s}\n", unsigned)
	for _, c := range []struct {
		name, files string
		argo        bool // Argo CD applies an unsigned image in prod
	}{
		{"legitimate: the unsigned image only in the excluded namespace", sandbox, false},
		{"the same image in prod, seen by the gate", sandbox + "---\n" + prod, true},
		{"a ConfigMap carrying items: [Deployment in prod]", sandbox + "---\n" + fmt.Sprintf(
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: sandbox}\nitems:\n  - {apiVersion: apps/v1, kind: Deployment, metadata: {name: hidden, namespace: prod}, spec: {template: {spec: {containers: [{name: hidden, image: %s}]}}}}\n", unsigned), true},
		{"namespace: twice, the gate reads sandbox, Argo CD prod", fmt.Sprintf(
			"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: sandbox\n  namespace: prod\nspec:\n  template:\n    spec:\n      containers:\n        - {name: web, image: %s}\n", unsigned), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "app")
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, "all.yaml"), []byte(c.files), 0o644)
			t.Setenv("ARGOCD_APP_NAME", "web")
			t.Setenv("ARGOCD_APP_SOURCE_PATH", "app")
			out, stderr, code := run(t, "render", "--pin", dir, "--policy", pol, "--trusted-root", w.TrustedRootPath)
			if !c.argo {
				if code != exitOK {
					t.Errorf("legitimate variant refused: exit %d\n%s", code, stderr)
				}
				return
			}
			if code == exitOK {
				t.Errorf("Argo CD would run %s in namespace prod, where the rule applies and it is unsigned; render --pin passed:\n%s\n%s", unsigned, out, stderr)
			}
		})
	}
}
