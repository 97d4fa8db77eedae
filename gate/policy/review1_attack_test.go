package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const review1Policy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: NAME}
spec:
  rules:
  - name: signed
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["PATTERN"]
      attestors:
      - entries:
        - keyless: {issuer: "https://token.actions.githubusercontent.com", subject: "https://github.com/acme/*"}
`

// ATTACK: policies exported with kubectl get clusterpolicy -o yaml (a kind: List) in a policy directory are skipped in silence, so the images they cover pass unmatched.
//
// Parse keeps only documents of kind ClusterPolicy/Policy; a v1 List holding
// them is "another kind" and is dropped. A directory with any other policy
// file loads without error, and every image only the List's policies cover
// is unmatched, which passes. kubectl apply -f creates each item of a List,
// so the cluster enforces them. The List must be expanded, or refused.
func TestAttackPolicyListSkippedInSilence(t *testing.T) {
	dir := t.TempDir()
	one := strings.NewReplacer("NAME", "other", "PATTERN", "docker.io/other/*").Replace(review1Policy)
	os.WriteFile(filepath.Join(dir, "other.yaml"), []byte(one), 0o644)
	listed := strings.NewReplacer("NAME", "acme", "PATTERN", "ghcr.io/acme/*").Replace(review1Policy)
	// As kubectl get -o yaml writes it: each item indented under "- ".
	list := "apiVersion: v1\nkind: List\nmetadata: {resourceVersion: \"\"}\nitems:\n- " + strings.TrimPrefix(indent(listed, "  "), "  ") + "\n"
	os.WriteFile(filepath.Join(dir, "exported.yaml"), []byte(list), 0o644)
	set, err := Load(dir)
	if err != nil {
		return // refusing the List is safe
	}
	info := mustParse(t, "ghcr.io/acme/app:v1")
	for _, r := range set.Rules() {
		for _, v := range r.Verify {
			if m, _ := v.Match(info); m {
				return
			}
		}
	}
	t.Errorf("policy directory with a kind: List of ClusterPolicies loaded %d policies and no rule covers ghcr.io/acme/app:v1; the List was skipped in silence:\n%s", len(set.Policies), list)
}
