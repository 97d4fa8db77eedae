package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/service"
	"github.com/gitops-gate/gitops-gate/gate/service/config"
	"github.com/gitops-gate/gitops-gate/gate/store"
	"github.com/gitops-gate/gitops-gate/web"
)

const ivpolPage = `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata: {name: acme-signed}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}]
  matchImageReferences: [{glob: "ghcr.io/acme/*"}]
  attestors:
    - name: release
      cosign:
        keyless:
          identities: [{issuer: "https://token.actions.githubusercontent.com", subject: "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1"}]
  validations:
    - expression: "images.containers.all(i, verifyImageSignatures(i, [attestors.release]) > 0)"
---
apiVersion: policies.kyverno.io/v1beta1
kind: PolicyException
metadata: {name: old-one}
spec:
  policyRefs: [{name: acme-signed, kind: ImageValidatingPolicy}]
  expiresAt: "2020-01-02T00:00:00Z"
---
apiVersion: policies.kyverno.io/v1beta1
kind: PolicyException
metadata: {name: current-one}
spec:
  policyRefs: [{name: acme-signed, kind: ImageValidatingPolicy}]
  expiresAt: "2999-01-02T00:00:00Z"
`

// TestPolicyPageShowsIVPOLAndExceptionExpiry: the policy page says what an
// ImageValidatingPolicy applies to, and when each exception expires.
func TestPolicyPageShowsIVPOLAndExceptionExpiry(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "ivpol.yaml")
	os.WriteFile(pol, []byte(ivpolPage), 0o644)
	cfgFile := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgFile, []byte("dataDir: "+dir+"\nrepos: [{name: acme/gitops, policies: ["+pol+"]}]\n"), 0o644)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := service.New(service.Options{Config: cfg, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(web.Options{Service: svc}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/policies")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	for _, want := range []string{
		"ImageValidatingPolicy acme-signed",
		"Applies to pods (CREATE)",
		`PolicyException old-one`, `<strong>expired</strong> <time datetime="2020-01-02T00:00:00Z">`,
		`PolicyException current-one`, `expires <time datetime="2999-01-02T00:00:00Z">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the policy page lacks %q", want)
		}
	}
}
