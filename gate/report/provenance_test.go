package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/policy/conditions"
	"github.com/gitops-gate/gitops-gate/gate/verify"
	"github.com/gitops-gate/gitops-gate/manifests"
)

func TestSARIFShowsProvenance(t *testing.T) {
	im := gate.ImageVerdict{ImageRef: manifests.ImageRef{Image: "ghcr.io/acme/api:v2", File: "d.yaml", Line: 3}, Status: gate.StatusFail,
		Reason: "runDetails.builder.id: want X, got Y",
		Attestations: []verify.Statement{{PredicateType: "https://slsa.dev/provenance/v1", Format: verify.FormatBundle,
			Signer:     &verify.Signer{Issuer: "https://token.actions.githubusercontent.com", Subject: "https://github.com/acme/api/.github/workflows/release.yml@refs/tags/v2"},
			Provenance: &verify.Provenance{BuilderID: "Y", SourceRepository: "https://github.com/acme/api", SourceRef: "refs/tags/v2", SourceCommit: "abc"}}},
		FailedCondition: &conditions.Failure{Key: "runDetails.builder.id", Operator: "Equals", Want: `"X"`, Got: `"Y"`}}
	rep := &gate.Report{APIVersion: gate.APIVersion, Result: gate.StatusFail, Apps: []gate.AppVerdict{{Name: "api", Images: []gate.ImageVerdict{im}}}}
	var b bytes.Buffer
	if err := WriteSARIF(&b, rep, "test"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Attestations found: https://slsa.dev/provenance/v1 signed by https://github.com/acme/api/.github/workflows/release.yml@refs/tags/v2 (https://token.actions.githubusercontent.com) (builder Y, source https://github.com/acme/api@refs/tags/v2, commit abc)",
		`"failedCondition": {`, `"builderId": "Y"`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("SARIF lacks %q:\n%s", want, b.String())
		}
	}
}
