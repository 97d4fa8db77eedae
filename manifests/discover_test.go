package manifests

import (
	"context"
	"github.com/gitops-gate/gitops-gate/manifests/argocd"
	"strings"
	"testing"
)

func TestDiscoverFromConfigFile(t *testing.T) {
	dir := writeTree(t, map[string]string{
		".gitops-gate.yaml": `
			apps:
			- name: web
			  path: apps/web/overlays/prod
			- name: chart
			  path: charts/api
			  namespace: api
			  helm:
			    releaseName: api
			    valueFiles: [values-prod.yaml]
			    parameters:
			    - {name: image.tag, value: "2.0"}
			- path: raw
			  directory: {recurse: false}
			imageExtractors:
			  Task:
			  - path: /spec/steps/*/image
			`,
		"apps/web/base/kustomization.yaml":          "resources: [d.yaml]\n",
		"apps/web/base/d.yaml":                      goodDeployment,
		"apps/web/overlays/prod/kustomization.yaml": "resources: [../../base]\nimages:\n- name: registry.example/good\n  newTag: \"2\"\n",
		"charts/api/Chart.yaml":                     "apiVersion: v2\nname: api\nversion: 0.1.0\n",
		"charts/api/values.yaml":                    "image: {repository: registry.example/api, tag: \"1.0\"}\n",
		"charts/api/values-prod.yaml":               "image: {tag: \"1.5\"}\n",
		"charts/api/templates/d.yaml":               "apiVersion: v1\nkind: Pod\nmetadata: {name: {{ .Release.Name }}, namespace: {{ .Release.Namespace }}}\nspec:\n  containers:\n  - name: api\n    image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n",
		"raw/t.yaml":                                "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  steps:\n  - {name: s, image: registry.example/step:1}\n",
		"raw/sub/ignored.yaml":                      goodDeployment,
		"elsewhere/not-listed.yaml":                 goodDeployment,
	})
	inv := scan(t, dir, Options{})
	if len(inv.Apps) != 3 {
		t.Fatalf("got %d apps, want the 3 listed: %+v", len(inv.Apps), inv.Apps)
	}
	web := appByName(t, inv, "web")
	if web.Kind != KindKustomize || len(web.Images) != 1 || web.Images[0].Image != "registry.example/good:2" {
		t.Errorf("web: %+v", web)
	}
	// The tag is written in the overlay's images: entry, so that is where it points.
	if im := web.Images[0]; im.File != "apps/web/overlays/prod/kustomization.yaml" || im.Line != 3 {
		t.Errorf("web image located at %s:%d, want the overlay's images entry", im.File, im.Line)
	}
	chart := appByName(t, inv, "chart")
	if chart.Error != "" || len(chart.Images) != 1 {
		t.Fatalf("chart: %+v", chart)
	}
	if im := chart.Images[0]; im.Image != "registry.example/api:2.0" || im.Resource.Name != "api" || im.Resource.Namespace != "api" || im.File != "charts/api/templates/d.yaml" {
		t.Errorf("chart image %+v: want parameters over value files over values.yaml", im)
	}
	raw := appByName(t, inv, "raw")
	if len(raw.Images) != 1 || raw.Images[0].Image != "registry.example/step:1" {
		t.Errorf("raw: %+v (recurse: false and the Task extractor from the config)", raw)
	}
}

func TestConfigFileErrorsNameTheLine(t *testing.T) {
	dir := writeTree(t, map[string]string{".gitops-gate.yaml": "apps:\n- name: a\n  path: a\n  helmm: {}\n"})
	repo, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = repo.Discover(context.Background())
	if err == nil || !strings.Contains(err.Error(), ".gitops-gate.yaml:4") || !strings.Contains(err.Error(), "helmm") {
		t.Errorf("err = %v, want the file, line 4 and the unknown field", err)
	}
}

func TestDiscoverLayoutFallback(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"base/kustomization.yaml":          "resources: [d.yaml]\n",
		"base/d.yaml":                      goodDeployment,
		"overlays/dev/kustomization.yaml":  "resources: [../../base]\n",
		"overlays/prod/kustomization.yaml": "resources: [../../base, extra/job.yaml]\n",
		"overlays/prod/extra/job.yaml":     "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n      containers: [{name: j, image: registry.example/job:1}]\n",
		"charts/c/Chart.yaml":              "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"charts/c/values.yaml":             "{}\n",
		"charts/c/templates/cm.yaml":       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
		"charts/c/charts/sub/Chart.yaml":   "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
		"plain/a.yaml":                     goodDeployment,
		"plain/nested/b.yaml":              goodDeployment,
		"docs/renovate.json":               `{"extends": ["config:base"]}`,
		".github/workflows/ci.yaml":        "on: push\njobs: {}\n",
	})
	inv := scan(t, dir, Options{})
	var got []string
	for _, a := range inv.Apps {
		got = append(got, a.Name+"="+string(a.Kind))
		if a.Error != "" {
			t.Errorf("%s: %s", a.Name, a.Error)
		}
	}
	want := "charts/c=helm overlays/dev=kustomize overlays/prod=kustomize plain=plain plain/nested=plain"
	if strings.Join(got, " ") != want {
		t.Errorf("apps = %v\nwant   %v", strings.Join(got, " "), want)
	}
	if n := len(appByName(t, inv, "overlays/prod").Images); n != 2 {
		t.Errorf("overlays/prod: %d images, want 2", n)
	}
}

func TestDiscoverArgoCDApplications(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"argocd/apps.yaml": `
			apiVersion: argoproj.io/v1alpha1
			kind: Application
			metadata: {name: web-prod, namespace: argocd}
			spec:
			  destination: {namespace: web}
			  source:
			    repoURL: git@github.com:acme/gitops.git
			    path: web
			    kustomize:
			      namePrefix: prod-
			      images:
			      - registry.example/good=registry.example/good:9
			      - registry.example/sidecar@sha256:0000000000000000000000000000000000000000000000000000000000000000
			---
			apiVersion: argoproj.io/v1alpha1
			kind: Application
			metadata: {name: api}
			spec:
			  destination: {namespace: api}
			  sources:
			  - repoURL: https://github.com/acme/gitops
			    path: charts/api
			    helm:
			      valueFiles: [$values/env/prod/api.yaml]
			  - repoURL: https://github.com/acme/gitops.git
			    ref: values
			  - repoURL: https://charts.example.com
			    chart: redis
			    targetRevision: 1.0.0
			  - repoURL: https://github.com/other/repo
			    path: somewhere
			---
			apiVersion: argoproj.io/v1alpha1
			kind: Application
			metadata: {name: patched}
			spec:
			  source:
			    repoURL: https://github.com/acme/gitops
			    path: web
			    kustomize:
			      patches:
			      - target: {kind: Deployment}
			        patch: "[]"
			---
			apiVersion: argoproj.io/v1alpha1
			kind: Application
			metadata: {name: gone}
			spec:
			  source: {repoURL: https://github.com/acme/gitops, path: deleted/app}
			`,
		"web/kustomization.yaml":      "resources: [d.yaml]\n",
		"web/d.yaml":                  goodDeployment + "      - name: sidecar\n        image: registry.example/sidecar:1\n",
		"charts/api/Chart.yaml":       "apiVersion: v2\nname: api\nversion: 0.1.0\n",
		"charts/api/values.yaml":      "tag: \"1\"\n",
		"charts/api/templates/p.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: api}\nspec:\n  containers: [{name: api, image: \"registry.example/api:{{ .Values.tag }}\"}]\n",
		"env/prod/api.yaml":           "tag: \"7\"\n",
		"unclaimed/d.yaml":            goodDeployment,
	})
	inv := scan(t, dir, Options{RepoURL: "https://github.com/acme/gitops"})
	web := appByName(t, inv, "web-prod")
	if web.Error != "" || len(web.Images) != 2 {
		t.Fatalf("web-prod: %+v", web)
	}
	got := web.Images[0].Image + " " + web.Images[1].Image
	if got != "registry.example/good:9 registry.example/sidecar@sha256:0000000000000000000000000000000000000000000000000000000000000000" {
		t.Errorf("web-prod images %q: want Argo CD's kustomize.images applied", got)
	}
	api := appByName(t, inv, "api[0]")
	if api.Error != "" || len(api.Images) != 1 || api.Images[0].Image != "registry.example/api:7" {
		t.Errorf("api[0]: %+v: want $values/env/prod/api.yaml applied", api)
	}
	if e := appByName(t, inv, "api[2]").Error; !strings.Contains(e, `Helm chart "redis" from https://charts.example.com is not in this repository`) || !strings.Contains(e, "--allow-source") {
		t.Errorf("remote chart source: %q", e)
	}
	// A source in another repository is an error naming it, never skipped.
	if e := appByName(t, inv, "api[3]").Error; !strings.Contains(e, "https://github.com/other/repo") || !strings.Contains(e, "--allow-source") {
		t.Errorf("other repository source: %q", e)
	}
	// Argo CD appends kustomize.patches to the kustomization; so does the gate.
	if p := appByName(t, inv, "patched"); p.Error != "" || len(p.Images) != 2 {
		t.Errorf("patched: %+v", p)
	}
	if e := appByName(t, inv, "gone").Error; !strings.Contains(e, "deleted/app") || !strings.Contains(e, "does not exist") {
		t.Errorf("gone: %q", e)
	}
	// A directory no Application claims is still checked.
	if n := len(appByName(t, inv, "unclaimed").Images); n != 1 {
		t.Errorf("unclaimed: %d images", n)
	}
	for _, a := range inv.Apps {
		if a.Path == "web" && a.Name != "web-prod" && a.Name != "patched" {
			t.Errorf("web is covered by Applications but also listed as %q", a.Name)
		}
	}
}

func TestParseImageOverrides(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"nginx:1.25", "{nginx  1.25 }"},
		{"nginx=registry.example/nginx:1.25", "{nginx registry.example/nginx 1.25 }"},
		{"app=registry.example/app@sha256:abc", "{app registry.example/app  sha256:abc}"},
		{"app@sha256:abc", "{app   sha256:abc}"},
		{"app=registry.example:5000/app:v1@sha256:abc", "{app registry.example:5000/app v1 sha256:abc}"},
		{"registry.example:5000/app:v1", "{registry.example:5000/app  v1 }"},
	} {
		imgs, err := argocd.ParseImageOverrides([]string{c.in})
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		i := imgs[0]
		if got := "{" + i.Name + " " + i.NewName + " " + i.NewTag + " " + i.Digest + "}"; got != c.want {
			t.Errorf("%s: got %s, want %s", c.in, got, c.want)
		}
	}
	if _, err := argocd.ParseImageOverrides([]string{"justaname"}); err == nil {
		t.Error("a bare name is not an override")
	}
}

func TestNormalizeRepoURL(t *testing.T) {
	same := []string{"https://github.com/Acme/GitOps.git", "git@github.com:acme/gitops.git", "ssh://git@github.com/acme/gitops", "https://github.com/acme/gitops/"}
	for _, s := range same {
		if got := argocd.NormalizeRepoURL(s); got != "github.com/acme/gitops" {
			t.Errorf("argocd.NormalizeRepoURL(%q) = %q", s, got)
		}
	}
}

func TestHelmVendoredDependencyRenders(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"chart/Chart.yaml":                        "apiVersion: v2\nname: web\nversion: 0.1.0\ndependencies:\n- name: cache\n  version: 1.0.0\n  repository: https://charts.example.com\n",
		"chart/values.yaml":                       "cache:\n  tag: \"7\"\n",
		"chart/templates/p.yaml":                  "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: web, image: registry.example/web:1}]\n",
		"chart/charts/cache/Chart.yaml":           "apiVersion: v2\nname: cache\nversion: 1.0.0\n",
		"chart/charts/cache/values.yaml":          "tag: \"6\"\n",
		"chart/charts/cache/templates/cache.yaml": "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: cache}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: \"registry.example/cache:{{ .Values.tag }}\"}]\n",
	})
	a := appByName(t, scan(t, dir, Options{}), "chart")
	if a.Error != "" || len(a.Images) != 2 {
		t.Fatalf("%+v", a)
	}
	if im := a.Images[0]; im.Image != "registry.example/cache:7" || im.File != "chart/charts/cache/templates/cache.yaml" {
		t.Errorf("subchart image %+v: want the parent's values applied and the subchart's template named", im)
	}
}

func TestAppOfAppsIsRenderedOnce(t *testing.T) {
	repo, err := Open(corpusDir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Discover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := repo.prerendered.Load("apps"); !ok {
		t.Fatal("discovery did not keep the app-of-apps render")
	}
	rd := repo.Render(context.Background(), App{Name: "apps", Path: "apps", Kind: KindHelm, DefinedIn: definedByLayout})
	if rd.Err != nil || len(rd.Resources) == 0 {
		t.Fatalf("reused render: %v", rd.Err)
	}
	if _, ok := repo.prerendered.Load("apps"); ok {
		t.Error("a kept render must be used once")
	}
}

func TestKustomizeAmbiguousOriginsUseExactTracking(t *testing.T) {
	dep := func(img string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: " + img + "\n"
	}
	dir := writeTree(t, map[string]string{
		"a/kustomization.yaml":   "namePrefix: a-\nresources: [web.yaml]\n",
		"a/web.yaml":             dep("registry.example/a:1"),
		"b/kustomization.yaml":   "namePrefix: b-\nresources: [web.yaml]\n",
		"b/web.yaml":             dep("registry.example/b:1"),
		"app/kustomization.yaml": "resources: [../a, ../b]\n",
	})
	a := appByName(t, scan(t, dir, Options{}), "app")
	if a.Error != "" || len(a.Images) != 2 {
		t.Fatalf("%+v", a)
	}
	for _, im := range a.Images {
		want := "a/web.yaml"
		if im.Image == "registry.example/b:1" {
			want = "b/web.yaml"
		}
		if im.File != want || im.Line != 9 {
			t.Errorf("%s (%s) located at %s:%d, want %s:9", im.Image, im.Resource.Name, im.File, im.Line, want)
		}
	}
}
