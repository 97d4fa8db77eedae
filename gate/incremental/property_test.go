package incremental_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/incremental"
	"github.com/gitops-gate/gitops-gate/manifests"
)

var long = flag.Bool("long", false, "run the incremental property test with many more and longer edit sequences (make fuzz)")

// TestIncrementalEqualsFull is the property that makes carrying apps over
// safe: for random edit sequences over a synthetic repository (bases shared
// by many overlays, a component, a chart used by many apps with value files
// outside it, Applications added and removed, files added to plain
// directories, Jsonnet libraries, configuration changes), the inventory of an
// incremental scan equals a full scan's, byte for byte, whatever earlier
// record it starts from.
func TestIncrementalEqualsFull(t *testing.T) {
	seqs, steps := 4, 10
	if *long {
		seqs, steps = 150, 40
	}
	if testing.Short() {
		seqs = 2
	}
	for s := 0; s < seqs; s++ {
		seed := uint64(s) + 1
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			runSequence(t, seed, steps)
		})
	}
}

var fp = incremental.Fingerprint{Gate: "test", Policies: "p", Rendering: "r"}

func runSequence(t *testing.T, seed uint64, steps int) {
	ctx := context.Background()
	dir := t.TempDir()
	g := newSynth(dir, rand.New(rand.NewPCG(seed, seed*7919)))
	g.initial()
	g.flush(t)
	alias := filepath.Join(t.TempDir(), "checkout")
	if err := os.Symlink(dir, alias); err != nil {
		t.Fatal(err)
	}
	_, first := scan(ctx, t, dir, nil)
	records := []*incremental.Record{first}
	var carriedTotal int
	for step := 0; step < steps; step++ {
		what := g.edit()
		g.flush(t)
		// Usually the previous record; sometimes an older one: any
		// earlier record must give the same answer.
		base := records[len(records)-1]
		if g.r.IntN(4) == 0 {
			base = records[g.r.IntN(len(records))]
		}
		// The same checkout under other spellings (a symlink to it, a
		// trailing separator): discovery's listing, reused for the listing
		// hashes, must give what the base recorded.
		spelling := []string{dir, alias, dir + string(filepath.Separator)}[g.r.IntN(3)]
		full, _ := scan(ctx, t, dir, nil)
		inc, rec := scan(ctx, t, spelling, base)
		for _, a := range inc.Apps {
			if a.CarriedOver {
				carriedTotal++
			}
		}
		if got, want := canonical(t, inc), canonical(t, full); !bytes.Equal(got, want) {
			t.Fatalf("seed %d step %d (%s): incremental inventory differs from full:\n%s", seed, step, what, firstDiff(got, want))
		}
		records = append(records, rec)
	}
	t.Logf("seed %d: %d app entries carried over in %d steps", seed, carriedTotal, steps)
	if carriedTotal == 0 {
		t.Errorf("seed %d: no app was ever carried over: the planner is not incremental", seed)
	}
}

// scan renders dir, carrying over from base when it is set.
func scan(ctx context.Context, t *testing.T, dir string, base *incremental.Record) (*manifests.Inventory, *incremental.Record) {
	t.Helper()
	repo, err := manifests.Open(dir, manifests.Options{Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	plan := incremental.NewPlanner(incremental.Options{Base: base, Fingerprint: fp, Full: base == nil})
	inv, _, err := repo.Scan(ctx, manifests.ScanOptions{Reuse: func(app manifests.App) (manifests.AppImages, bool) {
		return plan.Reuse(app, repo)
	}})
	if err != nil {
		t.Fatal(err)
	}
	return inv, incremental.NewRecord(fp, inv, nil)
}

// canonical is the inventory's JSON without the carried-over marks.
func canonical(t *testing.T, inv *manifests.Inventory) []byte {
	c := *inv
	c.Apps = append([]manifests.AppImages(nil), inv.Apps...)
	for i := range c.Apps {
		c.Apps[i].CarriedOver = false
	}
	b, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			lo := max(0, i-8)
			return fmt.Sprintf("line %d\n incremental: %q\n full:        %q\ncontext (full):\n%s", i, a, b, strings.Join(w[lo:min(len(w), i+4)], "\n"))
		}
	}
	return "(no difference)"
}

// synth is a synthetic GitOps repository held in memory and written out
// after each edit.
type synth struct {
	dir   string
	r     *rand.Rand
	files map[string]string // path -> content; "" deletes
	dirty map[string]bool
	n     int // counter for new names
}

func newSynth(dir string, r *rand.Rand) *synth {
	return &synth{dir: dir, r: r, files: map[string]string{}, dirty: map[string]bool{}}
}

func (g *synth) set(p, content string) {
	g.files[p] = content
	g.dirty[p] = true
}

func (g *synth) del(p string) {
	delete(g.files, p)
	g.dirty[p] = true
}

func (g *synth) flush(t *testing.T) {
	for p := range g.dirty {
		full := filepath.Join(g.dir, filepath.FromSlash(p))
		content, ok := g.files[p]
		if !ok {
			if err := os.Remove(full); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			// Leave no empty directory behind (git keeps none).
			for d := filepath.Dir(full); d != g.dir; d = filepath.Dir(d) {
				if os.Remove(d) != nil {
					break
				}
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g.dirty = map[string]bool{}
}

func (g *synth) list(prefix string) []string {
	var out []string
	for p := range g.files {
		if strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func (g *synth) pick(prefix, suffix string) string {
	var c []string
	for _, p := range g.list(prefix) {
		if strings.HasSuffix(p, suffix) {
			c = append(c, p)
		}
	}
	if len(c) == 0 {
		return ""
	}
	return c[g.r.IntN(len(c))]
}

func (g *synth) image() string {
	return fmt.Sprintf("registry.example.com/team-%d/svc:%d.%d", g.r.IntN(3), g.r.IntN(4), g.r.IntN(5))
}

func deployment(name, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
  annotations: {extra: "registry.example.com/extra/%[1]s:1"}
spec:
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers:
      - name: main
        image: %s
`, name, image)
}

const component = `apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
patches:
- target: {kind: Deployment}
  patch: |-
    - op: add
      path: /spec/template/spec/containers/-
      value: {name: sidecar, image: %s}
`

func (g *synth) base(i int) {
	p := fmt.Sprintf("bases/b%d/", i)
	g.set(p+"kustomization.yaml", "resources:\n- deployment.yaml\n")
	g.set(p+"deployment.yaml", deployment(fmt.Sprintf("b%d", i), g.image()))
}

func (g *synth) overlay(name string) {
	b := g.r.IntN(3)
	k := fmt.Sprintf("namePrefix: %s-\nresources:\n- ../../bases/b%d\n", name, b)
	if g.r.IntN(3) == 0 {
		k += "components:\n- ../../components/sidecar\n"
	}
	if g.r.IntN(2) == 0 {
		k += fmt.Sprintf("images:\n- name: registry.example.com/team-%d/svc\n  newTag: \"%d\"\n", g.r.IntN(3), g.r.IntN(9))
	}
	g.set("overlays/"+name+"/kustomization.yaml", k)
}

func (g *synth) application(name string) {
	vf := fmt.Sprintf("values/%s.yaml", name)
	g.set(vf, fmt.Sprintf("image: %s\n", g.image()))
	g.set("argocd/"+name+".yaml", fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: %s, namespace: argocd}
spec:
  project: default
  destination: {server: https://kubernetes.default.svc, namespace: %[1]s}
  source:
    repoURL: https://example.com/acme/gitops.git
    path: charts/web
    helm:
      valueFiles: [../../values/%[1]s.yaml]
`, name))
}

func (g *synth) plain(name string, files int) {
	for i := 0; i < files; i++ {
		g.set(fmt.Sprintf("plain/%s/d%d.yaml", name, i), deployment(fmt.Sprintf("%s-%d", name, i), g.image()))
	}
}

func (g *synth) initial() {
	for i := 0; i < 3; i++ {
		g.base(i)
	}
	g.set("components/sidecar/kustomization.yaml", fmt.Sprintf(component, g.image()))
	for i := 0; i < 6; i++ {
		g.overlay(fmt.Sprintf("o%d", i))
	}
	g.set("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n")
	g.set("charts/web/values.yaml", "image: registry.example.com/default/web:1\nsidecar: false\n")
	g.set("charts/web/templates/deployment.yaml", chartTemplate("main"))
	for i := 0; i < 3; i++ {
		g.application(fmt.Sprintf("web%d", i))
	}
	g.plain("p0", 2)
	g.plain("p1", 1)
	g.set("jsonnet/j0/main.jsonnet", "local lib = import '../lib/common.libsonnet';\nlib.deployment('j0')\n")
	g.set("jsonnet/lib/common.libsonnet", jsonnetLib(g.image()))
}

func chartTemplate(container string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    spec:
      containers:
      - name: ` + container + `
        image: {{ .Values.image }}
      {{- if .Values.sidecar }}
      - name: sidecar
        image: registry.example.com/platform/sidecar:2
      {{- end }}
`
}

func jsonnetLib(image string) string {
	return `{
  deployment(name):: {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: name},
    spec: {template: {spec: {containers: [{name: 'main', image: '` + image + `'}]}}},
  },
}
`
}

// edit applies one random edit and says what it was.
func (g *synth) edit() string {
	g.n++
	switch g.r.IntN(21) {
	case 0:
		i := g.r.IntN(3)
		g.set(fmt.Sprintf("bases/b%d/deployment.yaml", i), deployment(fmt.Sprintf("b%d", i), g.image()))
		return fmt.Sprintf("base b%d image", i)
	case 1:
		if p := g.pick("overlays/", "kustomization.yaml"); p != "" {
			g.overlay(strings.Split(p, "/")[1])
			return "overlay rewritten " + p
		}
	case 2:
		g.set("components/sidecar/kustomization.yaml", fmt.Sprintf(component, g.image()))
		return "component image"
	case 3:
		g.set("charts/web/values.yaml", fmt.Sprintf("image: %s\nsidecar: %v\n", g.image(), g.r.IntN(2) == 0))
		return "chart values.yaml"
	case 4:
		g.set("charts/web/templates/deployment.yaml", chartTemplate(fmt.Sprintf("c%d", g.r.IntN(3))))
		return "chart template"
	case 5:
		if p := g.pick("values/", ".yaml"); p != "" {
			g.set(p, fmt.Sprintf("image: %s\nsidecar: %v\n", g.image(), g.r.IntN(2) == 0))
			return "value file outside the chart " + p
		}
	case 6:
		name := fmt.Sprintf("new%d", g.n)
		g.application(name)
		return "Application added " + name
	case 7:
		if p := g.pick("argocd/", ".yaml"); p != "" {
			g.del(p)
			return "Application removed " + p
		}
	case 8:
		if p := g.pick("plain/", ".yaml"); p != "" {
			d := p[:strings.LastIndex(p, "/")]
			g.set(fmt.Sprintf("%s/added%d.yaml", d, g.n), deployment(fmt.Sprintf("added%d", g.n), g.image()))
			return "file added to plain directory " + d
		}
	case 9:
		if p := g.pick("plain/", ".yaml"); p != "" && len(g.list(p[:strings.LastIndex(p, "/")+1])) > 1 {
			g.del(p)
			return "file removed from plain directory " + p
		}
	case 10:
		g.set("jsonnet/lib/common.libsonnet", jsonnetLib(g.image()))
		return "Jsonnet library"
	case 11:
		if g.r.IntN(2) == 0 {
			g.set(".gitops-gate.yaml", "imageExtractors:\n  Deployment:\n  - path: /metadata/annotations/extra\n")
			return "config: extractor added"
		}
		g.del(".gitops-gate.yaml")
		return "config removed"
	case 12:
		name := fmt.Sprintf("o%d", 100+g.n)
		g.overlay(name)
		return "overlay added " + name
	case 13:
		if p := g.pick("overlays/", "kustomization.yaml"); p != "" && len(g.list("overlays/")) > 1 {
			g.del(p)
			return "overlay removed " + p
		}
	case 14:
		// A file that is not a manifest: read by nothing, listed all the same.
		if p := g.pick("plain/", ".yaml"); p != "" {
			d := p[:strings.LastIndex(p, "/")]
			g.set(d+"/README.md", fmt.Sprintf("notes %d\n", g.n))
			return "README added to " + d
		}
	case 15:
		// A plain directory becomes a kustomization: its kind changes.
		if p := g.pick("plain/", ".yaml"); p != "" {
			d := p[:strings.LastIndex(p, "/")]
			var res []string
			for _, f := range g.list(d + "/") {
				if strings.HasSuffix(f, ".yaml") && !strings.HasSuffix(f, "kustomization.yaml") {
					res = append(res, "- "+f[len(d)+1:])
				}
			}
			if _, ok := g.files[d+"/kustomization.yaml"]; ok {
				g.del(d + "/kustomization.yaml")
				return "kustomization removed from " + d
			}
			g.set(d+"/kustomization.yaml", "resources:\n"+strings.Join(res, "\n")+"\n")
			return "kustomization added to " + d
		}
	case 16:
		name := fmt.Sprintf("p%d", 100+g.n)
		g.plain(name, 1+g.r.IntN(2))
		return "plain directory added " + name
	case 17:
		// A template added to (or removed from) the chart every Helm app uses.
		const extra = "charts/web/templates/extra.yaml"
		if _, ok := g.files[extra]; ok {
			g.del(extra)
			return "chart template removed"
		}
		g.set(extra, "apiVersion: batch/v1\nkind: Job\nmetadata: {name: '{{ .Release.Name }}-job'}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: job, image: registry.example.com/jobs/run:1}\n")
		return "chart template added"
	case 18:
		// A base in a hidden directory (discovery does not list it; the
		// overlay that loads it does).
		g.set(".shared/base/kustomization.yaml", "resources:\n- deployment.yaml\n")
		g.set(".shared/base/deployment.yaml", deployment("hidden", g.image()))
		g.set("overlays/hidden/kustomization.yaml", "namePrefix: h-\nresources:\n- ../../.shared/base\n")
		return "hidden base image"
	case 19:
		// A template in a subdirectory of the chart (discovery stops at
		// Chart.yaml; Helm lists the templates recursively).
		const sub = "charts/web/templates/extra/job.yaml"
		if _, ok := g.files[sub]; ok && g.r.IntN(2) == 0 {
			g.del(sub)
			return "chart subtree template removed"
		}
		g.set(sub, fmt.Sprintf("apiVersion: batch/v1\nkind: Job\nmetadata: {name: '{{ .Release.Name }}-sub'}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: job, image: %s}\n", g.image()))
		return "chart subtree template"
	case 20:
		// A plain directory gains a subdirectory with a manifest: a new app
		// below an existing one, its parent's listing changed.
		if p := g.pick("plain/", ".yaml"); p != "" {
			d := p[:strings.LastIndex(p, "/")]
			g.set(fmt.Sprintf("%s/sub%d/d.yaml", d, g.n), deployment(fmt.Sprintf("sub%d", g.n), g.image()))
			return "subdirectory added to " + d
		}
	}
	g.base(g.r.IntN(3))
	return "base rewritten"
}
