package gitsrc_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/gitsrc"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// TestRemoteValuesSource: a multi-source Application renders its chart
// from the repository under review with `$values/…` value files of a `ref:`
// source in another, allowed repository (a loopback git server). The ref is
// fetched with go-git at its targetRevision (a tag here, not the branch
// head, which holds other values), the values are that commit's, and the
// app names the commit; so does an Application whose source is that
// repository, in the inventory's JSON the verdict copies. The same
// Application with the values repository not on the allow-list is an app
// error naming the ref, and nothing is fetched.
func TestRemoteValuesSource(t *testing.T) {
	srv := gatetest.NewGitServer(t)
	values := srv.NewRepo("platform/values")
	tagged := values.Commit("v2 values", map[string]string{
		"env/prod/web.yaml": "image: registry.example/web:2.0\n",
		"deploy/d.yaml":     "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: worker}\nspec:\n  template:\n    spec:\n      containers: [{name: w, image: registry.example/worker:2.0}]\n",
	})
	values.SetRef("refs/tags/v2", tagged)
	head := values.Commit("later values", map[string]string{"env/prod/web.yaml": "image: registry.example/web:3.0-unreviewed\n"})
	values.SetRef("refs/heads/main", head)

	const thisRepo = "https://github.com/acme/gitops"
	checkout := t.TempDir()
	for name, content := range map[string]string{
		"charts/web/Chart.yaml":       "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"charts/web/values.yaml":      "image: registry.example/web:default\n",
		"charts/web/templates/d.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers: [{name: web, image: \"{{ .Values.image }}\"}]\n",
		"argocd/web.yaml": `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  destination: {namespace: prod}
  sources:
  - repoURL: ` + thisRepo + `
    path: charts/web
    helm: {valueFiles: [$values/env/prod/web.yaml]}
  - {repoURL: ` + values.CloneURL() + `, targetRevision: v2, ref: values}
`,
		"argocd/worker.yaml": `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: worker, namespace: argocd}
spec:
  destination: {namespace: prod}
  source: {repoURL: ` + values.CloneURL() + `, targetRevision: v2, path: deploy}
`,
	} {
		p := filepath.Join(checkout, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	scan := func(cache string, allow []string) (web, worker manifests.AppImages, js string) {
		t.Helper()
		f, err := gitsrc.New(gitsrc.Options{CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		src := &gitsrc.Sources{Fetcher: f, TmpRoot: t.TempDir()}
		defer src.Close()
		repo, err := manifests.Open(checkout, manifests.Options{RepoURL: thisRepo, AllowSources: allow, Sources: src})
		if err != nil {
			t.Fatal(err)
		}
		inv, _, err := repo.Scan(context.Background(), manifests.ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range inv.Apps {
			switch a.Name {
			case "web[0]":
				web = a
			case "worker":
				worker = a
			}
		}
		b, err := json.Marshal(inv)
		if err != nil {
			t.Fatal(err)
		}
		return web, worker, string(b)
	}

	a, w, js := scan(t.TempDir(), []string{values.CloneURL()})
	if a.Error != "" || len(a.Images) != 1 || a.Images[0].Image != "registry.example/web:2.0" {
		t.Fatalf("allowed values repository: error %q, images %+v", a.Error, a.Images)
	}
	if vs := a.ValueSources; len(vs) != 1 || vs[0].Ref != "values" || vs[0].Revision != "v2" || vs[0].Commit != tagged {
		t.Errorf("value sources %+v, want the ref at commit %s", vs, tagged)
	}
	// A source of the same repository: fetched once, its commit shown.
	if w.Error != "" || len(w.Images) != 1 || w.Images[0].Image != "registry.example/worker:2.0" || w.Remote == nil || w.Remote.Commit != tagged {
		t.Errorf("worker: error %q, images %+v, remote %+v", w.Error, w.Images, w.Remote)
	}
	// The inventory (which the verdict copies) names both commits.
	for _, want := range []string{
		`"valueSources":[{"ref":"values","repoURL":"` + values.CloneURL() + `","revision":"v2","commit":"` + tagged + `"}]`,
		`"remote":{"repoURL":"` + values.CloneURL() + `","revision":"v2","commit":"` + tagged + `"}`,
	} {
		if !strings.Contains(js, want) {
			t.Errorf("inventory JSON lacks %s:\n%s", want, js)
		}
	}

	cache := t.TempDir()
	a, _, _ = scan(cache, nil)
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("a repository not on the allow-list was fetched into the cache")
	}
	if !strings.Contains(a.Error, "ref source $values is repository "+values.CloneURL()) || !strings.Contains(a.Error, "--allow-source") || len(a.Images) != 0 {
		t.Errorf("values repository not allowed: error %q, images %+v", a.Error, a.Images)
	}
}
