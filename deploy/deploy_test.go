// Package deploy holds the Kubernetes manifests; its test renders them with
// the project's own Kustomize code and checks what a cluster would get.
package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/service/config"
	"github.com/gitops-gate/gitops-gate/manifests"
)

type object map[string]any

func (o object) get(path ...string) any {
	var cur any = map[string]any(o)
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func (o object) str(path ...string) string { s, _ := o.get(path...).(string); return s }

func render(t *testing.T, root, path string) map[string]object {
	t.Helper()
	repo, err := manifests.Open(root, manifests.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rd := repo.Render(context.Background(), manifests.App{Name: path, Path: path, Kind: manifests.KindKustomize})
	if rd.Err != nil {
		t.Fatalf("rendering %s: %v", path, rd.Err)
	}
	out := map[string]object{}
	for _, r := range rd.Resources {
		var m map[string]any
		if err := r.Node.Decode(&m); err != nil {
			t.Fatal(err)
		}
		out[r.Kind+"/"+r.Name] = m
	}
	return out
}

func container(t *testing.T, o object, name string) object {
	t.Helper()
	for _, c := range o.get("spec", "template", "spec", "containers").([]any) {
		if m := c.(map[string]any); m["name"] == name {
			return m
		}
	}
	t.Fatalf("no container %s", name)
	return nil
}

func TestBase(t *testing.T) {
	objs := render(t, "..", "deploy/base")
	for _, k := range []string{"Namespace/gitops-gate", "ServiceAccount/gitops-gate", "ConfigMap/gitops-gate-config",
		"PersistentVolumeClaim/gitops-gate-data", "Deployment/gitops-gate", "Service/gitops-gate", "PodDisruptionBudget/gitops-gate"} {
		o, ok := objs[k]
		if !ok {
			t.Errorf("missing %s", k)
			continue
		}
		if k != "Namespace/gitops-gate" && o.str("metadata", "namespace") != "gitops-gate" {
			t.Errorf("%s in namespace %q", k, o.str("metadata", "namespace"))
		}
	}
	d := objs["Deployment/gitops-gate"]
	pod := object(d.get("spec", "template", "spec").(map[string]any))
	if pod.get("securityContext", "runAsNonRoot") != true || pod.str("securityContext", "seccompProfile", "type") != "RuntimeDefault" {
		t.Errorf("pod security context %v", pod.get("securityContext"))
	}
	c := container(t, d, "gitops-gate")
	if c.get("securityContext", "readOnlyRootFilesystem") != true || c.get("securityContext", "allowPrivilegeEscalation") != false ||
		c.get("resources", "limits", "memory") == nil || c.str("readinessProbe", "httpGet", "path") != "/readyz" || c.str("livenessProbe", "httpGet", "path") != "/healthz" {
		t.Errorf("container %v", c)
	}
	if sel := d.get("spec", "selector", "matchLabels", "app.kubernetes.io/name"); sel != "gitops-gate" {
		t.Errorf("selector %v", sel)
	}
	if objs["PodDisruptionBudget/gitops-gate"].get("spec", "selector", "matchLabels", "app.kubernetes.io/name") != "gitops-gate" {
		t.Error("the PodDisruptionBudget selects nothing")
	}
	// The Secrets are the user's (an example applied with the rest would
	// overwrite the real one at every apply): none is rendered.
	for k := range objs {
		if strings.HasPrefix(k, "Secret/") {
			t.Errorf("deploy/base ships %s", k)
		}
	}
	// The example configuration and policy load as the service loads them
	// (the App's key from the environment: the file is the user's Secret).
	t.Setenv("GITOPS_GATE_GITHUB_PRIVATE_KEY", userObjects(t)["Secret/gitops-gate/gitops-gate"]["app.pem"])
	cm := objs["ConfigMap/gitops-gate-config"]
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(cm.str("data", "config.yaml")), 0o644)
	if _, err := config.Load(cfg); err != nil {
		t.Errorf("example config: %v", err)
	}
	if pols, err := policy.Parse("verify-images.yaml", []byte(cm.str("data", "verify-images.yaml"))); err != nil || len(pols) != 1 {
		t.Errorf("example policy: %v", err)
	}
}

// TestPresyncHook: the hook Argo CD runs can find its Application, has the
// rights it needs before it starts on an app's first sync, and shares no
// object with the hook of another app (issue 14.2).
func TestPresyncHook(t *testing.T) {
	// Two apps in two namespaces include deploy/presync, as docs/argocd.md
	// tells them to.
	root := t.TempDir()
	copyTree(t, "presync", filepath.Join(root, "deploy/presync"))
	apps := map[string]map[string]object{}
	for _, ns := range []string{"shop", "blog"} {
		dir := filepath.Join(root, "apps", ns)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("namespace: "+ns+"\nresources: [../../deploy/presync]\n"), 0o644)
		apps[ns] = render(t, root, "apps/"+ns)
	}
	seen := map[string]string{}
	for ns, objs := range apps {
		for k, o := range objs {
			switch o.str("kind") {
			case "ClusterRole", "ClusterRoleBinding", "Namespace":
				t.Errorf("%s: %s is cluster-scoped: every app would write the same object", ns, k)
			}
			if got := o.str("metadata", "namespace"); got != ns {
				t.Errorf("%s: %s lands in namespace %q", ns, k, got)
			}
			id := o.str("metadata", "namespace") + "/" + k
			if other, dup := seen[id]; dup {
				t.Errorf("%s and %s both write %s", ns, other, id)
			}
			seen[id] = ns
		}
	}
	objs := apps["shop"]
	job := objs["Job/gitops-gate-presync"]
	if job == nil {
		t.Fatal("no Job")
	}
	wave := func(o object) string {
		if w := o.str("metadata", "annotations", "argocd.argoproj.io/sync-wave"); w != "" {
			return w
		}
		return "0"
	}
	if job.str("metadata", "annotations", "argocd.argoproj.io/hook") != "PreSync" || !strings.Contains(job.str("metadata", "annotations", "argocd.argoproj.io/hook-delete-policy"), "BeforeHookCreation") {
		t.Errorf("hook annotations %v", job.get("metadata", "annotations"))
	}
	// What the Job needs exists before it: PreSync hooks of an earlier wave
	// (ordinary resources are applied in the Sync phase, after PreSync).
	sa := job.str("spec", "template", "spec", "serviceAccountName")
	for _, k := range []string{"ServiceAccount/" + sa, "Role/gitops-gate-presync", "RoleBinding/gitops-gate-presync"} {
		o := objs[k]
		if o == nil {
			t.Errorf("missing %s", k)
			continue
		}
		if o.str("metadata", "annotations", "argocd.argoproj.io/hook") != "PreSync" || !(wave(o) < wave(job)) {
			t.Errorf("%s must be a PreSync hook of an earlier wave than the Job: %v", k, o.get("metadata", "annotations"))
		}
	}
	rb := objs["RoleBinding/gitops-gate-presync"]
	subj := object(rb.get("subjects").([]any)[0].(map[string]any))
	if subj.str("name") != sa || subj.str("namespace") != "shop" {
		t.Errorf("the binding's subject is %v, want %s in shop", subj, sa)
	}
	rules := objs["Role/gitops-gate-presync"].get("rules").([]any)
	r := object(rules[0].(map[string]any))
	if len(rules) != 1 || r.get("resources").([]any)[0] != "jobs" || len(r.get("verbs").([]any)) != 1 || r.get("verbs").([]any)[0] != "get" {
		t.Errorf("the hook's role must only read Jobs: %v", rules)
	}
	// The app's name comes from what Argo CD really provides: the
	// tracking annotation on the Job (not on its pod template), read
	// through the API. The pod learns its Job's name and namespace from
	// the downward API.
	c := container(t, job, "presync")
	if args := c.get("args").([]any); args[0] != "presync" {
		t.Errorf("args %v", args)
	}
	env := map[string]string{}
	for _, e := range c.get("env").([]any) {
		e := object(e.(map[string]any))
		env[e.str("name")] = e.str("valueFrom", "fieldRef", "fieldPath")
		if strings.Contains(e.str("valueFrom", "fieldRef", "fieldPath"), "app.kubernetes.io/instance") {
			t.Errorf("%s reads the pod's instance label, which Argo CD does not set", e.str("name"))
		}
	}
	if env["GITOPS_GATE_JOB"] != "metadata.labels['batch.kubernetes.io/job-name']" || env["POD_NAMESPACE"] != "metadata.namespace" {
		t.Errorf("the hook cannot find its Job: %v", env)
	}
	if _, ok := env["ARGOCD_APP_NAME"]; ok {
		t.Error("ARGOCD_APP_NAME is not provided by Argo CD to hooks")
	}

	// Installed once: the ClusterRole that only reads Applications.
	cluster := render(t, "..", "deploy/presync/cluster")
	role := cluster["ClusterRole/gitops-gate-presync"]
	rules = role.get("rules").([]any)
	r = object(rules[0].(map[string]any))
	if len(rules) != 1 || r.get("resources").([]any)[0] != "applications" || len(r.get("verbs").([]any)) != 1 || r.get("verbs").([]any)[0] != "get" {
		t.Errorf("the hook must only read Applications: %v", rules)
	}
	if len(cluster) != 1 {
		t.Errorf("deploy/presync/cluster holds more than the ClusterRole: %v", cluster)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestArgoCDPlugin(t *testing.T) {
	// The component as the docs have the user include it, built with
	// kustomize's default load restrictor.
	objs := map[string]object{}
	for _, o := range buildArgoCD(t) {
		objs[o.str("kind")+"/"+o.str("metadata", "name")] = o
	}
	cm := objs["ConfigMap/gitops-gate-cmp"]
	var plugin map[string]any
	if err := decodeYAML(cm.str("data", "plugin.yaml"), &plugin); err != nil {
		t.Fatal(err)
	}
	p := object(plugin)
	if p.str("kind") != "ConfigManagementPlugin" || p.str("metadata", "name") != "gitops-gate" {
		t.Errorf("plugin %v", p)
	}
	// The image is distroless: the command must run without a shell.
	var argv []string
	for _, part := range []string{"command", "args"} {
		l, _ := p.get("spec", "generate", part).([]any)
		for _, a := range l {
			argv = append(argv, a.(string))
		}
	}
	if len(argv) < 3 || argv[0] != "gitops-gate" || argv[1] != "render" || argv[2] != "--pin" {
		t.Errorf("generate %v, want gitops-gate render --pin …", argv)
	}
	for _, a := range argv {
		if a == "sh" || a == "bash" || a == "-c" || strings.HasSuffix(a, "/sh") || strings.Contains(a, "pipefail") {
			t.Errorf("generate %v runs a shell, which the image does not have", argv)
		}
	}
	side := container(t, objs["Deployment/argocd-repo-server"], "gitops-gate")
	if cmd := side.get("command").([]any); cmd[0] != "/var/run/argocd/argocd-cmp-server" || side.get("securityContext", "runAsNonRoot") != true {
		t.Errorf("sidecar %v", side)
	}
	container(t, objs["Deployment/argocd-repo-server"], "argocd-repo-server")
}

func TestContainerImageBuild(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FROM golang:1.26 AS build", "CGO_ENABLED=0", "distroless/static", "USER 65532"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

func TestPostgresOverlay(t *testing.T) {
	objs := render(t, "..", "deploy/overlays/postgres")
	if _, ok := objs["PersistentVolumeClaim/gitops-gate-data"]; ok {
		t.Error("the PostgreSQL overlay still claims a volume")
	}
	d := objs["Deployment/gitops-gate"]
	if r, _ := d.get("spec", "replicas").(int); r < 2 {
		t.Errorf("replicas = %v, want several", d.get("spec", "replicas"))
	}
	if d.str("spec", "strategy", "type") != "RollingUpdate" {
		t.Errorf("strategy %v", d.get("spec", "strategy"))
	}
	for _, v := range d.get("spec", "template", "spec", "volumes").([]any) {
		if v := object(v.(map[string]any)); v.str("name") == "data" && (v.get("persistentVolumeClaim") != nil || v.get("emptyDir") == nil) {
			t.Errorf("data volume %v, want an emptyDir", v)
		}
	}
	c := container(t, d, "gitops-gate")
	var dsnFrom object
	for _, e := range c.get("env").([]any) {
		if e := object(e.(map[string]any)); e.str("name") == "GITOPS_GATE_STORE_DSN" {
			dsnFrom = object(e.get("valueFrom", "secretKeyRef").(map[string]any))
		}
	}
	if dsnFrom == nil {
		t.Fatal("no GITOPS_GATE_STORE_DSN")
	}
	// The DSN's Secret is the user's (docs/argocd.md).
	dsn, ok := userObjects(t)["Secret/gitops-gate/"+dsnFrom.str("name")][dsnFrom.str("key")]
	if !ok {
		t.Fatalf("GITOPS_GATE_STORE_DSN refers to %v, which the docs do not tell the user to create", dsnFrom)
	}
	if len(c.get("env").([]any)) != 3 {
		t.Errorf("env %v: the base's variables must survive the patch", c.get("env"))
	}
	// The configuration loads as the service loads it, with the DSN from the Secret.
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfgPath, []byte(objs["ConfigMap/gitops-gate-config"].str("data", "config.yaml")), 0o644)
	t.Setenv("GITOPS_GATE_STORE_DSN", dsn)
	t.Setenv("GITOPS_GATE_GITHUB_PRIVATE_KEY", userObjects(t)["Secret/gitops-gate/gitops-gate"]["app.pem"])
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store.Driver != "postgres" || !strings.HasPrefix(cfg.Store.DSN, "postgres://") {
		t.Errorf("store %+v", cfg.Store)
	}
}

// Two apps deploying into one namespace each include deploy/presync with
// their own nameSuffix, as docs/argocd.md says: no object is written by
// both, and each Job runs as its own ServiceAccount, bound to its own Role.
func TestPresyncHookTwoAppsOneNamespace(t *testing.T) {
	root := t.TempDir()
	copyTree(t, "presync", filepath.Join(root, "deploy/presync"))
	seen := map[string]string{}
	for _, app := range []string{"web", "jobs"} {
		dir := filepath.Join(root, "apps", app)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("namespace: shop\nnameSuffix: -"+app+"\nresources: [../../deploy/presync]\n"), 0o644)
		objs := render(t, root, "apps/"+app)
		for k := range objs {
			if other, dup := seen[k]; dup {
				t.Errorf("%s and %s both write %s in shop", app, other, k)
			}
			seen[k] = app
		}
		job := objs["Job/gitops-gate-presync-"+app]
		if job == nil {
			t.Fatalf("%s: no Job/gitops-gate-presync-%s in %v", app, app, objs)
		}
		sa := job.str("spec", "template", "spec", "serviceAccountName")
		if sa != "gitops-gate-presync-"+app || objs["ServiceAccount/"+sa] == nil {
			t.Errorf("%s: the Job runs as %q, which this app does not create", app, sa)
		}
		rb := objs["RoleBinding/gitops-gate-presync-"+app]
		subj := object(rb.get("subjects").([]any)[0].(map[string]any))
		if subj.str("name") != sa || rb.str("roleRef", "name") != "gitops-gate-presync-"+app {
			t.Errorf("%s: binding %v does not bind its own account to its own role", app, rb)
		}
		// The token Secret is the namespace's, made by the operator, and is
		// shared: kustomize must not rename the reference to it.
		c := container(t, job, "presync")
		for _, e := range c.get("env").([]any) {
			e := object(e.(map[string]any))
			if e.str("name") == "GITOPS_GATE_TOKEN" && e.str("valueFrom", "secretKeyRef", "name") != "gitops-gate-presync" {
				t.Errorf("%s: token secret renamed to %q", app, e.str("valueFrom", "secretKeyRef", "name"))
			}
		}
	}
}
