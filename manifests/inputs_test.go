package manifests

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// inputsOf is the app's input set as paths: "f path" for a file ("f- path"
// when it was absent), "d path" for a directory listing, "s path" for a
// path probed ("s- path" when absent).
func inputsOf(t *testing.T, a AppImages) []string {
	t.Helper()
	if a.Inputs == nil {
		t.Fatalf("app %s: no input set", a.Name)
	}
	if a.Inputs.Always != "" {
		t.Fatalf("app %s: always rendered: %s", a.Name, a.Inputs.Always)
	}
	var out []string
	for _, in := range a.Inputs.Inputs {
		switch {
		case in.Kind == InputDir:
			out = append(out, "d "+in.Path)
		case in.Kind == InputStat && in.Hash == "":
			out = append(out, "s- "+in.Path)
		case in.Kind == InputStat:
			out = append(out, "s "+in.Path)
		case in.Hash == "":
			out = append(out, "f- "+in.Path)
		default:
			out = append(out, "f "+in.Path)
		}
	}
	sort.Strings(out)
	return out
}

func wantInputs(t *testing.T, a AppImages, want, notWant []string) {
	t.Helper()
	got := inputsOf(t, a)
	has := map[string]bool{}
	for _, g := range got {
		has[g] = true
	}
	for _, w := range want {
		if !has[w] {
			t.Errorf("app %s: input %q not recorded; inputs:\n%s", a.Name, w, strings.Join(got, "\n"))
		}
	}
	for _, w := range notWant {
		if has[w] {
			t.Errorf("app %s: %q recorded, but the app does not read it", a.Name, w)
		}
	}
}

// TestInputSetKustomize: an overlay records its own kustomization, its
// remote-free base and the base's files, a component (from the
// kustomization and from the Application), a patch file and a generator's
// file, and the listings kustomize probed; not its neighbours.
func TestInputSetKustomize(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"base/kustomization.yaml": "resources: [deployment.yaml]\n",
		"base/deployment.yaml":    goodDeployment,
		"base/README.md":          "not read\n",
		"components/sidecar/kustomization.yaml": `
			apiVersion: kustomize.config.k8s.io/v1alpha1
			kind: Component
			patches:
			- path: sidecar.yaml
			`,
		"components/sidecar/sidecar.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: good}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: sidecar, image: registry.example/sidecar:1}\n",
		"components/extra/kustomization.yaml": `
			apiVersion: kustomize.config.k8s.io/v1alpha1
			kind: Component
			images:
			- {name: registry.example/good, newTag: "2"}
			`,
		"overlay/kustomization.yaml": `
			resources: [../base]
			components: [../components/sidecar]
			patches:
			- path: replicas.yaml
			configMapGenerator:
			- name: cfg
			  files: [app.properties]
			`,
		"overlay/replicas.yaml":    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: good}\nspec: {replicas: 3}\n",
		"overlay/app.properties":   "a=b\n",
		"other/kustomization.yaml": "resources: [d.yaml]\n",
		"other/d.yaml":             goodDeployment,
		"apps.yaml": `
			apiVersion: argoproj.io/v1alpha1
			kind: Application
			metadata: {name: overlay, namespace: argocd}
			spec:
			  destination: {namespace: web}
			  source:
			    repoURL: https://github.com/acme/gitops
			    path: overlay
			    kustomize:
			      components: [../components/extra]
			`,
	})
	inv := scan(t, dir, Options{RepoURL: "https://github.com/acme/gitops"})
	app := appByName(t, inv, "overlay")
	if app.Error != "" {
		t.Fatal(app.Error)
	}
	wantInputs(t, app, []string{
		"f overlay/kustomization.yaml", "f overlay/replicas.yaml", "f overlay/app.properties",
		"f base/kustomization.yaml", "f base/deployment.yaml",
		"f components/sidecar/kustomization.yaml", "f components/sidecar/sidecar.yaml",
		"f components/extra/kustomization.yaml",
		"d overlay", "d base", "d components/sidecar", "d components/extra",
		"f apps.yaml",                    // the Application that defines it
		"f- .gitops-gate.yaml",           // the repository's configuration, absent
		"s base", "s components/sidecar", // probed before they are read
	}, []string{"f other/d.yaml", "f other/kustomization.yaml", "f base/README.md", "d other",
		"d .", // a base found by path does not depend on its siblings
	})
}

// TestInputSetHelmValueFilesOutsideChart: a chart app records every file
// and directory of its chart, value files outside the chart, and $values
// files of another source.
func TestInputSetHelmValueFilesOutsideChart(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"charts/api/Chart.yaml":             "apiVersion: v2\nname: api\nversion: 0.1.0\n",
		"charts/api/values.yaml":            "tag: \"1\"\n",
		"charts/api/templates/p.yaml":       "apiVersion: v1\nkind: Pod\nmetadata: {name: api}\nspec:\n  containers: [{name: api, image: \"registry.example/api:{{ .Values.tag }}\"}]\n",
		"charts/api/templates/_helpers.tpl": "{{- define \"x\" }}x{{ end }}\n",
		"env/prod/api.yaml":                 "tag: \"7\"\n",
		"env/prod/other.yaml":               "tag: \"8\"\n",
		"shared/common.yaml":                "extra: true\n",
		"apps.yaml": `
			apiVersion: argoproj.io/v1alpha1
			kind: Application
			metadata: {name: api, namespace: argocd}
			spec:
			  destination: {namespace: api}
			  sources:
			  - repoURL: https://github.com/acme/gitops
			    path: charts/api
			    helm:
			      valueFiles: [../../shared/common.yaml, $values/env/prod/api.yaml, missing.yaml]
			      ignoreMissingValueFiles: true
			  - repoURL: https://github.com/acme/gitops.git
			    ref: values
			`,
	})
	inv := scan(t, dir, Options{RepoURL: "https://github.com/acme/gitops"})
	app := appByName(t, inv, "api[0]")
	if app.Error != "" || len(app.Images) != 1 || app.Images[0].Image != "registry.example/api:7" {
		t.Fatalf("api: %+v", app)
	}
	wantInputs(t, app, []string{
		"f charts/api/Chart.yaml", "f charts/api/values.yaml", "f charts/api/templates/p.yaml", "f charts/api/templates/_helpers.tpl",
		"d charts/api", "d charts/api/templates",
		"f shared/common.yaml", "f env/prod/api.yaml",
		"f- charts/api/missing.yaml", // ignored while missing, read once it appears
	}, []string{"f env/prod/other.yaml"})
}

// TestInputSetPlainDirectoryListing: a plain app records its files and its
// directory's listing, so that a file added to it changes the input set.
func TestInputSetPlainDirectoryListing(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"apps/web/d.yaml":                 goodDeployment,
		"apps/web/sub/kustomization.yaml": "resources: [x.yaml]\n",
		"apps/web/sub/x.yaml":             goodDeployment,
	})
	repo, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	inv, _, err := repo.Scan(t.Context(), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	app := appByName(t, inv, "apps/web")
	wantInputs(t, app, []string{"f apps/web/d.yaml", "d apps/web"}, []string{"f apps/web/sub/x.yaml"})
	var listing Input
	for _, in := range app.Inputs.Inputs {
		if in.Kind == InputDir && in.Path == "apps/web" {
			listing = in
		}
	}
	if h, err := repo.InputHash(listing); err != nil || h != listing.Hash {
		t.Fatalf("unchanged listing hashes %q, %v; recorded %q", h, err, listing.Hash)
	}
	if err := os.WriteFile(filepath.Join(dir, "apps/web/new.yaml"), []byte(goodDeployment), 0o644); err != nil {
		t.Fatal(err)
	}
	fresh, _ := Open(dir, Options{})
	if h, err := fresh.InputHash(listing); err != nil || h == listing.Hash {
		t.Errorf("a file added to the directory left its listing hash at %q (%v)", h, err)
	}
}

// TestInputSetJsonnetImports: a Jsonnet app records its files and every
// import, found or looked for, including those through libs.
func TestInputSetJsonnetImports(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"jsonnet/app/main.jsonnet":     "local lib = import '../lib/common.libsonnet';\nlocal v = import 'version.libsonnet';\nlib.pod(v)\n",
		"jsonnet/lib/common.libsonnet": "{ pod(v):: {apiVersion: 'v1', kind: 'Pod', metadata: {name: 'p'}, spec: {containers: [{name: 'c', image: 'registry.example/p:' + v}]}} }\n",
		"vendor/version.libsonnet":     "'3'\n",
		"jsonnet/lib/unused.libsonnet": "{}\n",
		"apps.yaml": `
			apiVersion: argoproj.io/v1alpha1
			kind: Application
			metadata: {name: j, namespace: argocd}
			spec:
			  destination: {namespace: j}
			  source:
			    repoURL: https://github.com/acme/gitops
			    path: jsonnet/app
			    directory:
			      jsonnet: {libs: [vendor]}
			`,
	})
	inv := scan(t, dir, Options{RepoURL: "https://github.com/acme/gitops"})
	app := appByName(t, inv, "j")
	if app.Error != "" || len(app.Images) != 1 || app.Images[0].Image != "registry.example/p:3" {
		t.Fatalf("j: %+v", app)
	}
	wantInputs(t, app, []string{
		"f jsonnet/app/main.jsonnet", "f jsonnet/lib/common.libsonnet", "f vendor/version.libsonnet",
		// version.libsonnet is looked for beside main.jsonnet first: one
		// written there later would be imported instead.
		"f- jsonnet/app/version.libsonnet",
		"d jsonnet/app",
	}, []string{"f jsonnet/lib/unused.libsonnet"})
}

// TestInputSetRemoteIsAlwaysRendered: an app whose files are not the
// checkout's is never carried over.
func TestInputSetRemoteIsAlwaysRendered(t *testing.T) {
	dir := writeTree(t, map[string]string{"d.yaml": goodDeployment})
	repo, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rd := repo.Render(t.Context(), App{Name: "r", Path: ".", Kind: KindPlain, Remote: &RemoteSource{RepoURL: "https://github.com/other/repo", Revision: "main"}})
	if in := repo.inputsOf(rd); in.Always == "" {
		t.Errorf("remote app recorded as an ordinary input set: %+v", in)
	}
}

// TestInputSetRemoteValuesAreAlwaysRendered: $values files of a ref source
// fetched from another repository (or revision) are not the checkout's, so
// the app is never carried over; $values of the checkout are ordinary
// inputs.
func TestInputSetRemoteValuesAreAlwaysRendered(t *testing.T) {
	const valuesURL = "https://github.com/acme/values"
	for _, c := range []struct {
		ref    string
		always bool
	}{
		{"{repoURL: " + valuesURL + ", targetRevision: v2, ref: values}", true},
		{"{repoURL: " + acmeURL + ", ref: values}", false},
	} {
		files := withPrefix("chart/", valuesChart)
		files["env/prod.yaml"] = "image: registry.example/checkout:1\n"
		files["argocd/web.yaml"] = multiSourceApp("{repoURL: "+acmeURL+", path: chart}", "$values/env/prod.yaml", c.ref)
		f := &gitRevisions{dirs: map[string]string{valuesURL + "@v2": writeTree(t, map[string]string{"env/prod.yaml": "image: registry.example/remote:2\n"})}}
		a := appByName(t, scan(t, writeTree(t, files), Options{RepoURL: acmeURL, AllowSources: []string{valuesURL}, Sources: f}), "web[0]")
		if a.Error != "" || a.Inputs == nil {
			t.Fatalf("%s: %+v", c.ref, a)
		}
		if got := a.Inputs.Always != ""; got != c.always {
			t.Errorf("ref %s: always rendered %v (%q), want %v", c.ref, got, a.Inputs.Always, c.always)
		}
		if !c.always {
			wantInputs(t, a, []string{"f env/prod.yaml", "f chart/values.yaml"}, nil)
		}
	}
}

// TestProbesAnsweredFromTheListing: an input check's probe answered from
// discovery's listing says what os.Stat says, for files, directories,
// absent names and every kind of symlink (in, out, to a directory,
// dangling), and for a directory discovery did not list.
func TestProbesAnsweredFromTheListing(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	for _, d := range []string{"app/sub", "app/.hidden"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"app/kustomization.yaml", "app/a.yaml", filepath.Join("..", filepath.Base(outside), "x")} {
		_ = os.WriteFile(filepath.Join(dir, f), []byte("resources: [a.yaml]\n"), 0o644)
	}
	_ = os.WriteFile(filepath.Join(outside, "x"), []byte("x"), 0o644)
	for name, target := range map[string]string{"app/to-file": "a.yaml", "app/to-dir": "sub", "app/dangling": "nope", "app/out": outside} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Discover(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.inputs.entries.Load(filepath.Join(dir, "app")); !ok {
		t.Fatal("discovery did not list app/: the test would not exercise the listing")
	}
	for _, rel := range []string{"app", "app/kustomization.yaml", "app/kustomization.yml", "app/Kustomization", "app/a.yaml",
		"app/sub", "app/.hidden", "app/to-file", "app/to-dir", "app/dangling", "app/out", "app/out/x", "app/absent/x",
		"app/.argocd-source.yaml", "zzz", "app/sub/none"} {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if got, want := r.inputs.currentStatHash(p), statHash(p); got != want {
			t.Errorf("%s: from the listing %q, os.Stat says %q", rel, got, want)
		}
	}
}
