package deploy

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/service"
	"github.com/gitops-gate/gitops-gate/gate/service/config"
	"github.com/gitops-gate/gitops-gate/gate/store"
	"github.com/gitops-gate/gitops-gate/gate/trust"
)

// This file checks deploy/ the way a cluster would: what kubectl or Argo CD
// would reject, and what would start but never become Ready. Each
// kustomization is built as a user builds it (kustomize's default options,
// whose load restrictor Argo CD uses too), every Secret and ConfigMap a pod
// names must exist or be one the documentation tells the user to create,
// and the pod's files are laid out from its volumes so that the service
// loads its configuration and reports ready, and the plugin finds its
// policies and trust root.

// docUserObjects reads the table of objects the user creates from
// docs/argocd.md: rows "| Secret `name` | `namespace` | `key`, `key` | ... |".
func docUserObjects(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("../docs/argocd.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| (Secret|ConfigMap) `([^`]+)` \\| `([^`]+)` \\| ([^|]+) \\|")
	tick := regexp.MustCompile("`([^`]+)`")
	out := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var keys []string
		for _, k := range tick.FindAllStringSubmatch(m[4], -1) {
			keys = append(keys, k[1])
		}
		sort.Strings(keys)
		out[m[1]+"/"+m[3]+"/"+m[2]] = keys
	}
	if len(out) == 0 {
		t.Fatal("docs/argocd.md has no table of the Secrets and ConfigMaps the user creates")
	}
	return out
}

// userObjects are what a user creates by following the docs, with content
// that works: kind/namespace/name -> key -> value.
func userObjects(t *testing.T) map[string]map[string]string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	ss, err := gatetest.New()
	if err != nil {
		t.Fatal(err)
	}
	root, err := ss.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	random := func() string {
		b := make([]byte, 16)
		rand.Read(b)
		return hex.EncodeToString(b)
	}
	return map[string]map[string]string{
		"Secret/gitops-gate/gitops-gate": {"app.pem": string(pemKey),
			"GITOPS_GATE_WEBHOOK_SECRET": random(), "GITOPS_GATE_API_TOKENS": random()},
		"Secret/gitops-gate/gitops-gate-trusted-root": {"trusted_root.json": string(root)},
		"Secret/gitops-gate/gitops-gate-postgres":     {"dsn": "postgres://gitops_gate@db.example:5432/gitops_gate?sslmode=require"},
		"ConfigMap/argocd/gitops-gate-policies":       {"verify-images.yaml": examplePolicy},
		"Secret/argocd/gitops-gate-trusted-root":      {"trusted_root.json": string(root)},
		"Secret/argocd/gitops-gate-server":            {"url": "http://gitops-gate.gitops-gate.svc", "token": random()},
	}
}

const examplePolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: acme-release-signed
spec:
  validationFailureAction: Enforce
  rules:
    - name: signed-by-release-workflow
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["ghcr.io/acme/*"]
          attestors:
            - entries:
                - keyless:
                    issuer: https://token.actions.githubusercontent.com
                    subject: "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*"
`

// TestUserObjectsAreDocumented: the objects the tests create stand for
// what docs/argocd.md tells the user to create, name, namespace and keys.
func TestUserObjectsAreDocumented(t *testing.T) {
	doc, made := docUserObjects(t), userObjects(t)
	for id, data := range made {
		var keys []string
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if !slices.Equal(doc[id], keys) {
			t.Errorf("%s: docs/argocd.md lists keys %v, deploy/ needs %v", id, doc[id], keys)
		}
	}
	for id := range doc {
		if made[id] == nil {
			t.Errorf("docs/argocd.md lists %s, which nothing in deploy/ uses", id)
		}
	}
}

// kbuild builds dir as `kustomize build` does by default.
func kbuild(t *testing.T, dir string) []object {
	t.Helper()
	opts := krusty.MakeDefaultOptions()
	m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var out []object
	for _, r := range m.Resources() {
		o, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

var clusterScoped = map[string]bool{"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"CustomResourceDefinition": true, "PriorityClass": true, "StorageClass": true, "PersistentVolume": true,
	"ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true, "APIService": true, "IngressClass": true}

func objectID(o object) string {
	return o.str("kind") + "/" + o.str("metadata", "namespace") + "/" + o.str("metadata", "name")
}

func list(v any) []object {
	var out []object
	l, _ := v.([]any)
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, e := range l {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

// podSpec is the pod template of a workload, or nil.
func podSpec(o object) object {
	switch o.str("kind") {
	case "Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet":
		m, _ := o.get("spec", "template", "spec").(map[string]any)
		return m
	case "CronJob":
		m, _ := o.get("spec", "jobTemplate", "spec", "template", "spec").(map[string]any)
		return m
	}
	return nil
}

// cluster is the rendered objects plus what the user created.
type cluster struct {
	objs map[string]object
	user map[string]map[string]string
}

func newCluster(objs []object, user map[string]map[string]string) *cluster {
	c := &cluster{objs: map[string]object{}, user: user}
	for _, o := range objs {
		c.objs[objectID(o)] = o
	}
	return c
}

// data returns the keys of a ConfigMap or Secret, rendered or made by the
// user, and whether it exists.
func (c *cluster) data(kind, ns, name string) (map[string]string, bool) {
	key := kind + "/" + ns + "/" + name
	if o, ok := c.objs[key]; ok {
		out := map[string]string{}
		for _, field := range []string{"data", "stringData", "binaryData"} {
			m, _ := o.get(field).(map[string]any)
			for k, v := range m {
				out[k] = fmt.Sprint(v) // data values stay base64: only their presence matters here
			}
		}
		return out, true
	}
	d, ok := c.user[key]
	return d, ok
}

// checkReady reports what a cluster would reject or never make ready: a
// namespaced object without a namespace, and a pod naming a ConfigMap,
// Secret, key, ServiceAccount or claim that does not exist.
func (c *cluster) checkReady(t *testing.T) {
	t.Helper()
	for k, o := range c.objs {
		if !clusterScoped[o.str("kind")] && o.str("metadata", "namespace") == "" {
			t.Errorf("%s has no namespace: kubectl apply puts it wherever the context points", k)
		}
	}
	for k, o := range c.objs {
		pod := podSpec(o)
		if pod == nil {
			continue
		}
		ns := o.str("metadata", "namespace")
		need := func(kind, name, key string, optional bool, where string) {
			d, ok := c.data(kind, ns, name)
			switch {
			case !ok && !optional:
				t.Errorf("%s: %s names %s %s/%s, which neither deploy/ nor the documented steps create", k, where, kind, ns, name)
			case !ok:
				if _, ok := c.user[kind+"/"+ns+"/"+name]; !ok {
					t.Errorf("%s: %s names the optional %s %s/%s, which the docs do not describe", k, where, kind, ns, name)
				}
			case key != "":
				if _, ok := d[key]; !ok {
					t.Errorf("%s: %s needs key %q of %s %s/%s, which it does not have", k, where, key, kind, ns, name)
				}
			}
		}
		if sa := object(pod).str("serviceAccountName"); sa != "" {
			if _, ok := c.objs["ServiceAccount/"+ns+"/"+sa]; !ok {
				t.Errorf("%s: service account %s/%s does not exist", k, ns, sa)
			}
		}
		for _, v := range list(pod["volumes"]) {
			where := "volume " + v.str("name")
			opt := func(m object) bool { b, _ := m.get("optional").(bool); return b }
			if cm, ok := v.get("configMap").(map[string]any); ok {
				need("ConfigMap", object(cm).str("name"), "", opt(cm), where)
				for _, it := range list(cm["items"]) {
					need("ConfigMap", object(cm).str("name"), it.str("key"), opt(cm), where)
				}
			}
			if s, ok := v.get("secret").(map[string]any); ok {
				need("Secret", object(s).str("secretName"), "", opt(s), where)
				for _, it := range list(s["items"]) {
					need("Secret", object(s).str("secretName"), it.str("key"), opt(s), where)
				}
			}
			if claim := v.str("persistentVolumeClaim", "claimName"); claim != "" {
				if _, ok := c.objs["PersistentVolumeClaim/"+ns+"/"+claim]; !ok {
					t.Errorf("%s: %s claims %s, which does not exist", k, where, claim)
				}
			}
		}
		for _, ctr := range append(list(pod["initContainers"]), list(pod["containers"])...) {
			// gitops-gate's image is distroless: nothing in it can run a shell.
			if cmd := strs(ctr["command"]); strings.Contains(ctr.str("image"), "gitops-gate") && len(cmd) > 0 && (strings.HasSuffix(cmd[0], "sh") || slices.Contains(cmd, "-c")) {
				t.Errorf("%s: container %s runs %v: the image has no shell", k, ctr.str("name"), cmd)
			}
			for _, e := range list(ctr["env"]) {
				where := "container " + ctr.str("name") + " env " + e.str("name")
				for kind, field := range map[string]string{"ConfigMap": "configMapKeyRef", "Secret": "secretKeyRef"} {
					if r, ok := e.get("valueFrom", field).(map[string]any); ok {
						opt, _ := r["optional"].(bool)
						need(kind, object(r).str("name"), object(r).str("key"), opt, where)
					}
				}
			}
			for _, e := range list(ctr["envFrom"]) {
				for kind, field := range map[string]string{"ConfigMap": "configMapRef", "Secret": "secretRef"} {
					if r, ok := e.get(field).(map[string]any); ok {
						opt, _ := r["optional"].(bool)
						need(kind, object(r).str("name"), "", opt, "container "+ctr.str("name")+" envFrom")
					}
				}
			}
		}
	}
}

// mount lays out the files a container sees under root, from its volume
// mounts, and returns the environment its env entries resolve to. Paths
// that no mount covers do not exist, as on a read-only root filesystem.
func (c *cluster) mount(t *testing.T, workload object, container string) (root string, env map[string]string) {
	t.Helper()
	root, env = t.TempDir(), map[string]string{}
	pod := podSpec(workload)
	ns := workload.str("metadata", "namespace")
	vols := map[string]object{}
	for _, v := range list(pod["volumes"]) {
		vols[v.str("name")] = v
	}
	ctr := findContainer(t, pod, container)
	for _, m := range list(ctr["volumeMounts"]) {
		dst := filepath.Join(root, m.str("mountPath"))
		v, ok := vols[m.str("name")]
		if !ok {
			t.Errorf("container %s mounts volume %s, which the pod does not have", container, m.str("name"))
			continue
		}
		files := map[string]string{}
		var src map[string]any
		kind := ""
		if s, ok := v.get("configMap").(map[string]any); ok {
			src, kind = s, "ConfigMap"
		} else if s, ok := v.get("secret").(map[string]any); ok {
			src, kind = s, "Secret"
		}
		if src != nil {
			name := object(src).str("name")
			if kind == "Secret" {
				name = object(src).str("secretName")
			}
			d, _ := c.data(kind, ns, name)
			if items := list(src["items"]); len(items) > 0 {
				for _, it := range items {
					if val, ok := d[it.str("key")]; ok {
						files[it.str("path")] = val
					}
				}
			} else {
				for k, val := range d {
					files[k] = val
				}
			}
		}
		if sub := m.str("subPath"); sub != "" {
			val, ok := files[sub]
			if !ok {
				t.Errorf("container %s mounts %s from subPath %s of volume %s, which has no such file", container, m.str("mountPath"), sub, m.str("name"))
				continue
			}
			os.MkdirAll(filepath.Dir(dst), 0o755)
			os.WriteFile(dst, []byte(val), 0o644)
			continue
		}
		os.MkdirAll(dst, 0o755)
		for p, val := range files {
			os.MkdirAll(filepath.Dir(filepath.Join(dst, p)), 0o755)
			os.WriteFile(filepath.Join(dst, p), []byte(val), 0o644)
		}
	}
	for _, e := range list(ctr["env"]) {
		if v, ok := e["value"].(string); ok {
			env[e.str("name")] = v
			continue
		}
		for kind, field := range map[string]string{"ConfigMap": "configMapKeyRef", "Secret": "secretKeyRef"} {
			if r, ok := e.get("valueFrom", field).(map[string]any); ok {
				d, _ := c.data(kind, ns, object(r).str("name"))
				if v, ok := d[object(r).str("key")]; ok {
					env[e.str("name")] = v
				}
			}
		}
	}
	return root, env
}

func findContainer(t *testing.T, pod object, name string) object {
	t.Helper()
	for _, c := range list(pod["containers"]) {
		if c.str("name") == name {
			return c
		}
	}
	t.Fatalf("no container %s", name)
	return nil
}

// absPath is an absolute path written as a YAML value or list item.
var absPath = regexp.MustCompile(`([\s\[,"'])(/[A-Za-z0-9._/-]+)`)

// rooted rewrites the absolute paths in a configuration to paths under root.
func rooted(root, text string) string {
	return absPath.ReplaceAllString(text, "${1}"+filepath.ToSlash(root)+"${2}")
}

// checkServiceReady starts the service of a rendered overlay on the files
// and environment its pod would have, and asks it whether it is ready.
func checkServiceReady(t *testing.T, c *cluster) {
	t.Helper()
	d, ok := c.objs["Deployment/gitops-gate/gitops-gate"]
	if !ok {
		t.Fatal("no Deployment gitops-gate in namespace gitops-gate")
	}
	root, env := c.mount(t, d, "gitops-gate")
	ctr := findContainer(t, podSpec(d), "gitops-gate")
	args := ctr.get("args").([]any)
	cfgPath := ""
	for i, a := range args {
		if a == "--config" && i+1 < len(args) {
			cfgPath = args[i+1].(string)
		}
	}
	text, err := os.ReadFile(filepath.Join(root, cfgPath))
	if err != nil {
		t.Fatalf("the configuration %s is not mounted: %v", cfgPath, err)
	}
	// The data directory must be a writable volume: the root filesystem is
	// read-only, and so are the mounts that say so.
	for _, m := range list(ctr["volumeMounts"]) {
		if ro, _ := m["readOnly"].(bool); ro {
			dir := filepath.Join(root, m.str("mountPath"))
			os.Chmod(dir, 0o555)
			t.Cleanup(func() { os.Chmod(dir, 0o755) })
		}
	}
	for _, k := range []string{"GITOPS_GATE_WEBHOOK_SECRET", "GITOPS_GATE_API_TOKENS", "GITOPS_GATE_STORE_DSN", "GITOPS_GATE_GITHUB_PRIVATE_KEY", "GITOPS_GATE_GITHUB_TOKEN"} {
		t.Setenv(k, env[k])
	}
	p := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(p, []byte(rooted(root, string(text))), 0o644)
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatalf("the service would not start: %v", err)
	}
	if st, err := os.Stat(cfg.DataDir); err != nil || !st.IsDir() || st.Mode().Perm()&0o200 == 0 {
		t.Errorf("dataDir %s is not a writable volume", strings.TrimPrefix(cfg.DataDir, root))
	}
	// The store is the test's own (SQLite): PostgreSQL's readiness is the
	// database's; what deploy/ decides is the configuration and the files.
	st, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "gate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := service.New(service.Options{Config: cfg, Store: st})
	if err != nil {
		t.Fatalf("the service would not start: %v", err)
	}
	defer svc.Close()
	if err := svc.Ready(context.Background()); err != nil {
		t.Errorf("/readyz would answer 503: %v", err)
	}
}

// TestOverlaysBecomeReady renders the base and every overlay as a user
// would and checks that, with the documented Secrets created, the cluster
// accepts every object and the service reports ready.
func TestOverlaysBecomeReady(t *testing.T) {
	dirs := []string{"base"}
	overlays, _ := filepath.Glob("overlays/*/kustomization.yaml")
	for _, k := range overlays {
		dirs = append(dirs, filepath.Dir(k))
	}
	if len(dirs) < 2 {
		t.Fatal("no overlays found")
	}
	user := userObjects(t)
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			c := newCluster(kbuild(t, dir), user)
			c.checkReady(t)
			checkServiceReady(t, c)
		})
	}
}

// argoInstall stands for Argo CD's install.yaml: the two objects the
// component patches, as Argo CD ships them (no namespace).
const argoInstall = `apiVersion: apps/v1
kind: Deployment
metadata: {name: argocd-repo-server}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: argocd-repo-server}}
  template:
    metadata: {labels: {app.kubernetes.io/name: argocd-repo-server}}
    spec:
      serviceAccountName: argocd-repo-server
      containers:
        - name: argocd-repo-server
          image: quay.io/argoproj/argocd:v3.1.0
          volumeMounts: [{name: var-files, mountPath: /var/run/argocd}, {name: plugins, mountPath: /home/argocd/cmp-server/plugins}]
      volumes: [{name: var-files, emptyDir: {}}, {name: plugins, emptyDir: {}}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: argocd-repo-server}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cmd-params-cm
  labels: {app.kubernetes.io/name: argocd-cmd-params-cm}
`

// docsKustomization returns the kustomization docs/argocd.md tells the
// user to write: the YAML block that starts with "# argocd/kustomization.yaml".
func docsKustomization(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../docs/argocd.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i := 1; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "# argocd/kustomization.yaml" || strings.TrimSpace(lines[i-1]) != "```yaml" {
			continue
		}
		indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " "))]
		var block []string
		for _, l := range lines[i:] {
			if strings.TrimSpace(l) == "```" {
				return strings.Join(block, "\n") + "\n"
			}
			block = append(block, strings.TrimPrefix(l, indent))
		}
	}
	t.Fatal("docs/argocd.md has no ```yaml block starting with # argocd/kustomization.yaml")
	return ""
}

// buildArgoCD builds the documented Argo CD kustomization with kustomize's
// default options, next to a copy of deploy/ as the docs lay it out
// (../gitops-gate/deploy/argocd-cmp), with a stand-in for install.yaml.
func buildArgoCD(t *testing.T) []object {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "gitops-gate", "deploy"), os.DirFS(".")); err != nil {
		t.Fatal(err)
	}
	kust := docsKustomization(t)
	remote := regexp.MustCompile(`https://raw\.githubusercontent\.com/argoproj/argo-cd/[^/]+/manifests/install\.yaml`)
	if !remote.MatchString(kust) {
		t.Fatalf("the documented kustomization does not install Argo CD from its release manifest:\n%s", kust)
	}
	kust = remote.ReplaceAllString(kust, "install.yaml")
	os.MkdirAll(filepath.Join(dir, "argocd"), 0o755)
	os.WriteFile(filepath.Join(dir, "argocd", "install.yaml"), []byte(argoInstall), 0o644)
	os.WriteFile(filepath.Join(dir, "argocd", "kustomization.yaml"), []byte(kust), 0o644)
	return kbuild(t, filepath.Join(dir, "argocd"))
}

// TestArgoCDInstallAsDocumented: the kustomization of docs/argocd.md builds
// under the default load restrictor, the sidecar's plugin runs without a
// shell (the image has none), its policies and trust root are mounted where
// its command looks, and the timeouts are raised together.
func TestArgoCDInstallAsDocumented(t *testing.T) {
	c := newCluster(buildArgoCD(t), userObjects(t))
	c.checkReady(t)
	repo, ok := c.objs["Deployment/argocd/argocd-repo-server"]
	if !ok {
		t.Fatal("no argocd-repo-server in namespace argocd")
	}
	root, env := c.mount(t, repo, "gitops-gate")
	b, err := os.ReadFile(filepath.Join(root, "/home/argocd/cmp-server/config/plugin.yaml"))
	if err != nil {
		t.Fatalf("the cmp-server's plugin.yaml is not mounted: %v", err)
	}
	var plugin map[string]any
	if err := decodeYAML(string(b), &plugin); err != nil {
		t.Fatal(err)
	}
	p := object(plugin)
	if p.str("kind") != "ConfigManagementPlugin" || p.str("metadata", "name") != "gitops-gate" || p.str("spec", "version") != "v1" {
		t.Errorf("plugin %v: apps name it gitops-gate-v1", p)
	}
	var argv []string
	for _, part := range []string{"command", "args"} {
		l, _ := p.get("spec", "generate", part).([]any)
		for _, a := range l {
			argv = append(argv, fmt.Sprint(a))
		}
	}
	if len(argv) == 0 {
		t.Fatal("no generate command")
	}
	// The image is distroless: no shell, so the command is exec'd as is.
	if base := filepath.Base(argv[0]); base == "sh" || base == "bash" || base == "ash" || base == "dash" || slices.Contains(argv, "-c") {
		t.Errorf("generate runs %v through a shell, which the image does not have", argv)
	}
	if filepath.Base(argv[0]) != "gitops-gate" || !slices.Equal(argv[1:3], []string{"render", "--pin"}) {
		t.Errorf("generate %v, want gitops-gate render --pin", argv)
	}
	flag := func(name string) string {
		if i := slices.Index(argv, name); i >= 0 && i+1 < len(argv) {
			return argv[i+1]
		}
		t.Errorf("generate %v has no %s", argv, name)
		return ""
	}
	pol, tr := flag("--policy"), flag("--trusted-root")
	eng, err := gate.NewEngine(gate.Config{PolicyPaths: []string{filepath.Join(root, pol)},
		Trust: trust.Source{TrustedRootPath: filepath.Join(root, tr)}})
	if err != nil {
		t.Fatalf("the plugin's policies at %s: %v", pol, err)
	}
	if eng.TrustErr != nil {
		t.Errorf("the plugin's trust root at %s: %v", tr, eng.TrustErr)
	}
	if env["GITOPS_GATE_SERVER"] == "" || env["GITOPS_GATE_TOKEN"] == "" {
		t.Errorf("the sidecar's server settings do not come from the documented Secret: %v", env)
	}
	// Argo CD cuts a generate at the repo-server timeout (60 s by default)
	// whatever ARGOCD_EXEC_TIMEOUT says: both are raised, the exec one below.
	params := c.objs["ConfigMap/argocd/argocd-cmd-params-cm"]
	execTimeout, _ := time.ParseDuration(env["ARGOCD_EXEC_TIMEOUT"])
	for _, k := range []string{"controller.repo.server.timeout.seconds", "server.repo.server.timeout.seconds"} {
		secs, _ := strconv.Atoi(params.str("data", k))
		if secs <= 60 || execTimeout == 0 || execTimeout >= time.Duration(secs)*time.Second {
			t.Errorf("%s = %q, ARGOCD_EXEC_TIMEOUT = %q: want the repo-server timeout above 60 s and the plugin's below it", k, params.str("data", k), env["ARGOCD_EXEC_TIMEOUT"])
		}
	}
	if objs := c.objs["ConfigMap/argocd/gitops-gate-cmp"]; objs == nil {
		t.Error("no ConfigMap gitops-gate-cmp in namespace argocd")
	}
}
