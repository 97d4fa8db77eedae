package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	kubeyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
)

// What Argo CD would apply, the expected column of TestArgoCDSyncGate.
const (
	verified   = "only verified images"
	unverified = "an unverified image"
	unknown    = "a commit the hook cannot know"
	unseen     = "something the gate cannot render (refused)"
)

// kubeAPI serves objects by path, the way the Kubernetes API does, to a
// client with the right bearer token.
func kubeAPI(t *testing.T, token string, objects func(path string) (string, bool)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		body, ok := objects(r.URL.Path)
		if r.Method != http.MethodGet || !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"kind":"Status","status":"Failure","reason":"NotFound"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func deployment(name, image string) string {
	return fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: %s}\nspec:\n  template:\n    spec:\n      containers:\n        - name: %s\n          image: %s\n", name, name, image)
}

// TestArgoCDSyncGate drives the Argo CD paths of the gate over one table:
// the PreSync hook evaluating locally, the hook asking the gate service,
// and, where the app could use the plugin, `render --pin` as the Config
// Management Plugin. The expected column is what Argo CD would apply, read
// from its source (argoproj/argo-cd at 37ee009; cited per row). Whenever
// Argo CD would apply anything but verified images, every path must refuse;
// when it applies only verified images, every path must pass. The same
// rows run in both hook modes: they must agree (issue 12.5).
func TestArgoCDSyncGate(t *testing.T) {
	w, _, pol, signed, unsigned := checkWorld(t)
	signedName := signed[:strings.LastIndex(signed, ":")]
	unsignedName := unsigned[:strings.LastIndex(unsigned, ":")]
	files := map[string]string{
		"apps/good/deploy.yaml":             deployment("good", signed),
		"apps/bad/deploy.yaml":              deployment("bad", unsigned),
		"apps/flip/deploy.yaml":             deployment("flip", signed),
		"apps/kust/kustomization.yaml":      "resources: [deploy.yaml]\n",
		"apps/kust/deploy.yaml":             deployment("kust", signed),
		"apps/chart/Chart.yaml":             "apiVersion: v2\nname: chart\nversion: 0.1.0\n",
		"apps/chart/values.yaml":            "image: " + signed + "\n",
		"apps/chart/templates/d.yaml":       "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: {{ .Release.Name }}}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: {{ .Values.image }}}]\n",
		"apps/chart2/Chart.yaml":            "apiVersion: v2\nname: chart2\nversion: 0.1.0\n",
		"apps/chart2/values.yaml":           "image: " + unsigned + "\n",
		"apps/chart2/templates/d.yaml":      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: {{ .Release.Name }}}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: {{ .Values.image }}}]\n",
		"values/signed.yaml":                "image: " + signed + "\n",
		"apps/mixed/good.yaml":              deployment("good", signed),
		"apps/mixed/bad.yaml":               deployment("bad", unsigned),
		"apps/override/deploy.yaml":         deployment("override", signed),
		"apps/override/.argocd-source.yaml": fmt.Sprintf("directory:\n  include: '{deploy.yaml}'\nkustomize:\n  images: [%s=%s]\n", signedName, unsigned),
		"apps/list/deploy.yaml": deployment("list", signed) + "---\n" + fmt.Sprintf(
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\nitems:\n  - {apiVersion: apps/v1, kind: Deployment, metadata: {name: hidden}, spec: {template: {spec: {containers: [{name: hidden, image: %s}]}}}}\n", unsigned),
		"apps/dup/deploy.yaml":       fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: dup}\nspec:\n  template:\n    spec:\n      containers:\n        - name: dup\n          image: %s\n          image: %s\n", signed, unsigned),
		"apps/merge-ok/deploy.yaml":  fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: merge}\nspec:\n  template:\n    spec:\n      containers:\n        - <<: {image: %s}\n          name: merge\n          image: %s\n", unsigned, signed),
		"apps/merge-bad/deploy.yaml": fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: merge}\nspec:\n  template:\n    spec:\n      containers:\n        - <<: {image: %s}\n          name: merge\n", unsigned),
	}
	gs := gatetest.NewGitServer(t)
	repo := gs.NewRepo("acme/gitops")
	good := repo.Commit("fixtures", files)
	bad := repo.Commit("flip to unsigned", map[string]string{"apps/flip/deploy.yaml": deployment("flip", unsigned)})
	repo.SetRef("refs/heads/main", bad)
	checkout := t.TempDir()
	for p, c := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(checkout, p)), 0o755)
		os.WriteFile(filepath.Join(checkout, p), []byte(c), 0o644)
	}

	src := func(path, extra string) string {
		return fmt.Sprintf(`{"repoURL":"REPO","targetRevision":"main","path":%q%s}`, path, extra)
	}
	// syncedOne is a single-source sync as Argo CD records it once the
	// sync has started (controller/sync.go, SyncAppState: the resolved
	// commit is saved in syncResult.revision before any hook runs).
	syncedOne := func(source string) string {
		return fmt.Sprintf(`"spec":{"destination":{"namespace":"web"},"source":%s},
 "status":{"sync":{"revision":"GOOD"},"operationState":{"phase":"Running","operation":{"sync":{}},"syncResult":{"revision":"BAD","source":%s}}}`, source, source)
	}
	type row struct {
		name string
		// app is the Application's spec and status; REPO, GOOD and BAD
		// stand for the repository and its two commits (BAD is main's tip,
		// where apps/flip runs the unsigned image).
		app  string
		argo string
		// render is the app path to run `render --pin` on, when the app
		// could render with gitops-gate's plugin.
		render string
		// answer, when set, replaces the gate service with one that
		// answers this (the binding cases of issue 12.6).
		answer func(q map[string]any) string
		msg    string
		why    string
	}
	rows := []row{
		{name: "one source, at the synced commit", app: syncedOne(src("apps/good", "")), argo: verified, render: "apps/good"},
		{name: "kubectl sync without a revision: status.sync.revision is an older commit", argo: unverified,
			app: fmt.Sprintf(`"spec":{"source":%s},"status":{"sync":{"revision":"GOOD"},"operationState":{"phase":"Running","operation":{"sync":{}},"syncResult":{"revision":"BAD"}}}`, src("apps/flip", "")),
			why: "docs/user-guide/sync-kubectl.md starts a sync with operation.sync {}; controller/sync.go newSyncOperationResult copies the empty revision and SyncAppState stores the resolved commit in syncResult.revision"},
		{name: "operation asks for a branch, not yet resolved", argo: unknown, msg: "argocd app sync",
			app: fmt.Sprintf(`"spec":{"source":%s},"status":{"sync":{"revision":"GOOD"},"operationState":{"phase":"Running","operation":{"sync":{"revision":"main"}}}}`, src("apps/flip", ""))},
		{name: "operation asks for a commit, not yet resolved", argo: verified,
			app: fmt.Sprintf(`"spec":{"source":%s},"status":{"sync":{"revision":"BAD"},"operationState":{"phase":"Running","operation":{"sync":{"revision":"GOOD"}}}}`, src("apps/flip", ""))},
		{name: "no operation running", argo: unknown,
			app: fmt.Sprintf(`"spec":{"source":%s},"status":{"sync":{"revision":"GOOD"}}`, src("apps/good", ""))},
		{name: "sources: set: every source renders, source is ignored", argo: unverified, msg: "FAIL " + unsigned,
			app: fmt.Sprintf(`"spec":{"source":%s,"sources":[%s,%s]},"status":{"operationState":{"operation":{"sync":{}},"syncResult":{"revisions":["BAD","BAD"],"sources":[%s,%s]}}}`,
				src("apps/good", ""), src("apps/good", ""), src("apps/bad", ""), src("apps/good", ""), src("apps/bad", "")),
			why: "types.go ApplicationSpec.GetSources/HasMultipleSources; controller/sync.go renders syncResult.sources"},
		{name: "sources: all verified", argo: verified,
			app: fmt.Sprintf(`"spec":{"sources":[%s,%s]},"status":{"operationState":{"operation":{"sync":{"revisions":["main","main"]}},"syncResult":{"revisions":["BAD","BAD"],"sources":[%s,%s]}}}`,
				src("apps/good", ""), src("apps/kust", ""), src("apps/good", ""), src("apps/kust", ""))},
		{name: "a chart-repository source is refused, never skipped", argo: unseen, msg: "chart web",
			app: fmt.Sprintf(`"spec":{"sources":[{"repoURL":"https://charts.example.com","chart":"web","targetRevision":"1.0.0"},%s]},"status":{"operationState":{"operation":{"sync":{}},"syncResult":{"revisions":["1.0.0","BAD"],"sources":[{"repoURL":"https://charts.example.com","chart":"web","targetRevision":"1.0.0"},%s]}}}`,
				src("apps/good", ""), src("apps/good", ""))},
		{name: "values from a ref source at the same commit", argo: verified,
			app: fmt.Sprintf(`"spec":{"sources":[{"repoURL":"REPO","targetRevision":"main","ref":"values"},%s]},"status":{"operationState":{"operation":{"sync":{}},"syncResult":{"revisions":["BAD","BAD"]}}}`,
				src("apps/chart2", `,"helm":{"valueFiles":["$values/values/signed.yaml"]}`)),
			why: "operation.sync has no sources: the spec's are synced (controller/sync.go newSyncOperationResult)"},
		{name: "values from a ref source in another repository are refused, never skipped", argo: unseen, msg: "ref source $values is repository https://github.com/acme/values",
			app: fmt.Sprintf(`"spec":{"sources":[{"repoURL":"https://github.com/acme/values","targetRevision":"main","ref":"values"},%s]},"status":{"operationState":{"operation":{"sync":{}},"syncResult":{"revisions":["BAD","BAD"]}}}`,
				src("apps/chart2", `,"helm":{"valueFiles":["$values/values/signed.yaml"]}`)),
			why: "runManifestGenAsync checks the ref's repository out at its own revision: the synced commit of this repository is not it"},
		{name: "kustomize.images of the Application", argo: unverified,
			app: syncedOne(src("apps/kust", fmt.Sprintf(`,"kustomize":{"images":[%q]}`, signedName+"="+unsigned))),
			why: "the service used to render without the Application's options and passed"},
		{name: "helm valuesObject of the Application", argo: unverified, app: syncedOne(src("apps/chart", fmt.Sprintf(`,"helm":{"valuesObject":{"image":%q}}`, unsigned)))},
		{name: "helm parameters of the Application", argo: unverified, app: syncedOne(src("apps/chart", fmt.Sprintf(`,"helm":{"parameters":[{"name":"image","value":%q}]}`, unsigned)))},
		{name: "directory.include of the Application", argo: verified, app: syncedOne(src("apps/mixed", `,"directory":{"include":"good.yaml"}`))},
		{name: "an option that can change images and is not implemented", argo: unseen, app: syncedOne(src("apps/chart", `,"helm":{"fileParameters":[{"name":"image","path":"values.yaml"}]}`))},
		{name: ".argocd-source.yaml in the app directory", argo: unverified, msg: ".argocd-source.yaml", render: "apps/override",
			app: syncedOne(src("apps/override", "")),
			why: "reposerver/repository/repository.go mergeSourceParameters merges it into the source before GetAppSourceType picks the tool"},
		{name: "a ConfigMap carrying items: [Deployment]", argo: unverified, render: "apps/list", app: syncedOne(src("apps/list", "")),
			why: "repository.go GenerateManifests expands every object for which apimachinery's IsList is true: any kind with an items list"},
		{name: "duplicate image keys: the last one wins", argo: unverified, render: "apps/dup", app: syncedOne(src("apps/dup", "")),
			why: "gitops-engine kube.SplitYAML decodes with sigs.k8s.io/yaml, which keeps the last of duplicate keys"},
		{name: "a merge key overridden by an explicit image", argo: verified, render: "apps/merge-ok", app: syncedOne(src("apps/merge-ok", "")),
			why: "sigs.k8s.io/yaml resolves << merge keys; an explicit key wins"},
		{name: "a merge key supplies the image", argo: unverified, render: "apps/merge-bad", app: syncedOne(src("apps/merge-bad", ""))},
		{name: "service: a pass with no apps", argo: unverified, msg: "judged no app", app: syncedOne(src("apps/bad", "")),
			answer: func(q map[string]any) string {
				return answer(q, `{"apiVersion":"gitops-gate/v1","result":"pass","apps":[]}`, nil)
			}},
		{name: "service: a pass for another commit", argo: unverified, msg: "is of commit", app: syncedOne(src("apps/bad", "")),
			answer: func(q map[string]any) string {
				return answer(q, `{"result":"pass","apps":[{"name":"apps/bad","path":"apps/bad","images":[]}]}`, map[string]any{"sha": "GOOD"})
			}},
		{name: "service: a pass for another app", argo: unverified, msg: "no verdict for app apps/bad", app: syncedOne(src("apps/bad", "")),
			answer: func(q map[string]any) string {
				return answer(q, `{"result":"pass","apps":[{"name":"apps/good","path":"apps/good","images":[]}]}`, map[string]any{"apps": []string{"apps/bad"}})
			}},
		{name: "service: a pass rendered without the Application's settings", argo: unverified, msg: "did not render with the Application",
			app: syncedOne(src("apps/kust", fmt.Sprintf(`,"kustomize":{"images":[%q]}`, signedName+"="+unsigned))),
			answer: func(q map[string]any) string {
				return answer(q, `{"result":"pass","apps":[{"name":"apps/kust","path":"apps/kust","images":[]}]}`, map[string]any{"application": nil})
			}},
	}

	replacer := strings.NewReplacer("REPO", repo.CloneURL(), "GOOD", good, "BAD", bad)
	var current string
	kube := kubeAPI(t, "sa-token", func(p string) (string, bool) {
		return `{"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{"name":"web","namespace":"argocd"},` + current + `}`,
			p == "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/web"
	})
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("sa-token\n"), 0o600)
	hook := []string{"presync", "--app", "web", "--kube-api", kube.URL, "--kube-token-file", tokenFile}
	service := startService(t, fmt.Sprintf("repos:\n  - {name: acme/gitops, cloneURL: %q, policies: [%s], trustedRoot: %s}\napiTokens: [hook-token]\nregistries: {deny: []}\n", repo.CloneURL(), pol, w.TrustedRootPath))
	trust := []string{"--policy", pol, "--trusted-root", w.TrustedRootPath}

	for _, c := range rows {
		t.Run(c.name, func(t *testing.T) {
			current = replacer.Replace(c.app)
			judge := func(mode string, code int, stdout, stderr string) {
				t.Helper()
				if c.argo == verified {
					if code != exitOK {
						t.Errorf("%s: Argo CD applies %s; the gate must pass: exit %d\n%s", mode, c.argo, code, stderr)
					}
					return
				}
				if code == exitOK {
					t.Errorf("%s: Argo CD applies %s; the gate passed\n%s\n%s", mode, c.argo, stdout, stderr)
				}
				if c.msg != "" && !strings.Contains(stderr, c.msg) {
					t.Errorf("%s: the refusal does not say %q:\n%s", mode, c.msg, stderr)
				}
			}
			if c.answer != nil {
				fake := fakeService(t, c.answer, replacer)
				out, stderr, code := run(t, append(append([]string{}, hook...), "--server", fake, "--token", "t", "--insecure-http", "--wait", "30s")...)
				judge("hook, answering service", code, out, stderr)
				return
			}
			out, stderr, code := run(t, append(append([]string{}, hook...), trust...)...)
			judge("hook, local", code, out, stderr)
			out, stderr, code = run(t, append(append([]string{}, hook...), "--server", service, "--token", "hook-token", "--insecure-http", "--wait", "60s")...)
			judge("hook, service", code, out, stderr)
			if c.render != "" {
				t.Setenv("ARGOCD_APP_NAME", "web")
				t.Setenv("ARGOCD_APP_SOURCE_PATH", c.render)
				out, stderr, code := run(t, append([]string{"render", "--pin", filepath.Join(checkout, c.render)}, trust...)...)
				judge("render --pin", code, out, stderr)
				if code != exitOK && out != "" {
					t.Errorf("render --pin refused but printed:\n%s", out)
				}
				if code == exitOK {
					assertArgoCDReadsOnlyVerified(t, out, signedName, unsignedName)
				}
			}
		})
	}
}

// answer builds an evaluation answering question q with report, the
// fields of over replacing the question's.
func answer(q map[string]any, report string, over map[string]any) string {
	source := map[string]any{"repo": q["repo"], "sha": q["revision"], "apps": q["apps"], "application": q["application"], "trigger": "argocd"}
	for k, v := range over {
		source[k] = v
	}
	b, _ := json.Marshal(map[string]any{"id": "e1", "state": "done", "result": "pass", "source": source, "report": json.RawMessage(report)})
	return string(b)
}

// fakeService is a gate service that answers every question with answer.
func fakeService(t *testing.T, answer func(map[string]any) string, r *strings.Replacer) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var q map[string]any
		json.NewDecoder(req.Body).Decode(&q)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, r.Replace(answer(q)))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// assertArgoCDReadsOnlyVerified parses the plugin's output as Argo CD does,
// independently of the gate's code: the YAML-or-JSON splitter of
// apimachinery (gitops-engine kube.SplitYAMLToString), sigs.k8s.io/yaml into
// objects (kube.SplitYAML), and every object with an items list expanded
// (repository.go GenerateManifests, IsList). Every container image it finds,
// at any depth, must be the signed image pinned to a digest.
func assertArgoCDReadsOnlyVerified(t *testing.T, out, signedName, unsignedName string) {
	t.Helper()
	d := kubeyaml.NewYAMLOrJSONDecoder(strings.NewReader(out), 4096)
	var objs []map[string]any
	for {
		var ext runtime.RawExtension
		if err := d.Decode(&ext); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("Argo CD cannot split the output: %v\n%s", err, out)
		}
		raw := bytes.TrimSpace(ext.Raw)
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		var o map[string]any
		if err := sigsyaml.Unmarshal(raw, &o); err != nil {
			t.Fatalf("Argo CD cannot decode %s: %v", raw, err)
		}
		if items, ok := o["items"].([]any); ok {
			for _, it := range items {
				objs = append(objs, it.(map[string]any))
			}
			continue
		}
		objs = append(objs, o)
	}
	if len(objs) == 0 {
		t.Fatalf("no objects in the output:\n%s", out)
	}
	var images []string
	var walk func(any, bool)
	walk = func(v any, inContainers bool) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if inContainers && k == "image" {
					s, _ := e.(string)
					images = append(images, s)
				}
				walk(e, k == "containers" || k == "initContainers" || k == "ephemeralContainers")
			}
		case []any:
			for _, e := range v {
				walk(e, inContainers)
			}
		}
	}
	for _, o := range objs {
		walk(o, false)
	}
	if len(images) == 0 {
		t.Fatalf("no images in the output:\n%s", out)
	}
	for _, im := range images {
		if !strings.HasPrefix(im, signedName) || !strings.Contains(im, "@sha256:") || strings.Contains(im, unsignedName) {
			t.Errorf("Argo CD would apply %q, which is not the verified image pinned to its digest:\n%s", im, out)
		}
	}
	if strings.Contains(out, "<<") {
		t.Errorf("the output still holds a merge key:\n%s", out)
	}
}

// render --pin approves objects, not image strings: an unsigned image that
// passed where no rule applies (an excluded namespace) is not accepted in
// an object Argo CD reads in a namespace the rule covers.
//
// PluginOutput re-extracts the images of the objects Argo CD decodes. It
// used to require each to be in a set of approved image strings: when an
// image passed in one place only because no rule applies there (namespace
// sandbox is excluded: the verdict is unmatched, which passes), the same
// string was "approved" everywhere. An object the gate's decoder does not
// see, or sees in another namespace, then carries it into prod: a
// ConfigMap with items: [Deployment in prod] (Argo CD expands any object
// with an items list), or a metadata block with namespace: twice (the gate
// reads the first, Argo CD the last). Kyverno denies those Pods in prod;
// the plugin printed them with exit 0. (The gate's decoder now also sees
// both, as Argo CD does; PluginOutput's own check is proved in gate/argocd
// TestPluginOutputApprovesObjectsNotStrings.) Each image in the output must have
// been judged for the object (kind, namespace, name) and field Argo CD will
// apply it in; an object without a namespace is judged in the destination
// namespace (ARGOCD_APP_NAMESPACE), where Argo CD applies it.
func TestRenderPinApprovesObjectsNotImageStrings(t *testing.T) {
	w, _, _, _, unsigned := checkWorld(t)
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	excl := strings.Replace(checkPolicy, "      verifyImages:", "      exclude:\n        any:\n          - resources:\n              namespaces: [sandbox]\n      verifyImages:", 1)
	os.WriteFile(pol, []byte(strings.ReplaceAll(excl, "REGISTRY", w.Registry.Host)), 0o644)
	sandbox := fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: play, namespace: sandbox}\nspec:\n  template:\n    spec:\n      containers:\n        - {name: play, image: %s}\n", unsigned)
	prod := fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: prod}\nspec:\n  template:\n    spec:\n      containers:\n        - {name: web, image: %s}\n", unsigned)
	for _, c := range []struct {
		name, files string
		argo        bool // Argo CD applies an unsigned image in prod
		msg         string
		destination string
	}{
		{"legitimate: the unsigned image only in the excluded namespace", sandbox, false, "", ""},
		{"legitimate: no namespace, destination sandbox", strings.Replace(sandbox, ", namespace: sandbox", "", 1), false, "", "sandbox"},
		{"no namespace, destination prod", strings.Replace(sandbox, ", namespace: sandbox", "", 1), true, "FAIL", "prod"},
		{"the same image in prod, seen by the gate", sandbox + "---\n" + prod, true, "FAIL", ""},
		{"a ConfigMap carrying items: [Deployment in prod]", sandbox + "---\n" + fmt.Sprintf(
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: sandbox}\nitems:\n  - {apiVersion: apps/v1, kind: Deployment, metadata: {name: hidden, namespace: prod}, spec: {template: {spec: {containers: [{name: hidden, image: %s}]}}}}\n", unsigned), true, "", ""},
		{"namespace: twice, the gate reads sandbox, Argo CD prod", fmt.Sprintf(
			"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: sandbox\n  namespace: prod\nspec:\n  template:\n    spec:\n      containers:\n        - {name: web, image: %s}\n", unsigned), true, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "app")
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, "all.yaml"), []byte(c.files), 0o644)
			t.Setenv("ARGOCD_APP_NAME", "web")
			t.Setenv("ARGOCD_APP_SOURCE_PATH", "app")
			t.Setenv("ARGOCD_APP_NAMESPACE", c.destination)
			out, stderr, code := run(t, "render", "--pin", dir, "--policy", pol, "--trusted-root", w.TrustedRootPath)
			if !c.argo {
				if code != exitOK {
					t.Errorf("legitimate variant refused: exit %d\n%s", code, stderr)
				}
				return
			}
			if code == exitOK {
				t.Errorf("Argo CD would run %s in namespace prod, where the rule applies and it is unsigned; render --pin passed:\n%s\n%s", unsigned, out, stderr)
			}
			if c.msg != "" && !strings.Contains(stderr, c.msg) {
				t.Errorf("the refusal does not say %q:\n%s", c.msg, stderr)
			}
		})
	}
}
