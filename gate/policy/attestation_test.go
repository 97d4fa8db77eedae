package policy

import (
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/gate/policy/conditions"
)

const provenancePolicy = `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: provenance}
spec:
  rules:
  - name: slsa
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["ghcr.io/acme/*"]
      attestations:
      - type: https://slsa.dev/provenance/v1
        attestors:
        - entries:
          - keyless:
              subject: "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
              issuer: "https://token.actions.githubusercontent.com"
        conditions:
        - all:
          - key: "{{ runDetails.builder.id }}"
            operator: Equals
            value: "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
            message: built by the release workflow
          - key: "{{ buildDefinition.externalParameters.workflow.ref }}"
            operator: AnyIn
            value: [refs/heads/main, "refs/tags/v*"]
          - key: "{{ length(buildDefinition.resolvedDependencies) }}"
            operator: GreaterThanOrEquals
            value: 1
`

func TestLoadAttestations(t *testing.T) {
	pols, err := Parse("p.yaml", []byte(provenancePolicy))
	if err != nil {
		t.Fatal(err)
	}
	vf := pols[0].Rules[0].Verify[0]
	if len(vf.Attestors) != 0 || len(vf.Attestations) != 1 {
		t.Fatalf("want an attestations-only verification, got %+v", vf)
	}
	a := vf.Attestations[0]
	if a.Type != "https://slsa.dev/provenance/v1" || len(a.Attestors) != 1 || len(a.Conditions[0].All) != 3 {
		t.Fatalf("attestation %+v", a)
	}
	if got := a.Path(); got != "p.yaml: rule slsa verifyImages[0].attestations[0]" {
		t.Errorf("path %q", got)
	}
	pred := map[string]any{
		"runDetails":      map[string]any{"builder": map[string]any{"id": "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"}},
		"buildDefinition": map[string]any{"externalParameters": map[string]any{"workflow": map[string]any{"ref": "refs/tags/v1.2.0"}}, "resolvedDependencies": []any{map[string]any{}}},
	}
	if f, err := conditions.Evaluate(a.Conditions, pred, time.Now()); f != nil || err != nil {
		t.Fatalf("conditions as loaded: %v %v", f, err)
	}
	// The YAML integer value is compared as Kyverno compares it.
	pred["buildDefinition"].(map[string]any)["resolvedDependencies"] = []any{}
	if f, _ := conditions.Evaluate(a.Conditions, pred, time.Now()); f == nil || f.Key != "length(buildDefinition.resolvedDependencies)" {
		t.Fatalf("want the length condition to fail, got %v", f)
	}
}
