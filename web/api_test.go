package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/service"
	"github.com/gitops-gate/gitops-gate/gate/store"
	"github.com/gitops-gate/gitops-gate/web"
)

func TestPushToConfiguredBranchOnly(t *testing.T) {
	g := newGate(t)
	img := g.image("acme/api:v1", true)
	sha := g.repo.Commit("main", map[string]string{"apps/api/deploy.yaml": deployment("api", img)})
	g.repo.SetRef("refs/heads/main", sha)
	push := func(ref, delivery string) {
		body, _ := json.Marshal(map[string]any{"ref": ref, "after": sha,
			"repository": map[string]any{"full_name": "acme/gitops", "clone_url": g.repo.CloneURL()}})
		if resp := g.send("push", delivery, body, secret); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("push: %d", resp.StatusCode)
		}
	}
	push("refs/heads/feature", "push-feature")
	push("refs/heads/main", "push-main")
	st := g.waitFinal(sha)
	if st[len(st)-1].State != "success" {
		t.Errorf("push to main: %+v", st)
	}
	evs, total, _ := g.store.List(context.Background(), store.Filter{})
	if total != 1 || evs[0].Spec.Trigger != "push" || evs[0].Spec.Ref != "refs/heads/main" {
		t.Errorf("evaluations %d %+v: only the configured branch is evaluated", total, evs)
	}
}

func TestAPIRequiresTokenAndWaits(t *testing.T) {
	g := newGate(t)
	img := g.image("acme/api:v1", true)
	sha := g.repo.Commit("main", map[string]string{"apps/api/deploy.yaml": deployment("api", img)})
	g.repo.SetRef("refs/heads/main", sha)
	// A second front on the same service, with API tokens.
	svc, err := service.New(service.Options{Config: g.cfg, Store: g.store})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(web.Options{Service: svc, APITokens: []string{"tok-1"}}))
	defer srv.Close()
	call := func(method, path, token, body string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		json.Unmarshal(b.Bytes(), &out)
		return resp, out
	}
	body := `{"repo": "acme/gitops", "revision": "` + sha + `", "ref": "refs/heads/main", "cloneUrl": "` + g.repo.CloneURL() + `", "trigger": "argocd"}`
	if resp, _ := call("POST", "/api/v1/evaluations", "", body); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	if resp, _ := call("GET", "/api/v1/evaluations", "wrong", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", resp.StatusCode)
	}
	if resp, out := call("POST", "/api/v1/evaluations", "tok-1", `{"repo": "acme/unknown", "revision": "`+sha+`"}`); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown repository: %d %v", resp.StatusCode, out)
	}
	// The service workers of g run the job; the second front waits for it.
	resp, out := call("POST", "/api/v1/evaluations?wait=30s", "tok-1", body)
	if resp.StatusCode != http.StatusOK || out["state"] != "done" || out["result"] != "pass" {
		t.Fatalf("wait: %d %v", resp.StatusCode, out)
	}
	id := out["id"].(string)
	if resp, out := call("GET", "/api/v1/evaluations/"+id, "tok-1", ""); resp.StatusCode != http.StatusOK || out["report"] == nil {
		t.Errorf("get: %d", resp.StatusCode)
	}
	if resp, _ := call("GET", "/api/v1/evaluations/nope", "tok-1", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown id: %d", resp.StatusCode)
	}
	if resp, _ := call("POST", "/api/v1/evaluations?wait=forever", "tok-1", body); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad wait: %d", resp.StatusCode)
	}
	// An argocd request posts no commit status.
	for _, s := range g.gh.Statuses() {
		if s.SHA == sha {
			t.Errorf("an API evaluation posted a status: %+v", s)
		}
	}
}
