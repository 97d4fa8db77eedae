package chartsrc

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// entry is one tar entry of a hand-made layer.
type entry struct {
	name, body, link string
	typ              byte
}

// rawTgz packs entries as written, hostile ones included.
func rawTgz(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: typ, Linkname: e.link}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
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

// pushArtifact pushes an artifact whose layers have the given media types
// and contents, as `oras push` does, and returns its manifest digest.
func pushArtifact(t *testing.T, ref string, layers ...testLayer) string {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	for _, l := range layers {
		var err error
		if img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(l.data, types.MediaType(l.mt))}); err != nil {
			t.Fatal(err)
		}
	}
	img = mutate.ConfigMediaType(img, "application/vnd.oci.empty.v1+json")
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func layer(mt string, data []byte) testLayer { return testLayer{mt, data} }

// testLayer is one layer of a pushed artifact.
type testLayer struct {
	mt   string
	data []byte
}

const guestbookDeploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: guestbook}\nspec:\n  template:\n    spec:\n      containers: [{name: ui, image: registry.example/guestbook:v1}]\n"

// TestOCIArtifact: an OCI artifact (Argo CD 3.1+ source without chart:)
// from an allowed repository is resolved by tag, digest or semver range
// to its manifest digest and unpacked into the cache; a repository not on
// the list is refused without a request to it.
func TestOCIArtifact(t *testing.T) {
	reg := gatetest.NewRegistry()
	defer reg.Close()
	repoURL := "oci://" + reg.Host + "/apps/guestbook"
	content := rawTgz(t, entry{name: "./", typ: tar.TypeDir}, entry{name: "./guestbook/deploy.yaml", body: guestbookDeploy}, entry{name: "./guestbook/kustomization.yaml", body: "resources: [deploy.yaml]\n"})
	pushArtifact(t, reg.Host+"/apps/guestbook:1.0.0", layer(ociImageLayer, rawTgz(t, entry{name: "guestbook/deploy.yaml", body: "old"})))
	d2 := pushArtifact(t, reg.Host+"/apps/guestbook:1.2.0", layer(ociImageLayer, content),
		// Attestation-like layers are passed over, as Argo CD does.
		layer("application/vnd.in-toto+json", []byte("{}")))
	f := newFetcher(t, Allowed{URL: repoURL})
	for _, rev := range []string{"1.2.0", "^1.1", d2} {
		art, err := f.FetchArtifact(context.Background(), repoURL, rev)
		if err != nil {
			t.Fatalf("%s: %v", rev, err)
		}
		if art.Digest != d2 {
			t.Errorf("%s: %+v, want manifest %s", rev, art, d2)
		}
		if wantTag := map[string]string{"1.2.0": "1.2.0", "^1.1": "1.2.0", d2: ""}[rev]; art.Tag != wantTag {
			t.Errorf("%s: tag %q, want %q", rev, art.Tag, wantTag)
		}
		if b, err := os.ReadFile(filepath.Join(art.Dir, "guestbook", "deploy.yaml")); err != nil || string(b) != guestbookDeploy {
			t.Errorf("%s: unpacked %q, %v", rev, b, err)
		}
	}
	for _, rev := range []string{"", "HEAD", "9.9.9", "^7"} {
		if _, err := f.FetchArtifact(context.Background(), repoURL, rev); err == nil {
			t.Errorf("revision %q: no error", rev)
		}
	}

	before := reg.Requests()
	_, err := newFetcher(t).FetchArtifact(context.Background(), repoURL, "1.2.0")
	if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), repoURL) {
		t.Errorf("not allowed: %v", err)
	}
	if reg.Requests() != before {
		t.Errorf("a repository not on the list was contacted")
	}
}

// TestOCIArtifactHelmChartLayer: an artifact whose layer is a Helm chart
// is unpacked with its one directory moved to the root, as Argo CD does,
// so `path: .` is the chart.
func TestOCIArtifactHelmChartLayer(t *testing.T) {
	reg := gatetest.NewRegistry()
	defer reg.Close()
	repoURL := "oci://" + reg.Host + "/charts/web"
	pushArtifact(t, reg.Host+"/charts/web:1.0.0", layer(helmChartLayer, tgz(t, chartFiles("web", "1.0.0", "registry.example/web"))))
	art, err := newFetcher(t, Allowed{URL: repoURL}).FetchArtifact(context.Background(), repoURL, "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(art.Dir, "Chart.yaml")); err != nil {
		t.Errorf("chart not at the root: %v", err)
	}
}

// TestOCIArtifactMirror: the artifact is fetched from the entry's mirror,
// with the entry's credentials.
func TestOCIArtifactMirror(t *testing.T) {
	reg := gatetest.NewRegistry()
	defer reg.Close()
	pushArtifact(t, reg.Host+"/mirror/guestbook:v1", layer(ociImageLayer, rawTgz(t, entry{name: "deploy.yaml", body: guestbookDeploy})))
	const orig = "oci://registry.example.com/apps/guestbook"
	var auth []string
	f, err := New(Options{CacheDir: t.TempDir(), Allow: []Allowed{{URL: orig, Mirror: "oci://" + reg.Host + "/mirror/guestbook", Username: "u", Password: "p"}},
		Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			auth = append(auth, r.Header.Get("Authorization"))
			return http.DefaultTransport.RoundTrip(r)
		})})
	if err != nil {
		t.Fatal(err)
	}
	art, err := f.FetchArtifact(context.Background(), orig, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(art.Dir, "deploy.yaml")); err != nil {
		t.Error(err)
	}
	sent := false
	for _, a := range auth {
		sent = sent || strings.HasPrefix(a, "Basic ")
	}
	if !sent {
		t.Errorf("credentials not sent to the mirror: %q", auth)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestOCIArtifactRefused: layers that would write outside the unpack
// directory, links, oversized layers and manifests Argo CD refuses are
// errors, and nothing is left in the cache or outside it.
func TestOCIArtifactRefused(t *testing.T) {
	reg := gatetest.NewRegistry()
	defer reg.Close()
	repoURL := "oci://" + reg.Host + "/apps/evil"
	ok := rawTgz(t, entry{name: "deploy.yaml", body: guestbookDeploy})
	cases := []struct {
		name   string
		layers []testLayer
		want   string
	}{
		{"dotdot", []testLayer{layer(ociImageLayer, rawTgz(t, entry{name: "a/../../escaped.yaml", body: "x"}))}, "leads outside"},
		{"dotdot prefix", []testLayer{layer(ociImageLayer, rawTgz(t, entry{name: "../escaped.yaml", body: "x"}))}, "leads outside"},
		{"absolute", []testLayer{layer(ociImageLayer, rawTgz(t, entry{name: "/tmp/escaped.yaml", body: "x"}))}, "leads outside"},
		{"symlink", []testLayer{layer(ociImageLayer, rawTgz(t, entry{name: "link", link: "/etc/passwd", typ: tar.TypeSymlink}))}, "not a regular file"},
		{"hardlink", []testLayer{layer(ociImageLayer, rawTgz(t, entry{name: "link", link: "../../etc/passwd", typ: tar.TypeLink}))}, "not a regular file"},
		{"written twice", []testLayer{layer(ociImageLayer, rawTgz(t, entry{name: "deploy.yaml", body: guestbookDeploy}, entry{name: "./deploy.yaml", body: "evil"}))}, "exists"},
		{"unpacks too large", []testLayer{layer(ociImageLayer, rawTgz(t, entry{name: "big.yaml", body: strings.Repeat("a", 3<<10)}))}, "more than the limit of 2048 bytes"},
		{"two content layers", []testLayer{layer(ociImageLayer, ok), layer(ociImageLayer, rawTgz(t, entry{name: "other.yaml", body: "x"}))}, "found 2"},
		{"no content layer", []testLayer{layer("application/vnd.in-toto+json", []byte("{}"))}, "found 0"},
		{"media type not accepted", []testLayer{layer("application/vnd.oci.image.layer.v1.tar", ok)}, "not one Argo CD accepts"},
		{"chart layer of two directories", []testLayer{layer(helmChartLayer, rawTgz(t, entry{name: "a/Chart.yaml", body: "x"}, entry{name: "b/Chart.yaml", body: "x"}))}, "holds one directory"},
	}
	parent := t.TempDir()
	cache := filepath.Join(parent, "cache")
	f, err := New(Options{CacheDir: cache, Allow: []Allowed{{URL: repoURL}}, MaxUnpackedBytes: 2 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		tag := "v" + string(rune('a'+i))
		pushArtifact(t, reg.Host+"/apps/evil:"+tag, c.layers...)
		_, err := f.FetchArtifact(context.Background(), repoURL, tag)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
	// Too many layers.
	many := make([]testLayer, 11)
	for i := range many {
		many[i] = layer("application/vnd.example.note", []byte{byte(i)})
	}
	pushArtifact(t, reg.Host+"/apps/evil:many", many...)
	if _, err := f.FetchArtifact(context.Background(), repoURL, "many"); err == nil || !strings.Contains(err.Error(), "11 layers") {
		t.Errorf("many layers: %v", err)
	}
	// A layer over the archive limit is refused from its descriptor, before download.
	small, err := New(Options{CacheDir: cache, Allow: []Allowed{{URL: repoURL}}, MaxArchiveBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	pushArtifact(t, reg.Host+"/apps/evil:big", layer(ociImageLayer, rawTgz(t, entry{name: "big.yaml", body: strings.Repeat("ab", 4<<10)})))
	if _, err := small.FetchArtifact(context.Background(), repoURL, "big"); err == nil || !strings.Contains(err.Error(), "more than the limit of 64") {
		t.Errorf("oversized layer: %v", err)
	}

	// Nothing escaped, and nothing half-unpacked stays in the cache.
	for _, p := range []string{filepath.Join(parent, "escaped.yaml"), "/tmp/escaped.yaml"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(cache, "artifacts", "sha256"))
	if len(entries) != 0 {
		t.Errorf("cache holds %d entries after refused layers", len(entries))
	}
}

// TestContentLayerDigestChecked: a layer whose bytes are not the digest
// the manifest gives is refused.
func TestContentLayerDigestChecked(t *testing.T) {
	reg := gatetest.NewRegistry()
	defer reg.Close()
	repoURL := "oci://" + reg.Host + "/apps/guestbook"
	data := rawTgz(t, entry{name: "deploy.yaml", body: guestbookDeploy})
	pushArtifact(t, reg.Host+"/apps/guestbook:v1", layer(ociImageLayer, data))
	evil := rawTgz(t, entry{name: "deploy.yaml", body: strings.ReplaceAll(guestbookDeploy, "registry.example", "evil.example")})
	f, err := New(Options{CacheDir: t.TempDir(), Allow: []Allowed{{URL: repoURL}},
		Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			resp, err := http.DefaultTransport.RoundTrip(r)
			if err == nil && strings.Contains(r.URL.Path, "/blobs/"+sha256Digest(data)) {
				resp.Body.Close()
				resp.Body = nopCloser{bytes.NewReader(evil)}
				resp.ContentLength = int64(len(evil))
			}
			return resp, err
		})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.FetchArtifact(context.Background(), repoURL, "v1"); err == nil || !strings.Contains(err.Error(), "content layer") {
		t.Fatalf("a layer that is not its digest: %v", err)
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// TestOCIArtifactApplication: an Application whose source is an OCI
// artifact of an allowed registry (Argo CD 3.1+: oci:// without chart)
// renders the source's path in the artifact — a Kustomize overlay here —
// and the app names the tag and manifest digest it resolved to. An
// artifact whose layer climbs out of its directory, and a registry not on
// the allow-list, are app errors.
func TestOCIArtifactApplication(t *testing.T) {
	reg := gatetest.NewRegistry()
	defer reg.Close()
	repoURL := "oci://" + reg.Host + "/apps/guestbook"
	digest := pushArtifact(t, reg.Host+"/apps/guestbook:1.2.0", layer(ociImageLayer, rawTgz(t,
		entry{name: "base/kustomization.yaml", body: "resources: [deploy.yaml]\n"},
		entry{name: "base/deploy.yaml", body: guestbookDeploy},
		entry{name: "overlays/prod/kustomization.yaml", body: "resources: [../../base]\nimages: [{name: registry.example/guestbook, newTag: v2}]\n"})))
	pushArtifact(t, reg.Host+"/apps/guestbook:evil", layer(ociImageLayer, rawTgz(t,
		entry{name: "overlays/prod/kustomization.yaml", body: "resources: [d.yaml]\n"},
		entry{name: "overlays/prod/../../../../escaped.yaml", body: guestbookDeploy})))
	app := func(rev string) string {
		return `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  destination: {namespace: prod}
  source: {repoURL: ` + repoURL + `, targetRevision: ` + rev + `, path: overlays/prod}
`
	}
	f := newFetcher(t, Allowed{URL: repoURL})
	opts := manifests.Options{RepoURL: thisRepo, AllowSources: []string{repoURL}, Charts: f, Artifacts: f}
	got := scan(t, writeRepo(t, map[string]string{"argocd/web.yaml": app("1.2.0")}), opts)["web"]
	if got.err != "" || strings.Join(got.images, " ") != "registry.example/guestbook:v2" {
		t.Fatalf("artifact: %+v", got)
	}
	if r := got.app.Remote; r == nil || r.RepoURL != repoURL || r.Version != "1.2.0" || r.Digest != digest {
		t.Errorf("remote %+v, want tag 1.2.0 and manifest %s", r, digest)
	}
	got = scan(t, writeRepo(t, map[string]string{"argocd/web.yaml": app("evil")}), opts)["web"]
	if !strings.Contains(got.err, "leads outside") || len(got.images) != 0 {
		t.Errorf("escaping artifact: %+v", got)
	}
	before := reg.Requests()
	got = scan(t, writeRepo(t, map[string]string{"argocd/web.yaml": app("1.2.0")}), manifests.Options{RepoURL: thisRepo, Charts: f, Artifacts: f})["web"]
	if !strings.Contains(got.err, "OCI artifact "+repoURL) || !strings.Contains(got.err, "--allow-source") || reg.Requests() != before {
		t.Errorf("not allowed: %+v (registry requests %d -> %d)", got, before, reg.Requests())
	}
}
