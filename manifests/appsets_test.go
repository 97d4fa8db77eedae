package manifests

import (
	"encoding/json"
	"strings"
	"testing"
)

// appSetRepo is a repository driven by ApplicationSets: a git directories
// generator whose template overrides each app's image (which the layout
// alone would not show), a clusters generator over the configured clusters,
// and a pullRequest generator the gate cannot expand.
var appSetRepo = map[string]string{
	"apps/web/kustomization.yaml": "resources: [deploy.yaml]\n",
	"apps/web/deploy.yaml":        goodDeployment,
	"apps/api/kustomization.yaml": "resources: [deploy.yaml]\n",
	"apps/api/deploy.yaml":        goodDeployment,
	"apps/old/kustomization.yaml": "resources: [deploy.yaml]\n",
	"apps/old/deploy.yaml":        goodDeployment,
	"argocd/appsets.yaml": `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: apps, namespace: argocd}
spec:
  goTemplate: true
  generators:
  - git:
      repoURL: https://github.com/example/gitops.git
      revision: HEAD
      directories:
      - path: apps/*
      - path: apps/old
        exclude: true
  template:
    metadata: {name: '{{.path.basename}}'}
    spec:
      project: default
      source:
        repoURL: https://github.com/example/gitops.git
        path: '{{.path.path}}'
        kustomize:
          images: ['registry.example/good=registry.example/{{.path.basename}}:2.0']
      destination: {server: https://kubernetes.default.svc, namespace: '{{.path.basename}}'}
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: per-cluster}
spec:
  generators:
  - clusters:
      selector: {matchLabels: {env: prod}}
  template:
    metadata: {name: 'web-{{name}}'}
    spec:
      source: {repoURL: https://github.com/example/gitops.git, path: apps/web}
      destination: {server: '{{server}}', namespace: web}
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: previews}
spec:
  generators:
  - pullRequest: {github: {owner: example, repo: gitops}}
  template:
    metadata: {name: 'preview-{{number}}'}
    spec:
      source: {repoURL: https://github.com/example/gitops.git, path: apps/web}
      destination: {server: https://kubernetes.default.svc, namespace: 'preview-{{number}}'}
`,
}

// TestApplicationSetDiscovery: each Application an ApplicationSet
// generates is discovered, rendered and extracted like a written one, says
// which ApplicationSet made it, and a generator that needs a live service
// is an app error naming it (it used to be ignored: the apps it makes were
// never seen).
func TestApplicationSetDiscovery(t *testing.T) {
	dir := writeTree(t, appSetRepo)
	inv := scan(t, dir, Options{
		RepoURL:  "https://github.com/example/gitops",
		Clusters: []Cluster{{Name: "prod-eu", Server: "https://prod-eu.example", Labels: map[string]string{"env": "prod"}}, {Name: "dev", Server: "https://dev.example"}},
	})
	got := map[string]string{}
	for _, a := range inv.Apps {
		var imgs []string
		for _, im := range a.Images {
			imgs = append(imgs, im.Image)
		}
		s := a.Path + " " + strings.Join(imgs, ",")
		if a.GeneratedBy != nil {
			s += " by " + a.GeneratedBy.ApplicationSet + " " + a.GeneratedBy.Generator + " " + a.GeneratedBy.File
		}
		if a.Error != "" {
			s += " error: " + a.Error
		}
		got[a.Name] = s
	}
	want := map[string]string{
		"web":         "apps/web registry.example/web:2.0 by apps generators[0].git argocd/appsets.yaml:1",
		"api":         "apps/api registry.example/api:2.0 by apps generators[0].git argocd/appsets.yaml:1",
		"web-prod-eu": "apps/web registry.example/good:1 by per-cluster generators[0].clusters argocd/appsets.yaml:25",
		// excluded from the ApplicationSet: found by the layout
		"apps/old": "apps/old registry.example/good:1",
		"argocd":   "argocd ",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s:\n got %q\nwant %q", name, got[name], w)
		}
	}
	pr := got["previews[generators[0]]"]
	if !strings.Contains(pr, "error: argocd/appsets.yaml:38: ApplicationSet previews: generators[0]: pullRequest generator needs a live service") {
		t.Errorf("previews: %q", pr)
	}
	if len(got) != len(want)+1 {
		t.Errorf("apps: %q", got)
	}
	// The JSON output names the ApplicationSet (docs/output.md).
	b, _ := json.Marshal(inv)
	if !strings.Contains(string(b), `"generatedBy":{"applicationSet":"apps","generator":"generators[0].git","file":"argocd/appsets.yaml:1"}`) {
		t.Errorf("JSON: %s", b)
	}
}

// TestApplicationSetInfersRepoURL: with no --repo-url and no origin, the
// repository's URL is inferred from the generated Applications too (the
// service's checkouts have no origin), so they are not skipped as another
// repository's; a git generator then reads the checkout under that URL.
func TestApplicationSetInfersRepoURL(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"apps/web/deploy.yaml": goodDeployment,
		"argocd/set.yaml": `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: set}
spec:
  generators:
  - list: {elements: [{name: web-a, tag: "2"}]}
  - git: {repoURL: https://git.example/acme/gitops, directories: [{path: apps/*}]}
  template:
    metadata: {name: '{{name}}{{path.basename}}'}
    spec:
      source: {repoURL: 'https://git.example/acme/gitops.git', path: apps/web}
      destination: {server: https://kubernetes.default.svc, namespace: web}
`,
	})
	inv := scan(t, dir, Options{})
	for _, name := range []string{"web-a{{path.basename}}", "{{name}}web"} {
		if a := appByName(t, inv, name); a.GeneratedBy == nil || a.Error != "" || len(a.Images) != 1 {
			t.Errorf("%s: %+v", name, a)
		}
	}
}
