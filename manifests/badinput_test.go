package manifests

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

const goodDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: good}
spec:
  template:
    spec:
      containers:
      - name: app
        image: registry.example/good:1
`

func TestMalformedYAMLNamesFileAndLineAndOthersStillRender(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"broken/a.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels: [unclosed\nspec: {}\n",
		"broken/b.yaml": goodDeployment,
		"fine/d.yaml":   goodDeployment,
	})
	inv := scan(t, dir, Options{})
	b := appByName(t, inv, "broken")
	if !strings.Contains(b.Error, "broken/a.yaml:") || !strings.Contains(b.Error, "invalid YAML") {
		t.Errorf("error %q: want file, line and 'invalid YAML'", b.Error)
	}
	if len(b.Images) != 1 {
		t.Errorf("the good file of the broken app should still be reported, got %+v", b.Images)
	}
	if f := appByName(t, inv, "fine"); f.Error != "" || len(f.Images) != 1 {
		t.Errorf("other app: %+v", f)
	}
}

func TestDocumentThatIsNotAKubernetesObject(t *testing.T) {
	dir := writeTree(t, map[string]string{"app/x.yaml": goodDeployment + "---\nname: just-some-config\nreplicas: 3\n---\n- a\n- list\n"})
	a := appByName(t, scan(t, dir, Options{}), "app")
	for _, want := range []string{"app/x.yaml:11: not a Kubernetes object: no apiVersion or kind", "app/x.yaml:14: not a Kubernetes object: document is a list"} {
		if !strings.Contains(a.Error, want) {
			t.Errorf("error %q: want %q", a.Error, want)
		}
	}
	if len(a.Images) != 1 {
		t.Errorf("images %+v", a.Images)
	}
}

func TestKustomizationWithMissingFile(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"app/kustomization.yaml": "resources:\n- deployment.yaml\n- missing.yaml\n",
		"app/deployment.yaml":    goodDeployment,
	})
	a := appByName(t, scan(t, dir, Options{}), "app")
	if !strings.Contains(a.Error, "missing.yaml") || !strings.Contains(a.Error, "kustomize build app") {
		t.Errorf("error %q: want it to name missing.yaml", a.Error)
	}
}

func TestKustomizeRemoteBaseIsRefusedWithoutFetching(t *testing.T) {
	for _, remote := range []string{
		"github.com/kubernetes-sigs/kustomize//examples/multibases?ref=v1.0.6",
		"https://github.com/argoproj/argo-cd//manifests/cluster-install?ref=stable",
		"git@github.com:org/repo.git//base",
		"https://raw.githubusercontent.com/org/repo/main/deploy.yaml",
	} {
		t.Run(remote, func(t *testing.T) {
			dir := writeTree(t, map[string]string{
				"base/kustomization.yaml": "resources:\n- deployment.yaml\n- " + remote + "\n",
				"base/deployment.yaml":    goodDeployment,
				"app/kustomization.yaml":  "resources:\n- ../base\n",
			})
			start := time.Now()
			a := appByName(t, scan(t, dir, Options{}), "app")
			if !strings.Contains(a.Error, "base/kustomization.yaml:3: remote base or file \""+remote+"\"") {
				t.Errorf("error %q: want the file, line and the remote reference", a.Error)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %v: looks like it tried to fetch", time.Since(start))
			}
		})
	}
}

func TestPathsOutsideTheRepository(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "kustomization.yaml"), []byte("resources:\n- d.yaml\n"), 0o644)
	os.WriteFile(filepath.Join(outside, "d.yaml"), []byte(dedent(goodDeployment)), 0o644)

	t.Run("gitops-gate.yaml path", func(t *testing.T) {
		dir := writeTree(t, map[string]string{".gitops-gate.yaml": "apps:\n- name: etc\n  path: ../../etc\n- name: ok\n  path: ok\n", "ok/d.yaml": goodDeployment})
		inv := scan(t, dir, Options{})
		if e := appByName(t, inv, "etc").Error; !strings.Contains(e, "outside the repository") {
			t.Errorf("error %q", e)
		}
		if len(appByName(t, inv, "ok").Images) != 1 {
			t.Error("the other app should still render")
		}
	})
	t.Run("Application path", func(t *testing.T) {
		dir := writeTree(t, map[string]string{"apps/app.yaml": `
			apiVersion: argoproj.io/v1alpha1
			kind: Application
			metadata: {name: escape}
			spec:
			  source: {repoURL: https://example.com/r.git, path: ../../etc}
			`})
		if e := appByName(t, scan(t, dir, Options{RepoURL: "https://example.com/r.git"}), "escape").Error; !strings.Contains(e, "outside the repository") {
			t.Errorf("error %q", e)
		}
	})
	t.Run("kustomize base", func(t *testing.T) {
		rel, _ := filepath.Rel(t.TempDir(), outside) // climbs out of any temp dir
		dir := writeTree(t, map[string]string{"app/kustomization.yaml": "resources:\n- ../" + filepath.ToSlash(rel) + "\n"})
		a := appByName(t, scan(t, dir, Options{}), "app")
		if !strings.Contains(a.Error, "outside the repository") || len(a.Images) != 0 {
			t.Errorf("error %q, images %+v", a.Error, a.Images)
		}
	})
}

func TestSymlinksPointingOutside(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks")
	}
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.yaml")
	os.WriteFile(secret, []byte(dedent(goodDeployment)), 0o644)

	dir := writeTree(t, map[string]string{
		"plain/ok.yaml":           goodDeployment,
		"kust/kustomization.yaml": "resources:\n- link.yaml\n",
		"chart/Chart.yaml":        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"chart/values.yaml":       "{}\n",
	})
	for _, l := range []string{"plain/link.yaml", "kust/link.yaml", "chart/templates/link.yaml"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, l)), 0o755)
		if err := os.Symlink(secret, filepath.Join(dir, l)); err != nil {
			t.Fatal(err)
		}
	}
	inv := scan(t, dir, Options{})
	for _, app := range []string{"plain", "kust", "chart"} {
		a := appByName(t, inv, app)
		if !strings.Contains(a.Error, "outside the repository") {
			t.Errorf("%s: error %q, want it to say the symlink leads outside", app, a.Error)
		}
		for _, im := range a.Images {
			if im.File != "plain/ok.yaml" {
				t.Errorf("%s: read through the symlink: %+v", app, im)
			}
		}
	}
	if n := len(appByName(t, inv, "plain").Images); n != 1 {
		t.Errorf("plain app: the file inside the repo should still be read, got %d images", n)
	}
}

func TestHugeFileIsRefusedCheaply(t *testing.T) {
	dir := writeTree(t, map[string]string{"app/ok.yaml": goodDeployment})
	f, err := os.Create(filepath.Join(dir, "app", "huge.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := []byte(strings.Repeat("# padding padding padding padding padding padding padding padding\n", 1024))
	for written := 0; written < 50<<20; written += len(chunk) {
		f.Write(chunk)
	}
	f.Close()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	a := appByName(t, scan(t, dir, Options{}), "app")
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)

	if !strings.Contains(a.Error, "app/huge.yaml") || !errorsIsTooLarge(a.Error) {
		t.Errorf("error %q: want the file named and 'too large'", a.Error)
	}
	if len(a.Images) != 1 {
		t.Errorf("the other file should still be read")
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 20<<20 {
		t.Errorf("allocated %d MiB to refuse a 50 MiB file", grown>>20)
	}
	if elapsed > 5*time.Second {
		t.Errorf("took %v", elapsed)
	}
}

func errorsIsTooLarge(msg string) bool { return strings.Contains(msg, ErrTooLarge.Error()) }

// billionLaughs is the classic alias bomb (9 levels of 9 references, about
// 387 million nodes once expanded), shared with the web tests.
func billionLaughs(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../testdata/hostile/billion-laughs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAliasBombIsBounded(t *testing.T) {
	bomb := billionLaughs(t)
	dir := writeTree(t, map[string]string{
		"plain/bomb.yaml":         bomb,
		"plain/ok.yaml":           goodDeployment,
		"kust/kustomization.yaml": "resources:\n- bomb.yaml\n",
		"kust/bomb.yaml":          bomb,
		"chart/Chart.yaml":        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"chart/values.yaml":       bomb,
	})
	done := make(chan *Inventory, 1)
	go func() { done <- scan(t, dir, Options{}) }()
	select {
	case inv := <-done:
		p := appByName(t, inv, "plain")
		if !strings.Contains(p.Error, "plain/bomb.yaml:1: document expands to more than") {
			t.Errorf("plain: error %q", p.Error)
		}
		if len(p.Images) != 1 {
			t.Errorf("plain: the other file should still be read")
		}
		for _, app := range []string{"kust", "chart"} {
			if e := appByName(t, inv, app).Error; !strings.Contains(e, "/bomb.yaml:1: document expands") && !strings.Contains(e, "/values.yaml:1: document expands") {
				t.Errorf("%s: error %q, want the alias bomb named", app, e)
			}
		}
	case <-time.After(20 * time.Second):
		t.Fatal("alias bomb not bounded in time")
	}
}

func TestHelmTemplateError(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"chart/Chart.yaml":                "apiVersion: v2\nname: broken\nversion: 0.1.0\n",
		"chart/values.yaml":               "image: registry.example/x:1\n",
		"chart/templates/deployment.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - image: {{ .Values.image | nosuchfunc }}\n",
		"fine/d.yaml":                     goodDeployment,
	})
	inv := scan(t, dir, Options{})
	c := appByName(t, inv, "chart")
	if !strings.Contains(c.Error, "templates/deployment.yaml") || !strings.Contains(c.Error, "nosuchfunc") {
		t.Errorf("error %q: want the template file and the problem", c.Error)
	}
	if len(appByName(t, inv, "fine").Images) != 1 {
		t.Error("other apps should still render")
	}
}

func TestHelmDependencyNeedingDownload(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"chart/Chart.yaml":  "apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies:\n- name: redis\n  version: 17.0.0\n  repository: oci://registry-1.docker.io/bitnamicharts\n",
		"chart/values.yaml": "{}\n",
	})
	c := appByName(t, scan(t, dir, Options{}), "chart")
	if !strings.Contains(c.Error, "redis 17.0.0: repository oci://registry-1.docker.io/bitnamicharts is not allowed") {
		t.Errorf("error %q", c.Error)
	}
}

func TestContextCancellationStopsRendering(t *testing.T) {
	dir := writeTree(t, map[string]string{"a/d.yaml": goodDeployment, "b/d.yaml": goodDeployment})
	repo, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rd := repo.Render(ctx, App{Name: "a", Path: "a", Kind: KindPlain})
	if !errors.Is(rd.Err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", rd.Err)
	}
}
