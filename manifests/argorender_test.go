package manifests

import (
	"context"
	"errors"
	"github.com/gitops-gate/gitops-gate/manifests/argocd"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// These tests hold the gate to what Argo CD renders for an Application.
// Each cites the place in Argo CD (argoproj/argo-cd) the behaviour comes
// from; each attack is a pull request that used to pass while Argo CD would
// apply an image the gate never saw.

// argoApplication is an Application of this repository with the given
// source options (indented YAML under spec.source).
func argoApplication(name, path, options string) string {
	s := "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: " + name + ", namespace: argocd}\n" +
		"spec:\n  project: default\n  destination: {server: https://kubernetes.default.svc, namespace: prod}\n" +
		"  source:\n    repoURL: https://github.com/acme/gitops\n    path: " + path + "\n"
	for _, l := range strings.Split(strings.TrimSpace(options), "\n") {
		if l != "" {
			s += "    " + l + "\n"
		}
	}
	return s
}

func deploymentWith(name, image string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name + "}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: " + image + "\n"
}

const acmeURL = "https://github.com/acme/gitops"

func imagesOf(a AppImages) []string {
	var out []string
	for _, im := range a.Images {
		out = append(out, im.Image)
	}
	sort.Strings(out)
	return out
}

func resourceNames(a AppImages) []string {
	var out []string
	for _, im := range a.Images {
		out = append(out, im.Resource.Name)
	}
	sort.Strings(out)
	return out
}

// TestArgoDirectoryIncludeExclude runs Argo CD's own cases:
// TestFindResources, TestFindManifests_Exclude and
// TestFindManifests_Exclude_NothingMatches in
// reposerver/repository/repository_test.go, on the same fixture
// (testdata/app-include-exclude: deployment.yaml and
// subdir/deploymentSub.yaml, recurse: true). Argo CD matches with
// util/glob.Match (gobwas/glob without separators) on the path relative to
// the app directory, so `*.yaml` matches subdir/deploymentSub.yaml and
// `**/*.yaml` only the file in the subdirectory.
func TestArgoDirectoryIncludeExclude(t *testing.T) {
	for _, c := range []struct {
		name, include, exclude string
		want                   []string
	}{
		{"Include One Match", "subdir/deploymentSub.yaml", "", []string{"nginx-deployment-sub"}},
		{"Include Everything", "*.yaml", "", []string{"nginx-deployment", "nginx-deployment-sub"}},
		{"Include Subdirectory", "**/*.yaml", "", []string{"nginx-deployment-sub"}},
		{"Include No Matches", "nothing.yaml", "", nil},
		{"Exclude - One Match", "", "subdir/deploymentSub.yaml", []string{"nginx-deployment"}},
		{"Exclude - Everything", "", "*.yaml", nil},
		{"Exclude - Nothing Matches", "", "nothing.yaml", []string{"nginx-deployment", "nginx-deployment-sub"}},
		// The base-name fallback the gate used to apply excluded
		// sub/extra.yaml with exclude: extra.yaml; Argo CD applies it.
		{"Exclude base name does not reach subdirectories", "", "deploymentSub.yaml", []string{"nginx-deployment", "nginx-deployment-sub"}},
		{"Brace alternatives", "{deployment.yaml,nothing.yaml}", "", []string{"nginx-deployment"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := "directory:\n  recurse: true\n"
			if c.include != "" {
				opts += "  include: '" + c.include + "'\n"
			}
			if c.exclude != "" {
				opts += "  exclude: '" + c.exclude + "'\n"
			}
			dir := writeTree(t, map[string]string{
				"apps/app.yaml":                                 argoApplication("app", "app-include-exclude", opts),
				"app-include-exclude/deployment.yaml":           deploymentWith("nginx-deployment", "registry.example/nginx:1"),
				"app-include-exclude/subdir/deploymentSub.yaml": deploymentWith("nginx-deployment-sub", "registry.example/nginx:2"),
			})
			app := appByName(t, scan(t, dir, Options{RepoURL: acmeURL}), "app")
			if app.Error != "" {
				t.Fatalf("error: %s", app.Error)
			}
			if got := resourceNames(app); strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("rendered %v, want %v (Argo CD's result)", got, c.want)
			}
		})
	}
}

// TestArgoDirectoryHiddenAndNestedFiles: Argo CD's findManifests walks
// every file and subdirectory (filepath.Walk; no hidden-file or nested-app
// rule), so a hidden .x.yaml or a kustomization's raw files in a
// subdirectory are applied. The gate used to skip both: the attack was an
// unsigned image in .evil.yaml.
func TestArgoDirectoryHiddenAndNestedFiles(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"apps/app.yaml":            argoApplication("app", "deploy", "directory: {recurse: true}"),
		"apps/flat.yaml":           argoApplication("flat", "deploy", ""),
		"deploy/good.yaml":         goodDeployment,
		"deploy/.evil.yaml":        deploymentWith("evil", "registry.example/unsigned:1"),
		"deploy/.hidden/more.yaml": deploymentWith("hidden-dir", "registry.example/unsigned:2"),
		// Argo CD reads a nested kustomization's files as plain YAML.
		"deploy/nested/kustomization.yaml": "resources: [d.yaml]\n",
		"deploy/nested/d.yaml":             deploymentWith("nested", "registry.example/unsigned:3"),
		// Argo CD's extension filter is case-sensitive: not read.
		"deploy/UPPER.YAML": deploymentWith("upper", "registry.example/upper:1"),
		// Marked to be skipped (skipFileRenderingMarker): not read.
		"deploy/skipped.yaml": "# +argocd:skip-file-rendering\n" + deploymentWith("skipped", "registry.example/skipped:1"),
	})
	inv := scan(t, dir, Options{RepoURL: acmeURL})
	app := appByName(t, inv, "app")
	want := []string{"registry.example/good:1", "registry.example/unsigned:1", "registry.example/unsigned:2", "registry.example/unsigned:3"}
	if app.Error != "" || strings.Join(imagesOf(app), " ") != strings.Join(want, " ") {
		t.Errorf("recurse: images %v (error %q), want %v", imagesOf(app), app.Error, want)
	}
	flat := appByName(t, inv, "flat")
	want = []string{"registry.example/good:1", "registry.example/unsigned:1"}
	if flat.Error != "" || strings.Join(imagesOf(flat), " ") != strings.Join(want, " ") {
		t.Errorf("no recurse: images %v (error %q), want %v", imagesOf(flat), flat.Error, want)
	}
}

// TestArgoDirectoryExtensionFilter follows
// Test_getPotentiallyValidManifestFile_disableExtensionFilter and
// Test_findManifests_disableExtensionFilter in repository_test.go, and
// refuses a Jsonnet file Argo CD would evaluate (findManifests).
func TestArgoDirectoryExtensionFilter(t *testing.T) {
	sealed := "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: my-secret}\n"
	dir := writeTree(t, map[string]string{
		// Names "on" and "off" unquoted would be booleans to Argo CD (YAML 1.1).
		"apps/on.yaml":            argoApplication("filter-on", "d", "directory: {include: '{*.yaml.sealed,*.yaml}'}"),
		"apps/off.yaml":           argoApplication("filter-off", "d", "directory: {disableExtensionFilter: true, include: '{*.yaml.sealed,*.yaml}'}"),
		"apps/jsonnet.yaml":       argoApplication("jsonnet", "j", ""),
		"apps/jsonnet-excl.yaml":  argoApplication("jsonnet-excluded", "j", "directory: {exclude: '*.jsonnet'}"),
		"d/my-secret.yaml.sealed": sealed,
		"d/README.md":             "not a manifest: [",
		"j/app.jsonnet":           "{}",
		"j/d.yaml":                goodDeployment,
	})
	repo, err := Open(dir, Options{RepoURL: acmeURL})
	if err != nil {
		t.Fatal(err)
	}
	_, rendered, err := repo.Scan(context.Background(), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Rendered{}
	for _, rd := range rendered {
		byName[rd.App.Name] = rd
	}
	if rd := byName["filter-on"]; rd.Err != nil || len(rd.Resources) != 0 {
		t.Errorf("filter on: %d objects, err %v; want none (the extension regexp filters first)", len(rd.Resources), rd.Err)
	}
	if rd := byName["filter-off"]; rd.Err != nil || len(rd.Resources) != 1 || rd.Resources[0].Kind != "SealedSecret" {
		t.Errorf("filter off: %+v, err %v; want the SealedSecret", rd.Resources, rd.Err)
	}
	// The Jsonnet file is evaluated as Argo CD does; `{}` is not an object
	// Kubernetes knows, an error naming the file.
	if rd := byName["jsonnet"]; rd.Err == nil || !strings.Contains(rd.Err.Error(), "j/app.jsonnet") || !strings.Contains(rd.Err.Error(), "not a Kubernetes object") {
		t.Errorf("jsonnet: err %v, want the file named", rd.Err)
	}
	if rd := byName["jsonnet-excluded"]; rd.Err != nil || len(rd.Resources) != 1 {
		t.Errorf("jsonnet excluded: err %v", rd.Err)
	}
}

// TestArgoExplicitSourceType: the tool is the one section a source sets
// (ApplicationSource.ExplicitType in pkg/apis/application/v1alpha1/types.go);
// only without one does Argo CD look at the files, and then the last match
// in name order wins (discovery.Discover in util/app/discovery). The attack:
// `directory: {}` on a kustomization directory makes Argo CD apply its raw
// files, while the gate rendered the kustomization.
func TestArgoExplicitSourceType(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"apps/raw.yaml":        argoApplication("raw", "k", "directory: {}"),
		"apps/kust.yaml":       argoApplication("kust", "k", ""),
		"apps/two.yaml":        argoApplication("two", "k", "directory: {}\nhelm: {}"),
		"apps/null.yaml":       argoApplication("null-plugin", "k", "plugin: null"),
		"apps/both.yaml":       argoApplication("both", "both", ""),
		"k/kustomization.yaml": "resources: [d.yaml]\nimages:\n- {name: registry.example/raw, newName: registry.example/kustomized}\n",
		"k/d.yaml":             deploymentWith("d", "registry.example/raw:1"),
		// Chart.yaml and a kustomization: Argo CD renders with Kustomize.
		"both/Chart.yaml":         "apiVersion: v2\nname: both\nversion: 0.1.0\n",
		"both/kustomization.yaml": "resources: [d.yaml]\n",
		"both/d.yaml":             deploymentWith("d", "registry.example/kustomize:1"),
	})
	inv := scan(t, dir, Options{RepoURL: acmeURL})
	if a := appByName(t, inv, "raw"); a.Kind != KindPlain || strings.Join(imagesOf(a), " ") != "registry.example/raw:1" {
		t.Errorf("directory: {}: %+v, want the raw file's image", a)
	}
	if a := appByName(t, inv, "kust"); a.Kind != KindKustomize || strings.Join(imagesOf(a), " ") != "registry.example/kustomized:1" {
		t.Errorf("no section: %+v", a)
	}
	if a := appByName(t, inv, "two"); !strings.Contains(a.Error, "multiple application sources defined") {
		t.Errorf("two sections: %q", a.Error)
	}
	if a := appByName(t, inv, "null-plugin"); a.Error != "" || a.Kind != KindKustomize {
		t.Errorf("plugin: null is no plugin: %+v", a)
	}
	if a := appByName(t, inv, "both"); a.Kind != KindKustomize || a.Error != "" {
		t.Errorf("Chart.yaml and kustomization.yaml: %+v, want Kustomize", a)
	}
}

// capabilitiesChart picks its image from .Capabilities, as charts do to
// support several Kubernetes versions.
var capabilitiesChart = map[string]string{
	"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
	"c/templates/d.yaml": `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: a
    image: {{ if semverCompare ">=1.30-0" .Capabilities.KubeVersion.Version }}registry.example/new:1{{ else }}registry.example/old:1{{ end }}
  - name: b
    image: {{ if .Capabilities.APIVersions.Has "acme.example/v1" }}registry.example/acme:1{{ else }}registry.example/plain:1{{ end }}
`,
}

// TestHelmCapabilities: Argo CD runs `helm template --kube-version
// --api-versions` with the Application's helm.kubeVersion/apiVersions, else
// the destination cluster's (helmTemplate in repository.go,
// GetKubeVersionOrDefault in types.go). The gate rendered with Helm's
// default (Kubernetes 1.20), so a chart that picks its image from
// .Capabilities showed the gate registry.example/old while the cluster ran
// registry.example/new.
func TestHelmCapabilities(t *testing.T) {
	files := map[string]string{
		"apps/default.yaml": argoApplication("default", "c", ""),
		"apps/pinned.yaml":  argoApplication("pinned", "c", "helm:\n  kubeVersion: '1.25.0'\n  apiVersions: [acme.example/v1]"),
	}
	for k, v := range capabilitiesChart {
		files[k] = v
	}
	dir := writeTree(t, files)
	for _, sandbox := range []bool{false, true} {
		opts := Options{RepoURL: acmeURL}
		if sandbox {
			opts.HelmSandbox = testSandbox(time.Minute, 0)
		}
		inv := scan(t, dir, opts)
		if got := strings.Join(imagesOf(appByName(t, inv, "default")), " "); got != "registry.example/new:1 registry.example/plain:1" {
			t.Errorf("sandbox %v: default cluster: %s, want a current Kubernetes (%s)", sandbox, got, DefaultKubeVersion)
		}
		if got := strings.Join(imagesOf(appByName(t, inv, "pinned")), " "); got != "registry.example/acme:1 registry.example/old:1" {
			t.Errorf("sandbox %v: Application's kubeVersion/apiVersions: %s", sandbox, got)
		}
		opts.KubeVersion, opts.APIVersions = "v1.28.2", []string{"acme.example/v1"}
		inv = scan(t, dir, opts)
		if got := strings.Join(imagesOf(appByName(t, inv, "default")), " "); got != "registry.example/acme:1 registry.example/old:1" {
			t.Errorf("sandbox %v: configured cluster: %s", sandbox, got)
		}
		if sandbox {
			opts.HelmSandbox.Close()
		}
	}
	bad := writeTree(t, map[string]string{
		"apps/a.yaml":        argoApplication("a", "c", "helm: {kubeVersion: 'not-a-version'}"),
		"c/Chart.yaml":       "apiVersion: v2\nname: c\nversion: 0.1.0\nkubeVersion: '<1.25.0'\n",
		"c/templates/p.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: registry.example/x:1}]}\n",
		"apps/b.yaml":        argoApplication("b", "c", ""),
	})
	inv := scan(t, bad, Options{RepoURL: acmeURL})
	if e := appByName(t, inv, "a").Error; !strings.Contains(e, "not-a-version") {
		t.Errorf("bad kubeVersion: %q", e)
	}
	if e := appByName(t, inv, "b").Error; !strings.Contains(e, "incompatible with Kubernetes") {
		t.Errorf("chart's kubeVersion constraint: %q, want Helm's refusal", e)
	}
}

// TestKustomizeSourceOptions: Argo CD edits the kustomization before it
// builds (kustomize.Build in util/kustomize/kustomize.go): `edit set
// namespace`, patches appended, `edit add component`. Each can change an
// image or the namespace a policy matches, so each is applied.
func TestKustomizeSourceOptions(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"apps/ns.yaml": argoApplication("ns", "k", "kustomize: {namespace: payments}"),
		"apps/patch.yaml": argoApplication("patch", "k", `kustomize:
  patches:
  - target: {kind: Deployment, name: d}
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/image
        value: registry.example/patched:1`),
		"apps/comp.yaml":       argoApplication("with-comp", "k", "kustomize: {components: [../comp]}"),
		"apps/missing.yaml":    argoApplication("missing", "k", "kustomize: {components: [../nope], ignoreMissingComponents: true}"),
		"apps/remote.yaml":     argoApplication("remote", "k", "kustomize: {components: ['github.com/evil/repo//comp?ref=v1']}"),
		"apps/unknown.yaml":    argoApplication("unknown", "k", "kustomize: {futureOption: x}"),
		"k/kustomization.yaml": "resources: [d.yaml]\nnamespace: other\n",
		"k/d.yaml":             deploymentWith("d", "registry.example/base:1"),
		"comp/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
images:
- {name: registry.example/base, newName: registry.example/component}
`,
	})
	inv := scan(t, dir, Options{RepoURL: acmeURL})
	if a := appByName(t, inv, "ns"); a.Error != "" || len(a.Images) != 1 || a.Images[0].Resource.Namespace != "payments" {
		t.Errorf("kustomize.namespace: %+v, want the resource in payments", a)
	}
	if got := strings.Join(imagesOf(appByName(t, inv, "patch")), " "); got != "registry.example/patched:1" {
		t.Errorf("kustomize.patches: %s", got)
	}
	if got := strings.Join(imagesOf(appByName(t, inv, "with-comp")), " "); got != "registry.example/component:1" {
		t.Errorf("kustomize.components: %s", got)
	}
	if a := appByName(t, inv, "missing"); a.Error != "" || strings.Join(imagesOf(a), " ") != "registry.example/base:1" {
		t.Errorf("ignoreMissingComponents: %+v", a)
	}
	if e := appByName(t, inv, "remote").Error; !strings.Contains(e, "remote component") {
		t.Errorf("remote component: %q", e)
	}
	if e := appByName(t, inv, "unknown").Error; !strings.Contains(e, "kustomize.futureOption is not implemented") {
		t.Errorf("unknown option: %q", e)
	}
}

// TestDestinationNamespace: Argo CD applies a namespaced object that has no
// namespace into spec.destination.namespace, so a policy scoped to that
// namespace applies to it. Cluster-scoped kinds stay without one.
func TestDestinationNamespace(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"apps/app.yaml": argoApplication("app", "d", ""),
		"d/pod.yaml":    "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: registry.example/a:1}]}\n",
		"d/other.yaml":  "apiVersion: v1\nkind: Pod\nmetadata: {name: q, namespace: elsewhere}\nspec: {containers: [{name: a, image: registry.example/b:1}]}\n",
		"d/cwt.yaml":    "apiVersion: argoproj.io/v1alpha1\nkind: ClusterWorkflowTemplate\nmetadata: {name: w}\nspec: {templates: [{name: t, container: {image: registry.example/c:1}}]}\n",
	})
	repo, err := Open(dir, Options{RepoURL: acmeURL})
	if err != nil {
		t.Fatal(err)
	}
	_, rendered, err := repo.Scan(context.Background(), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, rd := range rendered {
		for _, res := range rd.Resources {
			got[res.Name] = res.Namespace
		}
	}
	if got["p"] != "prod" || got["q"] != "elsewhere" || got["w"] != "" {
		t.Errorf("namespaces %v: want p in the destination namespace prod, q where it says, w cluster-scoped", got)
	}
}

// TestArgoSourceOverrideFiles: Argo CD merges .argocd-source.yaml and
// .argocd-source-<app>.yaml into the source before it picks the tool
// (mergeSourceParameters and GetAppSourceType in repository.go). The attack:
// the Application says plugin: gitops-gate (whose output is verified), and
// .argocd-source.yaml sets plugin: null plus kustomize.images, so Argo CD's
// own kustomize applies an image nobody verified.
func TestArgoSourceOverrideFiles(t *testing.T) {
	files := map[string]string{
		"apps/a.yaml":               argoApplication("web", "k", "plugin: {name: gitops-gate}"),
		"k/kustomization.yaml":      "resources: [d.yaml]\n",
		"k/d.yaml":                  deploymentWith("d", "registry.example/good:1"),
		"k/.argocd-source.yaml":     "plugin: null\nkustomize:\n  images: [registry.example/good=registry.example/unsigned:6]\n",
		"k/.argocd-source-web.yaml": "kustomize:\n  images: [registry.example/good=registry.example/unsigned:7]\n  namespace: sneaky\n",
		// Another Application's file is not read for this one.
		"k/.argocd-source-other.yaml": "kustomize: {images: [registry.example/good=registry.example/other:1]}\n",
	}
	dir := writeTree(t, files)
	inv := scan(t, dir, Options{RepoURL: acmeURL})
	web := appByName(t, inv, "web")
	if web.Error != "" || strings.Join(imagesOf(web), " ") != "registry.example/unsigned:7" {
		t.Fatalf("web: %+v, want the image of the merged source (the app-specific file last)", web)
	}
	if ns := web.Images[0].Resource.Namespace; ns != "sneaky" {
		t.Errorf("namespace %q, want the override's", ns)
	}
	if got := argocd.SourceOverrides(filepath.Join(dir, "k"), "web"); len(got) != 2 || filepath.Base(got[0]) != ".argocd-source.yaml" || filepath.Base(got[1]) != ".argocd-source-web.yaml" {
		t.Errorf("argocd.SourceOverrides = %v", got)
	}
	// path, repoURL and chart cannot be changed by the files.
	files["k/.argocd-source.yaml"] = "path: elsewhere\nrepoURL: https://github.com/evil/repo\nplugin: null\n"
	delete(files, "k/.argocd-source-web.yaml")
	files["elsewhere/d.yaml"] = deploymentWith("e", "registry.example/elsewhere:1")
	inv = scan(t, writeTree(t, files), Options{RepoURL: acmeURL})
	if web := appByName(t, inv, "web"); web.Error != "" || strings.Join(imagesOf(web), " ") != "registry.example/good:1" {
		t.Errorf("path override: %+v", web)
	}
	// Which file Argo CD reads depends on the namespace it runs in; one for
	// an Application in another namespace is refused, not guessed.
	files["k/.argocd-source-team_web.yaml"] = "kustomize: {images: [registry.example/good=registry.example/unsigned:8]}\n"
	inv = scan(t, writeTree(t, files), Options{RepoURL: acmeURL})
	if e := appByName(t, inv, "web").Error; !strings.Contains(e, ".argocd-source-team_web.yaml") {
		t.Errorf("ambiguous override: %q", e)
	}
	if got := argocd.SourceOverrides(filepath.Join(writeTree(t, files), "k"), "team_web"); len(got) != 2 || filepath.Base(got[1]) != ".argocd-source-team_web.yaml" {
		t.Errorf("argocd.SourceOverrides with an instance name = %v, want every file that may apply", got)
	}
}

// fakeFetcher serves allowed Git sources from local directories.
type fakeFetcher struct {
	dirs  map[string]string // repoURL@revision -> dir
	calls []string
}

func (f *fakeFetcher) FetchGit(_ context.Context, repoURL, revision string) (string, string, error) {
	f.calls = append(f.calls, repoURL+"@"+revision)
	if d, ok := f.dirs[repoURL+"@"+revision]; ok {
		return d, "0123456789abcdef0123456789abcdef01234567", nil
	}
	return "", "", errors.New("no such revision")
}

// TestArgoEverySource: with spec.sources Argo CD renders every source and
// ignores spec.source (ApplicationSpec.HasMultipleSources, GetSources in
// types.go); a ref-only source with no path renders nothing
// (GenerateManifest in repository.go). A source in another repository, a
// Helm repository or an OCI registry is an app error naming it unless the
// gate's configuration allows it; an allowed Git source is fetched and
// evaluated.
func TestArgoEverySource(t *testing.T) {
	remote := writeTree(t, map[string]string{"deploy/d.yaml": deploymentWith("r", "registry.example/remote:1")})
	dir := writeTree(t, map[string]string{
		"apps/multi.yaml": `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: multi, namespace: argocd}
spec:
  destination: {namespace: prod}
  source: {repoURL: https://github.com/acme/gitops, path: ignored}
  sources:
  - {repoURL: https://github.com/acme/gitops, path: one}
  - {repoURL: https://github.com/acme/gitops, path: two}
  - {repoURL: https://github.com/acme/gitops, ref: values}
  - {repoURL: https://github.com/acme/gitops, ref: withpath, path: three}
  - {repoURL: https://github.com/acme/other, path: deploy, targetRevision: main}
  - {repoURL: https://charts.example.com, chart: redis, targetRevision: 1.0.0}
  - {repoURL: oci://registry.example/charts/app, targetRevision: 1.0.0, path: .}
`,
		"one/d.yaml":     deploymentWith("one", "registry.example/one:1"),
		"two/d.yaml":     deploymentWith("two", "registry.example/two:1"),
		"three/d.yaml":   deploymentWith("three", "registry.example/three:1"),
		"ignored/d.yaml": deploymentWith("ignored", "registry.example/ignored:1"),
	})
	inv := scan(t, dir, Options{RepoURL: acmeURL})
	for name, want := range map[string]string{"multi[0]": "registry.example/one:1", "multi[1]": "registry.example/two:1", "multi[3]": "registry.example/three:1"} {
		if a := appByName(t, inv, name); a.Error != "" || strings.Join(imagesOf(a), " ") != want {
			t.Errorf("%s: %+v, want %s", name, a, want)
		}
	}
	for _, a := range inv.Apps {
		if a.Name == "multi[2]" {
			t.Errorf("a ref-only source became an app: %+v", a)
		}
		if a.Path == "ignored" && strings.HasPrefix(a.Name, "multi") {
			t.Errorf("spec.source was rendered although spec.sources is set")
		}
	}
	for name, want := range map[string]string{
		"multi[4]": "repository https://github.com/acme/other is not this repository",
		"multi[5]": `Helm chart "redis" from https://charts.example.com`,
		"multi[6]": "OCI artifact oci://registry.example/charts/app",
	} {
		if e := appByName(t, inv, name).Error; !strings.Contains(e, want) || !strings.Contains(e, "--allow-source") {
			t.Errorf("%s: %q, want an error naming the source", name, e)
		}
	}

	// Allowed by the gate's configuration: the Git source is fetched at its
	// revision and rendered; an allowed chart without a ChartFetcher is an
	// error (chartsrc's tests fetch them).
	f := &fakeFetcher{dirs: map[string]string{"https://github.com/acme/other@main": remote}}
	inv = scan(t, dir, Options{RepoURL: acmeURL, AllowSources: []string{"https://github.com/acme/other.git", "https://charts.example.com"}, Sources: f})
	if a := appByName(t, inv, "multi[4]"); a.Error != "" || strings.Join(imagesOf(a), " ") != "registry.example/remote:1" || a.Images[0].Resource.Namespace != "prod" {
		t.Errorf("allowed Git source: %+v (fetches %v)", a, f.calls)
	}
	if e := appByName(t, inv, "multi[5]").Error; !strings.Contains(e, "no fetcher for Helm or OCI charts") {
		t.Errorf("allowed chart: %q", e)
	}
	// Allowed but without a fetcher: an error, not a skip.
	inv = scan(t, dir, Options{RepoURL: acmeURL, AllowSources: []string{"https://github.com/acme/other"}})
	if e := appByName(t, inv, "multi[4]").Error; !strings.Contains(e, "no fetcher") {
		t.Errorf("allowed without fetcher: %q", e)
	}
}

// TestConfigCannotHideApplications: .gitops-gate.yaml used to replace
// discovery, so listing one harmless app dropped every Argo CD Application
// from the check. It may add apps; the Applications stay.
func TestConfigCannotHideApplications(t *testing.T) {
	dir := writeTree(t, map[string]string{
		".gitops-gate.yaml": "apps:\n- name: harmless\n  path: harmless\n",
		"harmless/d.yaml":   goodDeployment,
		"apps/app.yaml":     argoApplication("evil", "evil", ""),
		"evil/d.yaml":       deploymentWith("evil", "registry.example/unsigned:1"),
	})
	inv := scan(t, dir, Options{RepoURL: acmeURL})
	if a := appByName(t, inv, "evil"); strings.Join(imagesOf(a), " ") != "registry.example/unsigned:1" {
		t.Errorf("evil: %+v", a)
	}
	appByName(t, inv, "harmless")
}

// TestArgoEnvSubstitution: Argo CD substitutes its build environment in
// Helm parameters, value file paths and kustomize images (Env.Envsubst in
// types.go: an unknown name becomes empty). The attack: a parameter
// `$NOTHING` is true to a gate that keeps it literally and empty (false) to
// Argo CD, which then takes the other branch of the chart.
func TestArgoEnvSubstitution(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"apps/a.yaml":  argoApplication("a", "c", "helm:\n  parameters:\n  - {name: useSigned, value: $NOTHING}\n  - {name: suffix, value: $ARGOCD_APP_NAME-$$x}"),
		"apps/b.yaml":  argoApplication("b", "c", "helm:\n  parameters:\n  - {name: suffix, value: $ARGOCD_APP_REVISION}"),
		"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"c/templates/p.yaml": `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: a
    image: {{ if .Values.useSigned }}registry.example/signed:1{{ else }}registry.example/unsigned:1{{ end }}
  - name: b
    image: registry.example/app:{{ .Values.suffix | replace "$" "d" }}
`,
	})
	inv := scan(t, dir, Options{RepoURL: acmeURL})
	if got := strings.Join(imagesOf(appByName(t, inv, "a")), " "); got != "registry.example/app:a-dx registry.example/unsigned:1" {
		t.Errorf("a: %s", got)
	}
	if e := appByName(t, inv, "b").Error; !strings.Contains(e, "ARGOCD_APP_REVISION") {
		t.Errorf("b: %q, want the revision named", e)
	}
}

// TestRepoURLDecidesThisRepository: an Application whose repoURL is another
// repository is never rendered from this checkout, even when its path
// exists here. The service gives the URL it cloned; only without one is it
// inferred from the Applications (which the pull request writes).
func TestRepoURLDecidesThisRepository(t *testing.T) {
	app := strings.Replace(argoApplication("elsewhere", "d", ""), acmeURL, "https://github.com/evil/other", 1)
	dir := writeTree(t, map[string]string{
		"apps/a.yaml": app,
		"d/pod.yaml":  deploymentWith("d", "registry.example/good:1"),
	})
	a := appByName(t, scan(t, dir, Options{RepoURL: acmeURL}), "elsewhere")
	if len(a.Images) != 0 || !strings.Contains(a.Error, "https://github.com/evil/other is not this repository (github.com/acme/gitops)") {
		t.Errorf("%+v: want an error, not this checkout's files", a)
	}
}

// TestSourceAtAnotherRevision: Argo CD syncs a source at its
// targetRevision. An Application of this repository pinned to another
// branch or tag deploys what that revision holds, not the pull request's
// files. With the revisions that mean "this checkout" configured, such a
// source is fetched at its revision and checked, or is an app error.
func TestSourceAtAnotherRevision(t *testing.T) {
	other := writeTree(t, map[string]string{"d/d.yaml": deploymentWith("d", "registry.example/unsigned:1")})
	app := strings.Replace(argoApplication("pinned", "d", ""), "    path: d\n", "    path: d\n    targetRevision: evil-branch\n", 1)
	dir := writeTree(t, map[string]string{
		"apps/a.yaml": app,
		"apps/b.yaml": strings.Replace(argoApplication("main", "d", ""), "    path: d\n", "    path: d\n    targetRevision: refs/heads/main\n", 1),
		"d/d.yaml":    deploymentWith("d", "registry.example/good:1"),
	})
	// Unset: every revision is this checkout (the CLI without --revision).
	if a := appByName(t, scan(t, dir, Options{RepoURL: acmeURL}), "pinned"); strings.Join(imagesOf(a), " ") != "registry.example/good:1" {
		t.Errorf("unset: %+v", a)
	}
	opts := Options{RepoURL: acmeURL, Revisions: []string{"HEAD", "main"}}
	inv := scan(t, dir, opts)
	if e := appByName(t, inv, "pinned").Error; !strings.Contains(e, `targetRevision "evil-branch"`) {
		t.Errorf("pinned without a fetcher: %q", e)
	}
	if a := appByName(t, inv, "main"); a.Error != "" || strings.Join(imagesOf(a), " ") != "registry.example/good:1" {
		t.Errorf("main: %+v", a)
	}
	opts.Sources = &fakeFetcher{dirs: map[string]string{acmeURL + "@evil-branch": other}}
	if a := appByName(t, scan(t, dir, opts), "pinned"); a.Error != "" || strings.Join(imagesOf(a), " ") != "registry.example/unsigned:1" {
		t.Errorf("pinned, fetched: %+v", a)
	}
}
