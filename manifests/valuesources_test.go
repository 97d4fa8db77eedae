package manifests

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// gitRevisions serves Git sources from local directories, each revision
// with its own commit.
type gitRevisions struct {
	mu    sync.Mutex
	dirs  map[string]string // repoURL@revision -> dir
	calls []string
}

func (g *gitRevisions) FetchGit(_ context.Context, repoURL, revision string) (string, string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := repoURL + "@" + revision
	g.calls = append(g.calls, key)
	d, ok := g.dirs[key]
	if !ok {
		return "", "", errors.New("no such revision")
	}
	return d, fmt.Sprintf("%040x", len(key)*7919+len(d)), nil
}

// valuesChart is a chart whose one Pod runs the image its values name.
var valuesChart = map[string]string{
	"Chart.yaml":       "apiVersion: v2\nname: web\nversion: 0.1.0\n",
	"values.yaml":      "image: registry.example/default:1\n",
	"templates/p.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: web, image: \"{{ .Values.image }}\"}]\n",
}

func withPrefix(prefix string, files map[string]string) map[string]string {
	out := map[string]string{}
	for n, c := range files {
		out[prefix+n] = c
	}
	return out
}

// multiSourceApp is an Application with a chart source and the given
// other sources, whose chart reads valueFile.
func multiSourceApp(chartSource, valueFile string, others ...string) string {
	s := `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  destination: {namespace: prod}
  sources:
  - ` + strings.TrimSuffix(chartSource, "}") + `, helm: {valueFiles: ['` + valueFile + `']}}
`
	for _, o := range others {
		s += "  - " + o + "\n"
	}
	return s
}

// TestValueSources is the table of multi-source Applications whose Helm
// value files come from a `ref:` source, as Argo CD resolves them
// (reposerver/repository/repository.go, runManifestGenAsync and
// getResolvedRefValueFile): from the ref's repository root at its
// targetRevision, whatever the ref source's path; fetched when that is
// another repository the gate's configuration allows; an app error naming
// the ref otherwise. The commit each ref resolved to is in the app.
func TestValueSources(t *testing.T) {
	const valuesURL = "https://github.com/acme/values"
	valuesV2 := writeTree(t, map[string]string{"env/prod.yaml": "image: registry.example/from-values-v2:2\n"})
	valuesV1 := writeTree(t, map[string]string{"env/prod.yaml": "image: registry.example/from-values-v1:1\n"})
	release := withPrefix("chart/", valuesChart)
	release["env/prod.yaml"] = "image: registry.example/release:9\n"
	acmeRelease := writeTree(t, release)
	fetch := func() *gitRevisions {
		return &gitRevisions{dirs: map[string]string{valuesURL + "@v2": valuesV2, valuesURL + "@v1": valuesV1, acmeURL + "@release": acmeRelease}}
	}
	local := "{repoURL: " + acmeURL + ", path: chart}"
	cases := []struct {
		name    string
		app     string
		allow   []string
		image   string // want this image, or
		err     string // an error containing this
		fetched []string
		sources string // ValueSources as ref=repo@revision#commit?
	}{{
		name:    "checkout ref: read from the repository root, the ref source's path plays no part",
		app:     multiSourceApp(local, "$values/env/prod.yaml", "{repoURL: "+acmeURL+".git, ref: values, path: elsewhere}"),
		image:   "registry.example/checkout:1",
		sources: "values=" + acmeURL + ".git@ (checkout)",
	}, {
		name:    "remote allowed ref at its targetRevision",
		app:     multiSourceApp(local, "$values/env/prod.yaml", "{repoURL: "+valuesURL+", targetRevision: v2, ref: values}"),
		allow:   []string{valuesURL},
		image:   "registry.example/from-values-v2:2",
		fetched: []string{valuesURL + "@v2"},
		sources: "values=" + valuesURL + "@v2 (fetched)",
	}, {
		name:    "remote ref at another revision gives that revision's values",
		app:     multiSourceApp(local, "$values/env/prod.yaml", "{repoURL: "+valuesURL+", targetRevision: v1, ref: values}"),
		allow:   []string{valuesURL},
		image:   "registry.example/from-values-v1:1",
		fetched: []string{valuesURL + "@v1"},
		sources: "values=" + valuesURL + "@v1 (fetched)",
	}, {
		name: "remote ref not on the allow-list is an app error, nothing fetched",
		app:  multiSourceApp(local, "$values/env/prod.yaml", "{repoURL: "+valuesURL+", targetRevision: v2, ref: values}"),
		err:  "ref source $values is repository " + valuesURL + ", which is not this repository",
	}, {
		name:    "this repository at another revision is fetched at it",
		app:     multiSourceApp("{repoURL: "+valuesURL+", targetRevision: charts, path: chart}", "$values/env/prod.yaml", "{repoURL: "+acmeURL+", targetRevision: release, ref: values}"),
		allow:   []string{valuesURL},
		image:   "registry.example/release:9",
		fetched: []string{valuesURL + "@charts", acmeURL + "@release"},
		sources: "values=" + acmeURL + "@release (fetched)",
	}, {
		name:    "the checkout's ref for a chart fetched from elsewhere",
		app:     multiSourceApp("{repoURL: "+valuesURL+", targetRevision: charts, path: chart}", "$values/env/prod.yaml", "{repoURL: "+acmeURL+", ref: values}"),
		allow:   []string{valuesURL},
		image:   "registry.example/checkout:1",
		fetched: []string{valuesURL + "@charts"},
		sources: "values=" + acmeURL + "@ (checkout)",
	}, {
		name: "a ref name no source has",
		app:  multiSourceApp(local, "$nope/env/prod.yaml", "{repoURL: "+acmeURL+", ref: values}"),
		err:  "refers to $nope, which is not one of the sources' refs ($values)",
	}, {
		name: "a ref key used twice",
		app:  multiSourceApp(local, "$values/env/prod.yaml", "{repoURL: "+acmeURL+", ref: values}", "{repoURL: "+valuesURL+", ref: values}"),
		err:  `more than one source has ref "values"`,
	}, {
		name: "a ref source with a chart",
		app:  multiSourceApp(local, "$values/env/prod.yaml", "{repoURL: https://charts.example.com, chart: x, ref: values}"),
		err:  "ref source $values (spec.sources[1]) has a chart",
	}, {
		name:    "two refs of one repository at two revisions, only one read",
		app:     multiSourceApp(local, "$a/env/prod.yaml", "{repoURL: "+valuesURL+", targetRevision: v1, ref: a}", "{repoURL: "+valuesURL+", targetRevision: v2, ref: b}"),
		allow:   []string{valuesURL},
		image:   "registry.example/from-values-v1:1",
		fetched: []string{valuesURL + "@v1"},
		sources: "a=" + valuesURL + "@v1 (fetched)",
	}, {
		name:    "the same repository and revision as the source it renders, fetched once",
		app:     multiSourceApp("{repoURL: "+acmeURL+", targetRevision: release, path: chart}", "$values/env/prod.yaml", "{repoURL: "+acmeURL+", targetRevision: release, ref: values}"),
		image:   "registry.example/release:9",
		fetched: []string{acmeURL + "@release"},
		sources: "values=" + acmeURL + "@release (fetched)",
	}, {
		name:    "another revision of the repository the source renders",
		app:     multiSourceApp(local, "$values/env/prod.yaml", "{repoURL: "+acmeURL+", targetRevision: release, ref: values}"),
		err:     "Argo CD refuses to reference a different revision of the same repository",
		fetched: []string{acmeURL + "@release"},
	}, {
		name:    "a value file that climbs out of the ref's repository",
		app:     multiSourceApp(local, "$values/../../../etc/passwd", "{repoURL: "+acmeURL+", ref: values}"),
		err:     "outside the repository",
		sources: "values=" + acmeURL + "@ (checkout)",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := withPrefix("chart/", valuesChart)
			files["env/prod.yaml"] = "image: registry.example/checkout:1\n"
			files["argocd/web.yaml"] = c.app
			f := fetch()
			// The values repository at "charts" holds the chart.
			f.dirs[valuesURL+"@charts"] = writeTree(t, withPrefix("chart/", valuesChart))
			inv := scan(t, writeTree(t, files), Options{RepoURL: acmeURL, Revisions: []string{"HEAD"}, AllowSources: c.allow, Sources: f})
			a := appByName(t, inv, "web[0]")
			if c.err != "" {
				if !strings.Contains(a.Error, c.err) || len(a.Images) != 0 {
					t.Errorf("error %q, images %v; want an error containing %q", a.Error, imagesOf(a), c.err)
				}
			} else if a.Error != "" || strings.Join(imagesOf(a), " ") != c.image {
				t.Errorf("images %v, error %q; want %s", imagesOf(a), a.Error, c.image)
			}
			if strings.Join(f.calls, " ") != strings.Join(c.fetched, " ") {
				t.Errorf("fetched %v, want %v", f.calls, c.fetched)
			}
			var got []string
			for _, vs := range a.ValueSources {
				how := "(checkout)"
				if vs.Commit != "" {
					how = "(fetched)"
				}
				got = append(got, vs.Ref+"="+vs.RepoURL+"@"+vs.Revision+" "+how)
			}
			if strings.Join(got, " ") != c.sources {
				t.Errorf("value sources %q, want %q", got, c.sources)
			}
		})
	}
}

// TestValueSourcesTwoRevisionsRefused: reading from two refs of one
// repository at different revisions is an error in Argo CD, and so here.
func TestValueSourcesTwoRevisionsRefused(t *testing.T) {
	const valuesURL = "https://github.com/acme/values"
	files := withPrefix("chart/", valuesChart)
	files["argocd/web.yaml"] = strings.Replace(multiSourceApp("{repoURL: "+acmeURL+", path: chart}", "$a/x.yaml",
		"{repoURL: "+valuesURL+", targetRevision: v1, ref: a}", "{repoURL: "+valuesURL+", targetRevision: v2, ref: b}"),
		"valueFiles: ['$a/x.yaml']", "valueFiles: ['$a/x.yaml', '$b/x.yaml']", 1)
	f := &gitRevisions{dirs: map[string]string{valuesURL + "@v1": writeTree(t, map[string]string{"x.yaml": "a: 1\n"}), valuesURL + "@v2": writeTree(t, map[string]string{"x.yaml": "a: 2\n"})}}
	a := appByName(t, scan(t, writeTree(t, files), Options{RepoURL: acmeURL, AllowSources: []string{valuesURL}, Sources: f}), "web[0]")
	if !strings.Contains(a.Error, "cannot reference multiple revisions of the same repository") {
		t.Errorf("error %q", a.Error)
	}
}

// TestMultiSourceWithoutPathRendersNothing: Argo CD renders nothing for a
// source of a multi-source Application that has neither path nor chart,
// whatever its repository (operation in runManifestGenAsync); a single
// source without a path is the repository's root.
func TestMultiSourceWithoutPathRendersNothing(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"argocd/multi.yaml": `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: multi, namespace: argocd}
spec:
  destination: {namespace: prod}
  sources:
  - {repoURL: ` + acmeURL + `, path: one}
  - {repoURL: ` + acmeURL + `}
  - {repoURL: oci://registry.example/apps/x, targetRevision: 1.0.0}
`,
		"one/d.yaml": deploymentWith("one", "registry.example/one:1"),
	})
	inv := scan(t, dir, Options{RepoURL: acmeURL})
	for _, a := range inv.Apps {
		if a.Name == "multi[1]" || a.Name == "multi[2]" {
			t.Errorf("a source without path or chart became an app: %+v", a)
		}
	}
	if a := appByName(t, inv, "multi[0]"); strings.Join(imagesOf(a), " ") != "registry.example/one:1" {
		t.Errorf("multi[0]: %+v", a)
	}
}

// artifacts serves OCI artifacts from local directories.
type artifacts struct {
	dirs  map[string]string // repoURL@revision -> dir
	calls []string
}

func (a *artifacts) FetchArtifact(_ context.Context, repoURL, revision string) (FetchedArtifact, error) {
	a.calls = append(a.calls, repoURL+"@"+revision)
	d, ok := a.dirs[repoURL+"@"+revision]
	if !ok {
		return FetchedArtifact{}, errors.New("manifest unknown")
	}
	return FetchedArtifact{Dir: d, Tag: revision, Digest: "sha256:" + strings.Repeat("ab", 32)}, nil
}

// TestOCIArtifactSource: an oci:// source without a chart (Argo CD 3.1+)
// from an allowed registry renders the source's path in the artifact as
// any directory — Kustomize here, a chart with $values from the checkout
// below — and the app shows the tag and manifest digest; one not on the
// allow-list, or without a fetcher, is an app error and nothing is fetched.
func TestOCIArtifactSource(t *testing.T) {
	const oci = "oci://registry.example/apps/guestbook"
	content := writeTree(t, map[string]string{
		"overlays/prod/kustomization.yaml": "resources: [../../base]\nimages: [{name: registry.example/guestbook, newTag: v2}]\n",
		"base/kustomization.yaml":          "resources: [d.yaml]\n",
		"base/d.yaml":                      deploymentWith("guestbook", "registry.example/guestbook:v1"),
	})
	chart := writeTree(t, valuesChart)
	app := func(name, src string) string {
		return "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: " + name + ", namespace: argocd}\nspec:\n  destination: {namespace: prod}\n" + src
	}
	dir := writeTree(t, map[string]string{
		"argocd/guestbook.yaml": app("guestbook", "  source: {repoURL: "+oci+", targetRevision: 1.2.0, path: overlays/prod}\n"),
		"argocd/chart.yaml": app("chart", `  sources:
  - repoURL: oci://registry.example/charts/web
    targetRevision: 0.1.0
    path: .
    helm: {valueFiles: [$values/env/prod.yaml]}
  - {repoURL: `+acmeURL+`, ref: values}
`),
		"argocd/escape.yaml": app("escape", "  source: {repoURL: "+oci+", targetRevision: 1.2.0, path: ../..}\n"),
		"env/prod.yaml":      "image: registry.example/from-checkout:3\n",
	})
	f := &artifacts{dirs: map[string]string{oci + "@1.2.0": content, "oci://registry.example/charts/web@0.1.0": chart}}
	inv := scan(t, dir, Options{RepoURL: acmeURL, AllowSources: []string{oci, "oci://registry.example/charts/web"}, Artifacts: f})
	g := appByName(t, inv, "guestbook")
	if g.Error != "" || strings.Join(imagesOf(g), " ") != "registry.example/guestbook:v2" {
		t.Errorf("guestbook: images %v, error %q", imagesOf(g), g.Error)
	}
	if r := g.Remote; r == nil || r.RepoURL != oci || r.Revision != "1.2.0" || r.Version != "1.2.0" || !strings.HasPrefix(r.Digest, "sha256:abab") {
		t.Errorf("guestbook remote %+v", r)
	}
	if c := appByName(t, inv, "chart[0]"); c.Error != "" || strings.Join(imagesOf(c), " ") != "registry.example/from-checkout:3" {
		t.Errorf("chart: images %v, error %q", imagesOf(c), c.Error)
	}
	if e := appByName(t, inv, "escape").Error; !strings.Contains(e, "outside") {
		t.Errorf("path out of the artifact: %q", e)
	}

	// Not on the allow-list: an error naming it; nothing fetched.
	f.calls = nil
	inv = scan(t, dir, Options{RepoURL: acmeURL, Artifacts: f})
	if e := appByName(t, inv, "guestbook").Error; !strings.Contains(e, "OCI artifact "+oci) || !strings.Contains(e, "--allow-source") {
		t.Errorf("not allowed: %q", e)
	}
	if len(f.calls) != 0 {
		t.Errorf("fetched %v", f.calls)
	}
	// Allowed, but no fetcher configured.
	inv = scan(t, dir, Options{RepoURL: acmeURL, AllowSources: []string{oci}})
	if e := appByName(t, inv, "guestbook").Error; !strings.Contains(e, "no fetcher for OCI artifacts") {
		t.Errorf("no fetcher: %q", e)
	}
}

// TestAllowListNotFromRepository: the repository under review cannot add
// to the allow-list: a .gitops-gate.yaml that tries is refused whole, and
// without it the source stays an app error; nothing is fetched either way.
func TestAllowListNotFromRepository(t *testing.T) {
	const other = "https://github.com/acme/other"
	files := map[string]string{
		".gitops-gate.yaml": "sources:\n  allow: [" + other + "]\n",
		"argocd/app.yaml":   strings.Replace(argoApplication("web", "d", ""), "repoURL: "+acmeURL, "repoURL: "+other, 1),
	}
	f := &gitRevisions{dirs: map[string]string{other + "@HEAD": writeTree(t, map[string]string{"d/d.yaml": goodDeployment})}}
	repo, err := Open(writeTree(t, files), Options{RepoURL: acmeURL, Sources: f})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Discover(context.Background()); err == nil || !strings.Contains(err.Error(), "field sources not found") {
		t.Errorf("a .gitops-gate.yaml with sources: %v, want it refused", err)
	}
	delete(files, ".gitops-gate.yaml")
	if e := appByName(t, scan(t, writeTree(t, files), Options{RepoURL: acmeURL, Sources: f}), "web").Error; !strings.Contains(e, "--allow-source") {
		t.Errorf("web: %q, want the allow-list named", e)
	}
	if len(f.calls) != 0 {
		t.Errorf("fetched %v", f.calls)
	}
}

// TestOCIURLWithChartIsAmbiguous: an oci:// repoURL with chart is a Helm
// chart to Argo CD up to 3.0 and the artifact repoURL itself (chart
// ignored) to 3.1+, which tests IsOCI first; the gate cannot know which
// content syncs, so it is an app error naming both readings, even when the
// registry is allowed, and nothing is fetched.
func TestOCIURLWithChartIsAmbiguous(t *testing.T) {
	const oci = "oci://registry.example/charts"
	dir := writeTree(t, map[string]string{
		"argocd/web.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web, namespace: argocd}\nspec:\n  destination: {namespace: prod}\n  source: {repoURL: " + oci + ", chart: web, targetRevision: 0.1.0}\n",
	})
	f := &artifacts{dirs: map[string]string{}}
	inv := scan(t, dir, Options{RepoURL: acmeURL, AllowSources: []string{oci}, Artifacts: f})
	e := appByName(t, inv, "web").Error
	for _, want := range []string{"read two ways", "Argo CD 3.1+ fetches the OCI artifact " + oci, "Helm chart " + oci + "/web", "repoURL registry.example/charts (no oci://)"} {
		if !strings.Contains(e, want) {
			t.Errorf("error %q lacks %q", e, want)
		}
	}
	if len(f.calls) != 0 {
		t.Errorf("fetched %v", f.calls)
	}
}
