package manifests

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gojsonnet "github.com/google/go-jsonnet"
)

// TestJsonnetApplicationTLAsLibs renders a Jsonnet app of an Argo CD
// Application with TLAs (string and code), extVars with the build
// environment, and libs relative to the repository root.
func TestJsonnetApplicationTLAsLibs(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"argocd/app.yaml": `
			apiVersion: argoproj.io/v1alpha1
			kind: Application
			metadata: {name: web}
			spec:
			  source:
			    repoURL: https://github.com/example/gitops.git
			    path: apps/web
			    directory:
			      jsonnet:
			        tlas:
			        - {name: tag, value: "1.4.2"}
			        - {name: replicas, value: "2 + 1", code: true}
			        extVars:
			        - {name: app, value: "$ARGOCD_APP_NAME"}
			        libs: [vendor/lib]
			  destination: {server: https://kubernetes.default.svc, namespace: web}
`,
		"vendor/lib/k.libsonnet": `{ deployment(name, image, replicas):: { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: name }, spec: { replicas: replicas, template: { spec: { containers: [{ name: name, image: image }] } } } } }`,
		"apps/web/main.jsonnet": `
			local k = import 'k.libsonnet';
			function(tag, replicas) [
			  k.deployment(std.extVar('app'), 'registry.example/web:' + tag, replicas),
			  [ { apiVersion: "v1", kind: "List", items: [ k.deployment('side', 'registry.example/side:' + tag, 1) ] } ],
			  null,
			]
`,
	})
	inv := scan(t, dir, Options{RepoURL: "https://github.com/example/gitops"})
	app := appByName(t, inv, "web")
	// Argo CD has no Jsonnet kind: a directory app evaluates its .jsonnet files.
	if app.Error != "" || app.Kind != KindPlain {
		t.Fatalf("kind %s, error %s", app.Kind, app.Error)
	}
	var got []string
	for _, im := range app.Images {
		got = append(got, im.Resource.Name+"="+im.Image+"@"+im.File)
	}
	want := "web=registry.example/web:1.4.2@apps/web/main.jsonnet side=registry.example/side:1.4.2@apps/web/main.jsonnet"
	if strings.Join(got, " ") != want {
		t.Errorf("images %q, want %q", got, want)
	}
}

// TestJsonnetImportEscapeRefused: an import that leaves the repository
// fails the app; the same import inside the repository renders.
func TestJsonnetImportEscapeRefused(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"evil/main.jsonnet": `import '../../../../../../../../etc/hostname'`,
		"good/main.jsonnet": `import '../lib/d.libsonnet'`,
		"lib/d.libsonnet":   `{ apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "registry.example/ok:1" }] } }`,
	})
	inv := scan(t, dir, Options{})
	if e := appByName(t, inv, "evil").Error; !strings.Contains(e, "outside the repository") {
		t.Errorf("evil: error %q, want outside the repository", e)
	}
	if a := appByName(t, inv, "good"); a.Error != "" || len(a.Images) != 1 {
		t.Errorf("good: %+v", a)
	}
}

// TestJsonnetSandboxStopsLoop: a Jsonnet program that never ends is stopped
// at the sandbox's deadline, only that app fails, with the limit named.
func TestJsonnetSandboxStopsLoop(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"fine/d.yaml":       goodDeployment,
		"spin/main.jsonnet": `local f(n) = if n < 0 then [] else f(n + 1) tailstrict; f(0)`,
	})
	repo, err := Open(dir, Options{HelmSandbox: testSandbox(2*time.Second, 256<<20)})
	if err != nil {
		t.Fatal(err)
	}
	apps, err := repo.Discover(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, rd := range repo.RenderAll(t.Context(), apps) {
		switch rd.App.Name {
		case "spin":
			if !errors.Is(rd.Err, ErrHelmLimit) || !strings.Contains(rd.Err.Error(), "Jsonnet still rendering after 2s (a Jsonnet program that loops?)") {
				t.Errorf("spin: %v", rd.Err)
			}
		case "fine":
			if rd.Err != nil || len(rd.Resources) != 1 {
				t.Errorf("fine: %v", rd.Err)
			}
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestJsonnetSandboxStopsMemoryBomb: a Jsonnet program that doubles a
// string without end is stopped at the sandbox's memory limit (the Helm
// limit, issue 18 item 3), only that app fails, with the limit named.
func TestJsonnetSandboxStopsMemoryBomb(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"fine/d.yaml":       goodDeployment,
		"bomb/main.jsonnet": `std.length(std.foldl(function(acc, i) acc + acc, std.range(1, 40), "x"))`,
	})
	inv := scan(t, dir, Options{HelmSandbox: testSandbox(time.Minute, 256<<20)})
	if e := appByName(t, inv, "bomb").Error; !strings.Contains(e, "more than 256 MiB of memory") {
		t.Errorf("bomb: error %q, want the memory limit named", e)
	}
	if len(appByName(t, inv, "fine").Images) != 1 {
		t.Error("the other app should still render")
	}
}

// TestCorpusJsonnetMatchesJsonnet: the corpus apps jsonnet-guestbook and
// jsonnet-guestbook-tla render with the images the jsonnet command gives
// (go-jsonnet's VM, evaluated here without the gate: `jsonnet FILE`, and
// `jsonnet --tla-str image=… FILE` for an Application that sets the TLA).
func TestCorpusJsonnetMatchesJsonnet(t *testing.T) {
	inv := scan(t, corpusDir, Options{})
	for app, file := range map[string]string{
		"example.jsonnet-guestbook":     "jsonnet-guestbook/guestbook-ui.jsonnet",
		"example.jsonnet-guestbook-tla": "jsonnet-guestbook-tla/guestbook-ui.jsonnet",
	} {
		want := jsonnetImages(t, filepath.Join(corpusDir, file), nil)
		if got := imagesOf(appByName(t, inv, app)); len(want) == 0 || strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: images %v, jsonnet gives %v", app, got, want)
		}
	}

	// With the TLA set by the Application.
	src, err := os.ReadFile(filepath.Join(corpusDir, "jsonnet-guestbook-tla", "guestbook-ui.jsonnet"))
	if err != nil {
		t.Fatal(err)
	}
	dir := writeTree(t, map[string]string{
		"jsonnet-guestbook-tla/guestbook-ui.jsonnet": string(src),
		"argocd/app.yaml": `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: tla, namespace: argocd}
spec:
  destination: {namespace: tla}
  source:
    repoURL: ` + acmeURL + `
    path: jsonnet-guestbook-tla
    directory:
      jsonnet:
        tlas: [{name: image, value: registry.example/guestbook:v9}]
`,
	})
	want := jsonnetImages(t, filepath.Join(dir, "jsonnet-guestbook-tla", "guestbook-ui.jsonnet"), map[string]string{"image": "registry.example/guestbook:v9"})
	if got := imagesOf(appByName(t, scan(t, dir, Options{RepoURL: acmeURL}), "tla")); strings.Join(got, " ") != strings.Join(want, " ") || strings.Join(want, " ") != "registry.example/guestbook:v9" {
		t.Errorf("with the TLA: images %v, jsonnet gives %v", got, want)
	}
}

// jsonnetImages evaluates a Jsonnet file as the jsonnet command does and
// returns the images of the containers of its objects.
func jsonnetImages(t *testing.T, file string, tlaStr map[string]string) []string {
	t.Helper()
	vm := gojsonnet.MakeVM()
	for k, v := range tlaStr {
		vm.TLAVar(k, v)
	}
	out, err := vm.EvaluateFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var objs []struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct{ Image string } `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(out), &objs); err != nil {
		t.Fatal(err)
	}
	var images []string
	for _, o := range objs {
		for _, c := range o.Spec.Template.Spec.Containers {
			images = append(images, c.Image)
		}
	}
	return images
}
