package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
)

func TestPinWriteBackIsByteExact(t *testing.T) {
	w := gatetest.NewWorld(t)
	ctx := context.Background()
	repl := []string{"REGISTRY", w.Registry.Host}
	for _, im := range []struct{ repoTag, name string }{
		{"acme/web:1.0", "WEB"}, {"acme/quoted:2.0", "QUOTED"}, {"acme/single:3.0", "SINGLE"}, {"acme/flow:4.0", "FLOW"},
		{"acme/anchor:5.0", "ANCHOR"}, {"acme/crlf:6.0", "CRLF"}, {"acme/kust:1.1", "KUST"}, {"acme/kust:1.0", "KUSTBASE"},
	} {
		d, err := w.PushImage(ctx, im.repoTag)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Sigstore.SignImage(ctx, d, gatetest.SignOptions{}); err != nil {
			t.Fatal(err)
		}
		repl = append(repl, "@DIGEST_"+im.name, "@"+d.DigestStr(), "DIGEST_"+im.name, d.DigestStr())
	}
	r := strings.NewReplacer(repl...)
	repo := t.TempDir()
	copyDir(t, "../../testdata/pin/input", repo, r)
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(pol, []byte(strings.ReplaceAll(checkPolicy, "REGISTRY", w.Registry.Host)), 0o644)
	flags := []string{"--policy", pol, "--trusted-root", w.TrustedRootPath}

	// --dry-run shows a diff and writes nothing.
	before := snapshot(t, repo)
	out, stderr, code := run(t, append([]string{"pin", repo, "--dry-run"}, flags...)...)
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"--- a/plain/web.yaml", "-          image: " + w.Registry.Host + "/acme/web:1.0", "+          image: " + w.Registry.Host + "/acme/web:1.0@sha256:",
		"+    digest: sha256:", "would pin 7 image values in 3 files"} {
		if !strings.Contains(out+stderr, want) {
			t.Errorf("dry run lacks %q:\n%s\n%s", want, out, stderr)
		}
	}
	if after := snapshot(t, repo); after != before {
		t.Fatal("--dry-run changed files")
	}

	if _, stderr, code := run(t, append([]string{"pin", repo}, flags...)...); code != 0 {
		t.Fatalf("pin: exit %d\n%s", code, stderr)
	}
	err := filepath.Walk("../../testdata/pin/expected", func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel("../../testdata/pin/expected", p)
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(repo, rel))
		if err != nil {
			return err
		}
		if string(got) != r.Replace(string(want)) {
			t.Errorf("%s differs from the golden file:\n%s", rel, manifestsDiff(rel, []byte(r.Replace(string(want))), got))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Pinned twice is pinned once: the second run changes nothing.
	mid := snapshot(t, repo)
	if _, stderr, code := run(t, append([]string{"pin", repo}, flags...)...); code != 0 || snapshot(t, repo) != mid {
		t.Errorf("a second pin changed files (exit %d): %s", code, stderr)
	}
}

func copyDir(t *testing.T, src, dst string, r *strings.Replacer) {
	t.Helper()
	filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, _ := os.ReadFile(p)
		return os.WriteFile(filepath.Join(dst, rel), []byte(r.Replace(string(b))), 0o644)
	})
}

func snapshot(t *testing.T, dir string) string {
	var b strings.Builder
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			c, _ := os.ReadFile(p)
			b.WriteString(p + "\n" + string(c))
		}
		return nil
	})
	return b.String()
}

func TestPinArgoCDApplicationOverride(t *testing.T) {
	w := gatetest.NewWorld(t)
	ctx := context.Background()
	d, err := w.PushImage(ctx, "acme/kust:1.2")
	if err != nil {
		t.Fatal(err)
	}
	w.Sigstore.SignImage(ctx, d, gatetest.SignOptions{})
	base, _ := w.PushImage(ctx, "acme/kust:1.0")
	w.Sigstore.SignImage(ctx, base, gatetest.SignOptions{})
	host := w.Registry.Host
	repo := t.TempDir()
	app := "# Applications, kept as written\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: api\nspec:\n  source:\n    repoURL: https://github.com/acme/gitops.git\n    path: api\n    kustomize:\n      images:\n        - " + host + "/acme/kust=" + host + "/acme/kust:1.2  # pinned by the release\n"
	files := map[string]string{
		"argocd/apps.yaml":       app,
		"api/kustomization.yaml": "resources: [deploy.yaml]\n",
		"api/deploy.yaml":        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n    spec:\n      containers: [{name: api, image: " + host + "/acme/kust:1.0}]\n",
	}
	for p, c := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(repo, p)), 0o755)
		os.WriteFile(filepath.Join(repo, p), []byte(c), 0o644)
	}
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(pol, []byte(strings.ReplaceAll(checkPolicy, "REGISTRY", host)), 0o644)
	if _, stderr, code := run(t, "pin", repo, "--policy", pol, "--trusted-root", w.TrustedRootPath, "--repo-url", "https://github.com/acme/gitops.git"); code != 0 {
		t.Fatalf("pin: exit %d\n%s", code, stderr)
	}
	got, _ := os.ReadFile(filepath.Join(repo, "argocd/apps.yaml"))
	want := strings.Replace(app, "/acme/kust:1.2  #", "/acme/kust:1.2@"+d.DigestStr()+"  #", 1)
	if string(got) != want {
		t.Errorf("Application after pin:\n%s\nwant:\n%s", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(repo, "api/deploy.yaml")); string(b) != files["api/deploy.yaml"] {
		t.Errorf("the base file must not change:\n%s", b)
	}
}

func TestPinHelmValues(t *testing.T) {
	w := gatetest.NewWorld(t)
	ctx := context.Background()
	host := w.Registry.Host
	var digests []string
	for _, rt := range []string{"acme/chart:1.0", "acme/digested:2.0"} {
		d, err := w.PushImage(ctx, rt)
		if err != nil {
			t.Fatal(err)
		}
		w.Sigstore.SignImage(ctx, d, gatetest.SignOptions{})
		digests = append(digests, d.DigestStr())
	}
	tpl := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: \"{{ .Values.image.repository }}{{ if .Values.image.digest }}@{{ .Values.image.digest }}{{ else }}:{{ .Values.image.tag }}{{ end }}\"\n"
	repo := t.TempDir()
	files := map[string]string{
		"tagged/Chart.yaml":           "apiVersion: v2\nname: tagged\nversion: 0.1.0\n",
		"tagged/values.yaml":          "# the chart's image\nimage:\n  repository: " + host + "/acme/chart\n  tag: \"1.0\"  # release\n",
		"tagged/templates/pod.yaml":   tpl,
		"digested/Chart.yaml":         "apiVersion: v2\nname: digested\nversion: 0.1.0\n",
		"digested/values.yaml":        "image:\n  repository: " + host + "/acme/digested\n  tag: \"2.0\"\n  digest: \"\"\n",
		"digested/templates/pod.yaml": tpl,
	}
	for p, c := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(repo, p)), 0o755)
		os.WriteFile(filepath.Join(repo, p), []byte(c), 0o644)
	}
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(pol, []byte(strings.ReplaceAll(checkPolicy, "REGISTRY", host)), 0o644)
	flags := []string{"--policy", pol, "--trusted-root", w.TrustedRootPath}
	if _, stderr, code := run(t, append([]string{"pin", repo}, flags...)...); code != 0 {
		t.Fatalf("pin: exit %d\n%s", code, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(repo, "tagged/values.yaml")); string(b) != strings.Replace(files["tagged/values.yaml"], `"1.0"`, `"1.0@`+digests[0]+`"`, 1) {
		t.Errorf("tagged values:\n%s", b)
	}
	if b, _ := os.ReadFile(filepath.Join(repo, "digested/values.yaml")); string(b) != strings.Replace(files["digested/values.yaml"], `digest: ""`, `digest: "`+digests[1]+`"`, 1) {
		t.Errorf("digested values:\n%s", b)
	}
	out, _, _ := run(t, "images", repo)
	if !strings.Contains(out, host+"/acme/chart:1.0@"+digests[0]) || !strings.Contains(out, host+"/acme/digested@"+digests[1]) {
		t.Errorf("rendered after pin:\n%s", out)
	}
}
