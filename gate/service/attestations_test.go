package service

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/gatetest/fakegithub"
	"github.com/gitops-gate/gitops-gate/gate/github"
	"github.com/gitops-gate/gitops-gate/gate/store"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// attestations: github in the service reads the configured GitHub's API
// (the organisation of the watched repository by default) with the
// gate's token, and the repository's checks decide.
func TestServiceGitHubAttestations(t *testing.T) {
	t.Setenv("GITOPS_GATE_UI_PASSWORD", "")
	ctx := context.Background()
	w := gatetest.NewWorld(t)
	d, err := w.PushImage(ctx, "acme/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	id := gatetest.DefaultGitHubIdentity()
	var bundle []byte
	if err := w.Sigstore.AttestImage(ctx, d, gatetest.AttestOptions{Format: gatetest.AttestBundle, Out: &bundle, PredicateType: gatetest.PredicateSLSAv1,
		Predicate: gatetest.SLSAProvenanceV1(gatetest.GitHubProvenance{Repository: id.Repository, Ref: id.Ref, Workflow: id.Workflow})}); err != nil {
		t.Fatal(err)
	}
	f := fakegithub.New(t)
	f.AddAttestation("acme/app", d.DigestStr(), bundle)
	base := f.Server.URL + "/api/v3/"
	for wf, want := range map[string]gate.Status{"release.yml": gate.StatusPass, "deploy.yml": gate.StatusFail} {
		c := loadYAML(t, fmt.Sprintf(`
dataDir: %s
github: {baseURL: '%s', token: ghp_gatetoken0123456789}
registries: {deny: []}
repos:
- name: acme/gitops
  trustedRoot: %s
  attestations: github
  githubAttestations: {signerWorkflow: acme/app/.github/workflows/%s, denySelfHostedRunners: true}
`, t.TempDir(), base, w.TrustedRootPath, wf), "")
		st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		gh, err := github.NewClient(github.Auth{Token: c.GitHub.Token, BaseURL: base}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(Options{Config: c, Store: st, GitHub: gh})
		if err != nil {
			t.Fatal(err)
		}
		e, err := s.engineFor("acme/gitops")
		if err != nil {
			t.Fatal(err)
		}
		ref := manifests.ImageRef{App: "app", Image: d.String(), File: "app/d.yaml", Line: 1,
			Resource: manifests.ResourceID{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "prod", Name: "web"}}
		rep := e.Evaluate(ctx, &manifests.Inventory{APIVersion: manifests.InventoryAPIVersion,
			Apps: []manifests.AppImages{{Name: "app", Path: "app", Kind: manifests.KindPlain, Images: []manifests.ImageRef{ref}}}})
		if v := rep.Apps[0].Images[0]; v.Status != want {
			t.Errorf("%s: %s: %s", wf, v.Status, v.Reason)
		}
	}
	reqs := f.AttestationRequests()
	if len(reqs) == 0 {
		t.Fatal("GitHub's attestations API was not asked")
	}
	for _, r := range reqs {
		if !strings.HasPrefix(r, "GET /api/v3/orgs/acme/attestations/"+d.DigestStr()) || !strings.HasSuffix(r, "auth=true") {
			t.Errorf("request %s: want the acme organisation's endpoint, with the gate's token", r)
		}
	}
}
