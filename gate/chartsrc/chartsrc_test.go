package chartsrc

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// chartFiles is a small chart whose one Deployment runs the image its
// values give.
func chartFiles(name, version, image string) map[string]string {
	return map[string]string{
		name + "/Chart.yaml":  fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\n", name, version),
		name + "/values.yaml": fmt.Sprintf("image:\n  repository: %s\n  tag: %q\n", image, version),
		name + "/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
spec:
  template:
    spec:
      containers:
      - name: app
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
`,
	}
}

// tgz packs files as `helm package` does.
func tgz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// helmRepo serves an index.yaml and chart archives on loopback. digests
// overrides the digest the index gives for a file; requests records the
// paths asked for.
type helmRepo struct {
	*httptest.Server
	mu       sync.Mutex
	files    map[string][]byte
	index    string
	requests []string
	auth     []string
}

type repoChart struct {
	name, version string
	archive       []byte
	digest        string // "" for the archive's own
}

func newHelmRepo(t *testing.T, charts ...repoChart) *helmRepo {
	t.Helper()
	h := &helmRepo{files: map[string][]byte{}}
	var idx strings.Builder
	idx.WriteString("apiVersion: v1\nentries:\n")
	byName := map[string][]repoChart{}
	for _, c := range charts {
		byName[c.name] = append(byName[c.name], c)
	}
	for n, cs := range byName {
		fmt.Fprintf(&idx, "  %s:\n", n)
		for _, c := range cs {
			file := fmt.Sprintf("%s-%s.tgz", c.name, c.version)
			h.files["/"+file] = c.archive
			d := c.digest
			if d == "" {
				d = strings.TrimPrefix(sha256Digest(c.archive), "sha256:")
			}
			fmt.Fprintf(&idx, "  - name: %s\n    version: %s\n    digest: %s\n    urls: [%s]\n", c.name, c.version, d, file)
		}
	}
	h.index = idx.String()
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.requests = append(h.requests, r.URL.Path)
		h.auth = append(h.auth, r.Header.Get("Authorization"))
		h.mu.Unlock()
		p := r.URL.Path
		if i := strings.LastIndex(p, "/"); i > 0 { // served under any prefix (a mirror's path)
			p = p[i:]
		}
		if p == "/index.yaml" {
			w.Write([]byte(h.index))
			return
		}
		if b, ok := h.files[p]; ok {
			w.Write(b)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(h.Close)
	return h
}

func newFetcher(t *testing.T, allow ...Allowed) *Fetcher {
	t.Helper()
	f, err := New(Options{CacheDir: t.TempDir(), Allow: allow})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// writeRepo writes a GitOps repository.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for n, c := range files {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// scanned is one app of a scan: its definition, error and images.
type scanned struct {
	app    manifests.App
	err    string
	images []string
}

func scan(t *testing.T, dir string, opts manifests.Options) map[string]scanned {
	t.Helper()
	ctx := context.Background()
	repo, err := manifests.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	apps, err := repo.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]scanned{}
	for _, a := range apps {
		rd := repo.Render(ctx, a)
		s := scanned{app: rd.App}
		if rd.Err != nil {
			s.err = rd.Err.Error()
		}
		for _, ref := range rd.Images(nil) {
			s.images = append(s.images, ref.Image)
		}
		out[a.Name] = s
	}
	return out
}

func chartApp(repoURL, chart, rev string) string {
	return fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
  namespace: argocd
spec:
  project: default
  destination: {namespace: prod}
  source:
    repoURL: %s
    chart: %s
    targetRevision: %q
`, repoURL, chart, rev)
}

const thisRepo = "https://github.com/acme/gitops"

// TestHelmRepositoryChart: an Application's chart from an allowed Helm
// repository renders, its semver range resolved to the highest match, and
// the app shows the version and digest; the same chart from a repository
// not on the list is an error naming it.
func TestHelmRepositoryChart(t *testing.T) {
	a1 := tgz(t, chartFiles("web", "1.2.0", "registry.example/web"))
	a2 := tgz(t, chartFiles("web", "1.3.1", "registry.example/web"))
	a3 := tgz(t, chartFiles("web", "2.0.0", "registry.example/web"))
	hr := newHelmRepo(t, repoChart{name: "web", version: "1.2.0", archive: a1}, repoChart{name: "web", version: "1.3.1", archive: a2}, repoChart{name: "web", version: "2.0.0", archive: a3})
	dir := writeRepo(t, map[string]string{"apps/web.yaml": chartApp(hr.URL, "web", "~1.2 || ^1.3")})

	f := newFetcher(t, Allowed{URL: hr.URL})
	got := scan(t, dir, manifests.Options{RepoURL: thisRepo, AllowSources: []string{hr.URL}, Charts: f})["web"]
	if got.err != "" || strings.Join(got.images, " ") != "registry.example/web:1.3.1" {
		t.Fatalf("allowed chart: err %q images %v", got.err, got.images)
	}
	r := got.app.Remote
	if r == nil || r.Chart != "web" || r.Version != "1.3.1" || r.Digest != sha256Digest(a2) || r.Revision != "~1.2 || ^1.3" {
		t.Errorf("remote %+v, want chart web 1.3.1 %s", r, sha256Digest(a2))
	}
	// The inventory (and so the verdict's JSON) carries them.
	repo, err := manifests.Open(dir, manifests.Options{RepoURL: thisRepo, AllowSources: []string{hr.URL}, Charts: f})
	if err != nil {
		t.Fatal(err)
	}
	inv, _, err := repo.Scan(context.Background(), manifests.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(inv.Apps)
	if !strings.Contains(string(js), `"chart":"web","version":"1.3.1","digest":"`+sha256Digest(a2)+`"`) {
		t.Errorf("inventory JSON lacks the resolved chart: %s", js)
	}
	// An exact version.
	dir = writeRepo(t, map[string]string{"apps/web.yaml": chartApp(hr.URL, "web", "2.0.0")})
	if got := scan(t, dir, manifests.Options{RepoURL: thisRepo, AllowSources: []string{hr.URL}, Charts: f})["web"]; got.err != "" || got.images[0] != "registry.example/web:2.0.0" {
		t.Errorf("exact version: %+v", got)
	}

	// Not on the list: an error naming the source, nothing fetched.
	before := len(hr.requests)
	got = scan(t, dir, manifests.Options{RepoURL: thisRepo, Charts: f})["web"]
	if !strings.Contains(got.err, hr.URL) || !strings.Contains(got.err, "does not allow") || len(got.images) != 0 {
		t.Errorf("not allowed: %+v", got)
	}
	if len(hr.requests) != before {
		t.Errorf("a source not on the list was fetched: %v", hr.requests[before:])
	}
	// The fetcher refuses it too, whatever manifests asks.
	if _, err := newFetcher(t).FetchChart(context.Background(), hr.URL, "web", "1.2.0"); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Errorf("fetcher without the entry: %v", err)
	}
}

// TestHelmRepositoryDigestMismatch: an archive that is not the one the
// index names is refused, and so is an index entry without a digest.
func TestHelmRepositoryDigestMismatch(t *testing.T) {
	good := tgz(t, chartFiles("web", "1.0.0", "registry.example/web"))
	evil := tgz(t, chartFiles("web", "1.0.0", "evil.example/web"))
	hr := newHelmRepo(t, repoChart{name: "web", version: "1.0.0", archive: evil, digest: strings.TrimPrefix(sha256Digest(good), "sha256:")})
	dir := writeRepo(t, map[string]string{"apps/web.yaml": chartApp(hr.URL, "web", "1.0.0")})
	got := scan(t, dir, manifests.Options{RepoURL: thisRepo, AllowSources: []string{hr.URL}, Charts: newFetcher(t, Allowed{URL: hr.URL})})["web"]
	if !strings.Contains(got.err, "digest mismatch") || !strings.Contains(got.err, "web 1.0.0") || len(got.images) != 0 {
		t.Errorf("mismatch: %+v", got)
	}

	hr = newHelmRepo(t, repoChart{name: "web", version: "1.0.0", archive: good, digest: "-"})
	hr.index = strings.ReplaceAll(hr.index, "    digest: -\n", "")
	_, err := newFetcher(t, Allowed{URL: hr.URL}).FetchChart(context.Background(), hr.URL, "web", "1.0.0")
	if err == nil || !strings.Contains(err.Error(), "no sha256 digest") {
		t.Errorf("no digest: %v", err)
	}
}

// TestArchiveEntriesConfined: entries outside the chart's directory,
// links and oversized content are refused.
func TestArchiveEntriesConfined(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"dotdot":   {"web/Chart.yaml": "name: web\n", "web/../../evil": "x"},
		"absolute": {"web/Chart.yaml": "name: web\n", "/etc/evil": "x"},
		"other":    {"web/Chart.yaml": "name: web\n", "other/x": "x"},
	} {
		if err := unpack(tgz(t, files), t.TempDir(), "web", 1<<20); err == nil {
			t.Errorf("%s: unpacked", name)
		}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "web/link", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink})
	tw.Close()
	zw.Close()
	if err := unpack(buf.Bytes(), t.TempDir(), "web", 1<<20); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("symlink: %v", err)
	}
	big := chartFiles("web", "1.0.0", "x")
	big["web/big.txt"] = strings.Repeat("a", 2<<20)
	if err := unpack(tgz(t, big), t.TempDir(), "web", 1<<20); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("oversized: %v", err)
	}
}

// TestMirror: an entry's mirror serves the repository's charts (index URLs
// that point at the original repository are moved to it), the app still
// names the original repository, and credentials go to the mirror only.
func TestMirror(t *testing.T) {
	archive := tgz(t, chartFiles("web", "1.0.0", "registry.example/web"))
	mirror := newHelmRepo(t, repoChart{name: "web", version: "1.0.0", archive: archive})
	const orig = "https://charts.example.com/stable"
	mirror.index = strings.ReplaceAll(mirror.index, "urls: [web-1.0.0.tgz]", "urls: ["+orig+"/web-1.0.0.tgz]")
	a, err := ParseAllowed(orig + "=" + mirror.URL + "/mirror/stable")
	if err != nil {
		t.Fatal(err)
	}
	a.Username, a.Password = "u", "p"
	dir := writeRepo(t, map[string]string{"apps/web.yaml": chartApp(orig, "web", "1.0.0")})
	got := scan(t, dir, manifests.Options{RepoURL: thisRepo, AllowSources: URLs([]Allowed{a}), Charts: newFetcher(t, a)})["web"]
	if got.err != "" || len(got.images) != 1 || got.app.Remote.RepoURL != orig {
		t.Fatalf("mirror: %+v", got)
	}
	want := []string{"/mirror/stable/index.yaml", "/mirror/stable/web-1.0.0.tgz"}
	if strings.Join(mirror.requests, " ") != strings.Join(want, " ") {
		t.Errorf("mirror requests %v, want %v", mirror.requests, want)
	}
	for _, h := range mirror.auth {
		if !strings.HasPrefix(h, "Basic ") {
			t.Errorf("credentials not sent to the mirror: %q", h)
		}
	}
}

// TestOCIChart: a chart pushed to an OCI registry (the in-process one) is
// fetched by tag or semver range, in both Argo CD forms of the repoURL,
// and its digest is the chart layer's.
func TestOCIChart(t *testing.T) {
	reg := gatetest.NewRegistry()
	defer reg.Close()
	push := func(version, image string) []byte {
		archive := tgz(t, chartFiles("web", version, image))
		layer := static.NewLayer(archive, types.MediaType(helmChartLayer))
		img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer})
		if err != nil {
			t.Fatal(err)
		}
		img = mutate.ConfigMediaType(img, "application/vnd.cncf.helm.config.v1+json")
		ref, err := name.ParseReference(reg.Host + "/charts/web:" + strings.ReplaceAll(version, "+", "_"))
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		return archive
	}
	push("0.9.0", "registry.example/web")
	want := push("1.1.0+build.1", "registry.example/web")
	// Argo CD's Helm OCI form has no scheme; the allow-list entry may be
	// written either way. An oci:// repoURL with chart is ambiguous across
	// Argo CD versions and refused (manifests.TestOCIURLWithChartIsAmbiguous).
	for _, allowed := range []string{"oci://" + reg.Host + "/charts", reg.Host + "/charts"} {
		repoURL := reg.Host + "/charts"
		dir := writeRepo(t, map[string]string{"apps/web.yaml": chartApp(repoURL, "web", ">=1.0.0")})
		got := scan(t, dir, manifests.Options{RepoURL: thisRepo, AllowSources: []string{allowed}, Charts: newFetcher(t, Allowed{URL: allowed})})["web"]
		if got.err != "" || strings.Join(got.images, " ") != "registry.example/web:1.1.0+build.1" {
			t.Errorf("%s: %+v", repoURL, got)
			continue
		}
		if r := got.app.Remote; r.Version != "1.1.0+build.1" || r.Digest != sha256Digest(want) {
			t.Errorf("%s: remote %+v, want digest %s", repoURL, r, sha256Digest(want))
		}
	}
}

// TestDependencyFromAllowedRepository: a chart in the repository whose
// dependency is not vendored gets it from an allowed repository, and one
// from a repository not on the list is an error naming that repository.
func TestDependencyFromAllowedRepository(t *testing.T) {
	dep := tgz(t, chartFiles("db", "3.1.0", "registry.example/db"))
	hr := newHelmRepo(t, repoChart{name: "db", version: "3.1.0", archive: dep})
	chart := func(repo string) map[string]string {
		return map[string]string{
			"app/Chart.yaml":  "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: db\n  version: ^3.0.0\n  repository: " + repo + "\n",
			"app/values.yaml": "db:\n  image:\n    tag: pinned\n",
		}
	}
	got := scan(t, writeRepo(t, chart(hr.URL)), manifests.Options{AllowSources: []string{hr.URL}, Charts: newFetcher(t, Allowed{URL: hr.URL})})["app"]
	if got.err != "" || strings.Join(got.images, " ") != "registry.example/db:pinned" {
		t.Fatalf("allowed dependency: %+v", got)
	}
	if d := got.app.Dependencies; len(d) != 1 || d[0].Version != "3.1.0" || d[0].Digest != sha256Digest(dep) {
		t.Errorf("dependencies %+v", d)
	}
	got = scan(t, writeRepo(t, chart("https://charts.elsewhere.example")), manifests.Options{AllowSources: []string{hr.URL}, Charts: newFetcher(t, Allowed{URL: hr.URL})})["app"]
	if !strings.Contains(got.err, "repository https://charts.elsewhere.example is not allowed") || len(got.images) != 0 {
		t.Errorf("dependency not allowed: %+v", got)
	}
}

func TestPickVersion(t *testing.T) {
	avail := []string{"1.0.0", "1.2.3", "1.10.0", "2.0.0-rc.1", "2.0.0", "v3.0.0"}
	for want, exp := range map[string]string{
		"1.2.3": "1.2.3", "~1.2": "1.2.3", "^1.0": "1.10.0", "*": "v3.0.0", "": "v3.0.0",
		"<2.0.0": "1.10.0", ">=2.0.0-0 <2.0.0": "2.0.0-rc.1", "3.0.0": "v3.0.0", "1.x": "1.10.0",
	} {
		got, err := pickVersion(avail, want)
		if err != nil || got != exp {
			t.Errorf("pickVersion(%q) = %q, %v; want %q", want, got, err, exp)
		}
	}
	for _, bad := range []string{"9.9.9", "^4", "not a version"} {
		if got, err := pickVersion(avail, bad); err == nil {
			t.Errorf("pickVersion(%q) = %q, want an error", bad, got)
		}
	}
}

// TestCorpusHelmDependency renders the corpus app helm-dependency (Argo
// CD's example, which depends on wordpress 9.0.3 from
// https://charts.helm.sh/stable) with that repository mirrored on
// loopback. The real wordpress chart is not available offline and is not
// downloaded: a stand-in wordpress 9.0.3, built here, takes its image from
// values as the real one does. The images must equal what `helm template`
// renders after `helm dependency build`, i.e. with the same archive
// vendored in charts/ (the Helm SDK's rendering, the one the gate uses).
func TestCorpusHelmDependency(t *testing.T) {
	const stable = "https://charts.helm.sh/stable"
	standIn := map[string]string{
		"wordpress/Chart.yaml":  "apiVersion: v1\nname: wordpress\nversion: 9.0.3\n",
		"wordpress/values.yaml": "image:\n  registry: docker.io\n  repository: bitnami/wordpress\n  tag: 5.3.2-debian-9-r0\n",
		"wordpress/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-wordpress
spec:
  template:
    spec:
      containers:
      - name: wordpress
        image: "{{ .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}"
`,
	}
	mirror := newHelmRepo(t, repoChart{name: "wordpress", version: "9.0.3", archive: tgz(t, standIn)})

	corpus := filepath.Join("..", "..", "testdata", "corpus", "argocd-example-apps", "helm-dependency")
	files := map[string]string{}
	entries, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(corpus, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files["helm-dependency/"+e.Name()] = string(b)
	}
	a, err := ParseAllowed(stable + "=" + mirror.URL)
	if err != nil {
		t.Fatal(err)
	}
	got := scan(t, writeRepo(t, files), manifests.Options{AllowSources: URLs([]Allowed{a}), Charts: newFetcher(t, a)})["helm-dependency"]
	if got.err != "" || len(got.images) == 0 {
		t.Fatalf("helm-dependency from the mirror: %+v", got)
	}
	if d := got.app.Dependencies; len(d) != 1 || d[0].RepoURL != stable || d[0].Version != "9.0.3" {
		t.Errorf("dependencies %+v", d)
	}

	vendored := map[string]string{}
	for n, c := range files {
		vendored[n] = c
	}
	for n, c := range standIn {
		vendored["helm-dependency/charts/"+n] = c
	}
	vendoredDir := writeRepo(t, vendored)
	want := scan(t, vendoredDir, manifests.Options{})["helm-dependency"]
	if want.err != "" || strings.Join(got.images, " ") != strings.Join(want.images, " ") {
		t.Errorf("images %v, want %v as the vendored chart renders them (err %q)", got.images, want.images, want.err)
	}
	// And as `helm template` renders the vendored chart, through the Helm
	// SDK alone (loader, ToRenderValues, engine.Render: what
	// action.Install with ClientOnly runs), not through the gate.
	if h := helmTemplateImages(t, filepath.Join(vendoredDir, "helm-dependency"), "helm-dependency"); strings.Join(got.images, " ") != strings.Join(h, " ") {
		t.Errorf("images %v, want %v as helm template renders them", got.images, h)
	}
	if strings.Join(got.images, " ") != "docker.io/bitnami/wordpress:invalid" {
		t.Errorf("images %v: want the corpus values' tag", got.images)
	}
}

// helmTemplateImages renders a chart directory as `helm template NAME DIR`
// does, with the Helm SDK only, and returns the image: values of the
// output in order of the templates' names.
func helmTemplateImages(t *testing.T, dir, release string) []string {
	t.Helper()
	c, err := loader.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := chartutil.ProcessDependenciesWithMerge(c, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	vals, err := chartutil.ToRenderValues(c, map[string]any{}, chartutil.ReleaseOptions{Name: release, Namespace: "default", IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	out, err := engine.Render(c, vals)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	var images []string
	for _, n := range names {
		for _, m := range imageLine.FindAllStringSubmatch(out[n], -1) {
			images = append(images, m[1])
		}
	}
	return images
}

var imageLine = regexp.MustCompile(`(?m)^\s*(?:-\s+)?image:\s*"?([^"\s]+)"?\s*$`)
