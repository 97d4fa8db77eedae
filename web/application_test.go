package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/service"
	"github.com/gitops-gate/gitops-gate/gate/store"
	"github.com/gitops-gate/gitops-gate/web"
)

// TestAPIApplicationField: POST /api/v1/evaluations takes the Argo CD
// Application's sources (the PreSync hook sends them, issue 12.5); the one
// app must be that source's path, and a malformed field is a 400, not a
// job.
func TestAPIApplicationField(t *testing.T) {
	g := newGate(t)
	// (cloneUrl keeps the queued job on the test's git server: the
	// repository's configuration here names none.)
	sha := g.repo.Commit("main", map[string]string{"apps/api/deploy.yaml": deployment("api", g.image("acme/api:v1", true))})
	svc, err := service.New(service.Options{Config: g.cfg, Store: g.store})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(web.Options{Service: svc, APITokens: []string{"tok"}}))
	defer srv.Close()
	post := func(body string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/evaluations", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		var out map[string]any
		json.Unmarshal(b.Bytes(), &out)
		return resp.StatusCode, out
	}
	app := `{"name":"api","namespace":"prod","sources":[{"repoURL":"https://github.com/acme/gitops.git","path":"apps/api","kustomize":{"images":["a=b"]}}],"source":0}`
	for _, c := range []struct {
		what, body string
		code       int
	}{
		{"apps other than the source's path", `{"repo":"acme/gitops","revision":"` + sha + `","apps":["apps/other"],"trigger":"argocd","application":` + app + `}`, http.StatusBadRequest},
		{"no apps", `{"repo":"acme/gitops","revision":"` + sha + `","trigger":"argocd","application":` + app + `}`, http.StatusBadRequest},
		{"a source index out of range", `{"repo":"acme/gitops","revision":"` + sha + `","apps":["apps/api"],"trigger":"argocd","application":{"name":"api","sources":[{"path":"apps/api"}],"source":3}}`, http.StatusBadRequest},
		{"the source's path", `{"repo":"acme/gitops","cloneUrl":"` + g.repo.CloneURL() + `","revision":"` + sha + `","apps":["apps/api"],"trigger":"argocd","application":` + app + `}`, http.StatusAccepted},
	} {
		if code, out := post(c.body); code != c.code {
			t.Errorf("%s: %d %v, want %d", c.what, code, out, c.code)
		}
	}
	evs, _, err := svc.List(t.Context(), store.Filter{})
	if err != nil || len(evs) != 1 || !strings.Contains(string(evs[0].Spec.Application), `"kustomize"`) {
		t.Errorf("the evaluation does not keep the application: %v %+v", err, evs)
	}
}
