package manifests

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestCarriedOverEqualsRendered: on random repositories (kustomize
// overlays of shared bases, components, plain directories, a Helm chart,
// Applications) changed at random (files added under names renderers
// probe for, in any case; removed; rewritten; replaced by symlinks in and
// out, dangling or to directories; directories swapped for links), every
// app whose recorded inputs all hash the same on the changed checkout
// (what incremental evaluation carries over, answered from discovery's
// listing where it can) renders exactly as a full scan of the changed
// checkout renders it: the same images at the same file:line, the same
// error.
func TestCarriedOverEqualsRendered(t *testing.T) {
	const deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: %s}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: c, image: \"registry.example/%s:%d\"}\n"
	names := []string{"kustomization.yaml", "kustomization.yml", "Kustomization", "KUSTOMIZATION.YAML", "deploy.yaml", "extra.yaml",
		".argocd-source.yaml", ".hidden.yaml", "values.yaml", "Chart.yaml", "x.yml", "sub"}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "evil.yaml"), fmt.Appendf(nil, deploy, "evil", "evil", 1), 0o644); err != nil {
		t.Fatal(err)
	}
	carried := 0
	for seed := range uint64(seeds()) {
		rng := rand.New(rand.NewPCG(seed, 11))
		files := map[string]string{
			"base/kustomization.yaml":            "resources: [deploy.yaml]\n",
			"base/deploy.yaml":                   fmt.Sprintf(deploy, "web", "web", 1),
			"components/side/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nimages:\n- {name: registry.example/web, newTag: \"9\"}\n",
			"charts/api/Chart.yaml":              "apiVersion: v2\nname: api\nversion: 0.1.0\n",
			"charts/api/values.yaml":             "tag: \"1\"\n",
			"charts/api/templates/p.yaml":        "apiVersion: v1\nkind: Pod\nmetadata: {name: api}\nspec:\n  containers: [{name: api, image: \"registry.example/api:{{ .Values.tag }}\"}]\n",
			"plain/a/pod.yaml":                   fmt.Sprintf(deploy, "pa", "pa", 1),
			"plain/b/pod.yaml":                   fmt.Sprintf(deploy, "pb", "pb", 1),
		}
		for i := range 4 {
			k := fmt.Sprintf("overlays/o%d/kustomization.yaml", i)
			files[k] = "resources: [../../base]\n"
			if i%2 == 1 {
				files[k] += "components: [../../components/side]\n"
			}
		}
		dir, err := filepath.EvalSymlinks(writeTree(t, files))
		if err != nil {
			t.Fatal(err)
		}
		base := scan(t, dir, Options{})
		records := map[string]AppImages{}
		for _, a := range base.Apps {
			records[definitionKey(a.Source)] = a
		}
		// Change the checkout.
		var dirs, paths []string
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || p == dir {
				return nil
			}
			rel, _ := filepath.Rel(dir, p)
			if d.IsDir() {
				dirs = append(dirs, rel)
			} else {
				paths = append(paths, rel)
			}
			return nil
		})
		sort.Strings(dirs)
		sort.Strings(paths)
		for range 1 + rng.IntN(3) {
			d := dirs[rng.IntN(len(dirs))]
			p := filepath.Join(dir, paths[rng.IntN(len(paths))])
			n := filepath.Join(dir, d, names[rng.IntN(len(names))])
			switch rng.IntN(7) {
			case 0:
				content := fmt.Sprintf(deploy, "new", "evil", rng.IntN(3))
				if strings.Contains(strings.ToLower(n), "kustomization") {
					content = "resources: [" + filepath.Base(paths[rng.IntN(len(paths))]) + "]\nimages:\n- {name: registry.example/web, newName: registry.example/evil}\n"
				}
				os.WriteFile(n, []byte(content), 0o644)
			case 1:
				os.Remove(p)
			case 2:
				os.WriteFile(p, fmt.Appendf(nil, deploy, "web", "evil", 2), 0o644)
			case 3:
				os.Remove(p)
				os.Symlink(filepath.Join(dir, paths[rng.IntN(len(paths))]), p)
			case 4:
				os.Symlink([]string{filepath.Join(outside, "evil.yaml"), outside, "nope", "..", "../" + filepath.Base(d)}[rng.IntN(5)], n)
			case 5:
				os.Mkdir(n, 0o755)
				os.WriteFile(filepath.Join(n, "kustomization.yaml"), []byte("resources: [../deploy.yaml]\n"), 0o644)
			case 6:
				if d != "." {
					tmp := filepath.Join(dir, d) + ".old"
					os.Rename(filepath.Join(dir, d), tmp)
					os.Symlink(filepath.Base(tmp), filepath.Join(dir, d))
				}
			}
		}
		full := scan(t, dir, Options{})
		repo, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		inc, _, err := repo.Scan(t.Context(), ScanOptions{Reuse: func(app App) (AppImages, bool) {
			rec, ok := records[definitionKey(&app)]
			if !ok || rec.Inputs == nil || rec.Inputs.Always != "" || len(rec.Inputs.Inputs) == 0 || app.Err != nil {
				return AppImages{}, false
			}
			for _, in := range rec.Inputs.Inputs {
				if h, err := repo.InputHash(in); err != nil || h != in.Hash {
					return AppImages{}, false
				}
			}
			rec.CarriedOver = true
			return rec, true
		}})
		if err != nil {
			t.Fatal(err)
		}
		got, want := summary(inc), summary(full)
		for name, w := range want {
			if g := got[name]; g.text != w.text {
				t.Errorf("seed %d: app %s (carried over: %v):\n%s\nrendered now:\n%s", seed, name, g.carried, g.text, w.text)
			}
			if got[name].carried {
				carried++
			}
		}
		if len(got) != len(want) {
			t.Errorf("seed %d: %d apps incrementally, %d in full", seed, len(got), len(want))
		}
	}
	t.Logf("%d apps carried over", carried)
	if carried == 0 {
		t.Error("no app was carried over: the test compares nothing")
	}
}

func definitionKey(a *App) string {
	if a == nil {
		return ""
	}
	b, _ := json.Marshal(a)
	return string(b)
}

type appSummary struct {
	text    string
	carried bool
}

func summary(inv *Inventory) map[string]appSummary {
	out := map[string]appSummary{}
	for _, a := range inv.Apps {
		var lines []string
		for _, im := range a.Images {
			lines = append(lines, fmt.Sprintf("%s %s:%d", im.Image, im.File, im.Line))
		}
		sort.Strings(lines)
		if a.Error != "" {
			lines = append(lines, "error: "+a.Error)
		}
		out[a.Name] = appSummary{text: strings.Join(lines, "\n"), carried: a.CarriedOver}
	}
	return out
}

// seeds is how many random repositories TestCarriedOverEqualsRendered
// tries: GITOPS_GATE_CARRY_SEEDS for a longer hunt.
func seeds() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("GITOPS_GATE_CARRY_SEEDS"), &n); err != nil || n <= 0 {
		return 12
	}
	return n
}
