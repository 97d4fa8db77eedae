package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
)

// attackRepo is a repository with one plain app holding doc.
func attackRepo(t *testing.T, doc string) string {
	t.Helper()
	repo := t.TempDir()
	os.MkdirAll(filepath.Join(repo, "app"), 0o755)
	if err := os.WriteFile(filepath.Join(repo, "app", "deploy.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return repo
}

// TestCheckSeesWhatTheApplierDecodes: pull requests that used to pass while
// kubectl and Argo CD would run an unsigned image. The gate read the first of
// duplicate keys (the applier the last), ignored merge keys, and expanded
// only kinds ending in List. Each is now an error or a failure; the
// legitimate variant still passes.
func TestCheckSeesWhatTheApplierDecodes(t *testing.T) {
	w, _, pol, signed, unsigned := checkWorld(t)
	head := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n    spec:\n      containers:\n      - name: api\n"
	cases := []struct {
		name, doc string
		code      int
		want      []string
	}{
		{"duplicate image key", head + "        image: SIGNED\n        image: UNSIGNED\n", exitOperational,
			[]string{`duplicate key "image" at app/deploy.yaml:9 and app/deploy.yaml:10`}},
		{"duplicate containers key", "apiVersion: v1\nkind: Pod\nmetadata: {name: api}\nspec:\n  containers: [{name: api, image: SIGNED}]\n  containers: [{name: api, image: UNSIGNED}]\n", exitOperational,
			[]string{`duplicate key "containers" at app/deploy.yaml:5 and app/deploy.yaml:6`}},
		{"duplicate kind key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: api}\nspec: {containers: [{name: api, image: UNSIGNED}]}\nkind: Pod\n", exitOperational,
			[]string{`duplicate key "kind" at app/deploy.yaml:2 and app/deploy.yaml:5`}},
		{"json duplicate", `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api"}, "spec": {"containers": [{"name": "api", "image": "SIGNED", "image": "UNSIGNED"}]}}`, exitOperational,
			[]string{`duplicate key "image"`}},
		{"merge key overrides the image", head + "        image: SIGNED\n        <<: {image: UNSIGNED}\n", exitDenied,
			[]string{"FAIL", "UNSIGNED", "app/deploy.yaml:10"}},
		{"merge key carries the spec", "x-spec: &s\n  containers: [{name: api, image: UNSIGNED}]\napiVersion: v1\nkind: Pod\nmetadata: {name: api}\nspec:\n  <<: *s\n", exitDenied,
			[]string{"FAIL", "UNSIGNED", "app/deploy.yaml:2"}},
		{"items of any kind are applied", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: decoy}\nitems:\n- " + strings.ReplaceAll(head, "\n", "\n  ") + "        image: UNSIGNED\n", exitDenied,
			[]string{"FAIL", "UNSIGNED"}},
		{"legitimate anchors and merge", "x: &c {name: api, image: SIGNED}\napiVersion: v1\nkind: Pod\nmetadata: {name: api}\nspec:\n  containers:\n  - <<: *c\n    name: api\n", exitOK,
			[]string{"PASS", "SIGNED", "app/deploy.yaml:1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := strings.ReplaceAll(strings.ReplaceAll(c.doc, "UNSIGNED", unsigned), "SIGNED", signed)
			out, stderr, code := run(t, "check", attackRepo(t, doc), "--policy", pol, "--trusted-root", w.TrustedRootPath)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, c.code, out, stderr)
			}
			for _, want := range c.want {
				want = strings.ReplaceAll(strings.ReplaceAll(want, "UNSIGNED", unsigned), "SIGNED", signed)
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestCheckUnknownImageWarningAndStrict: an operator's custom resource with
// an image field the gate has no extractor for is a warning in every output,
// and a failure with --strict. Well-known pod-running resources are judged.
func TestCheckUnknownImageWarningAndStrict(t *testing.T) {
	w, _, pol, signed, unsigned := checkWorld(t)
	doc := "apiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nmetadata: {name: prom}\nspec:\n  image: " + unsigned + "\n---\n" +
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata:\n  image: " + unsigned + "\n---\n" +
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n    spec:\n      containers: [{name: api, image: " + signed + "}]\n"
	repo := attackRepo(t, doc)
	out, stderr, code := run(t, "check", repo, "--policy", pol, "--trusted-root", w.TrustedRootPath)
	if code != exitOK {
		t.Fatalf("exit %d, want 0 (a warning does not fail)\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"WARNING app " + unsigned + " app/deploy.yaml:5", "Prometheus prom has an image at spec.image", "1 warnings"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ConfigMap cfg") {
		t.Errorf("ConfigMap data warned about:\n%s", out)
	}
	out, _, _ = run(t, "check", repo, "--policy", pol, "--trusted-root", w.TrustedRootPath, "-o", "json")
	var rep gate.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Apps) != 1 || len(rep.Apps[0].Warnings) != 1 || rep.Apps[0].Warnings[0].FieldPath != "spec.image" || rep.Apps[0].Warnings[0].Line != 5 || rep.Summary.Warnings != 1 {
		t.Errorf("json warnings: %+v", rep.Apps)
	}
	out, _, _ = run(t, "check", repo, "--policy", pol, "--trusted-root", w.TrustedRootPath, "-o", "sarif")
	if !strings.Contains(out, `"ruleId": "GG005"`) || !strings.Contains(out, `"level": "warning"`) {
		t.Errorf("sarif lacks the warning:\n%s", out)
	}
	if out, _, _ = run(t, "images", repo); !strings.Contains(out, "WARNING app "+unsigned+" app/deploy.yaml:5") {
		t.Errorf("images table lacks the warning:\n%s", out)
	}
	out, stderr, code = run(t, "check", repo, "--policy", pol, "--trusted-root", w.TrustedRootPath, "--strict")
	if code != exitDenied || !strings.Contains(out, "strictUnknownImages (--strict) fails it") {
		t.Fatalf("--strict: exit %d, want %d\n%s\n%s", code, exitDenied, out, stderr)
	}
}

// TestCheckWellKnownCustomResources: images of Argo Workflows, Tekton, KEDA
// and Knative resources are judged like a Deployment's; an unsigned one
// used to pass unseen.
func TestCheckWellKnownCustomResources(t *testing.T) {
	w, _, pol, signed, unsigned := checkWorld(t)
	// Which rules apply to these kinds is not what this test is about: the
	// policy's rule matches every kind.
	data, _ := os.ReadFile(pol)
	os.WriteFile(pol, []byte(strings.ReplaceAll(string(data), "kinds: [Pod]", `kinds: ["*"]`)), 0o644)
	docs := map[string]string{
		"Workflow":          "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: x}\nspec:\n  templates:\n  - name: a\n    container: {image: IMG}\n",
		"CronWorkflow":      "apiVersion: argoproj.io/v1alpha1\nkind: CronWorkflow\nmetadata: {name: x}\nspec:\n  workflowSpec:\n    templates:\n    - name: a\n      script: {image: IMG, source: echo}\n",
		"WorkflowTemplate":  "apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {name: x}\nspec:\n  templates:\n  - name: a\n    containerSet: {containers: [{name: c, image: IMG}]}\n",
		"ClusterWfTemplate": "apiVersion: argoproj.io/v1alpha1\nkind: ClusterWorkflowTemplate\nmetadata: {name: x}\nspec:\n  templates:\n  - name: a\n    sidecars: [{name: c, image: IMG}]\n",
		"Task":              "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: x}\nspec:\n  steps: [{name: s, image: IMG}]\n",
		"ClusterTask":       "apiVersion: tekton.dev/v1beta1\nkind: ClusterTask\nmetadata: {name: x}\nspec:\n  stepTemplate: {image: IMG}\n  steps: [{name: s}]\n",
		"Pipeline":          "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata: {name: x}\nspec:\n  tasks:\n  - name: t\n    taskSpec: {sidecars: [{name: s, image: IMG}]}\n",
		"ScaledJob":         "apiVersion: keda.sh/v1alpha1\nkind: ScaledJob\nmetadata: {name: x}\nspec:\n  jobTargetRef: {template: {spec: {containers: [{name: c, image: IMG}]}}}\n",
		"KnativeService":    "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: x}\nspec:\n  template: {spec: {containers: [{image: IMG}]}}\n",
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			out, stderr, code := run(t, "check", attackRepo(t, strings.ReplaceAll(doc, "IMG", unsigned)), "--policy", pol, "--trusted-root", w.TrustedRootPath)
			if code != exitDenied || !strings.Contains(out, "FAIL") {
				t.Errorf("unsigned: exit %d, want %d\n%s\n%s", code, exitDenied, out, stderr)
			}
			out, stderr, code = run(t, "check", attackRepo(t, strings.ReplaceAll(doc, "IMG", signed)), "--policy", pol, "--trusted-root", w.TrustedRootPath)
			if code != exitOK || strings.Contains(out, "WARNING") {
				t.Errorf("signed: exit %d, want 0\n%s\n%s", code, out, stderr)
			}
		})
	}
}
