package gate_test

import (
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// ATTACK: an exclude written with a group/version or a subresource (batch/v1/*, Job/*, batch/*/*) excludes every kind in the gate, so a Deployment's unsigned image is unmatched.
//
// Kyverno parses a kind selector into group, version, kind and subresource
// (kyverno/kyverno pkg/utils/kube/kind.go ParseKindSelector, matched by
// pkg/utils/match/kind.go CheckKind): "batch/v1/*" is every kind of the
// batch group, "Job/*" is Job and its subresources. The gate keeps only the
// text after the last '/', "*", which excludes every kind, Pods included, so
// neither the Deployment rule nor the Pod rule judges the Deployment that
// Kyverno denies.
func TestAttackKindSelectorWithGroupOrSubresourceExcludesEverything(t *testing.T) {
	e := newEnv(t)
	e.push("acme/unsigned:v1")
	unsigned := e.w.Ref("acme/unsigned:v1")
	for _, sel := range []string{`"batch/v1/*"`, `"batch/*/*"`, `"Job/*"`, `"CronJob/*"`, `"apps/v1/DaemonSet/*"`} {
		t.Run(sel, func(t *testing.T) {
			doc := strings.Replace(acmePolicy, "    verifyImages:", "    exclude:\n      any:\n      - resources:\n          kinds: ["+sel+"]\n    verifyImages:", 1)
			pols := e.policy(doc, true)
			rep := e.evaluateRefs(pols, []manifests.ImageRef{
				refAt(unsigned, "apps/v1", "Deployment", "prod", "spec.template.spec.containers[0].image"),
				refAt(unsigned, "v1", "Pod", "prod", "spec.containers[0].image"),
			})
			for _, v := range rep.Apps[0].Images {
				if v.Status != gate.StatusFail {
					t.Errorf("%s with exclude kinds [%s]: verdict %s %q, want fail (Kyverno does not exclude it)", v.Resource.Kind, sel, v.Status, v.Reason)
				}
			}
			if rep.Result == gate.StatusPass {
				t.Errorf("result pass for an unsigned Deployment Kyverno denies")
			}
		})
	}
}
