package layout

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/gitops-gate/gitops-gate/manifests/model"
	"github.com/gitops-gate/gitops-gate/manifests/tree"
)

func scanOptions(dir string, concurrency int) Options {
	return Options{Concurrency: concurrency, ReadFile: os.ReadFile,
		Rel: func(p string) string { r, _ := filepath.Rel(dir, p); return filepath.ToSlash(r) }}
}

// TestParallelListingIsTheSequentialWalk: discovery lists the tree in
// parallel and classifies the listing afterwards; for random trees with
// the layouts that make classification tricky (hidden directories, a
// Chart.yaml inside a kustomization or below one, a kustomization next to
// plain manifests, symlinked and unreadable directories, Jsonnet-only
// directories, names that sort differently component by component such as
// a-b and a/b, Applications in plain files and charts), the layout is
// exactly that of the sequential walk discovery did before (920dfbb, kept
// here as the reference), whatever the parallelism.
func TestParallelListingIsTheSequentialWalk(t *testing.T) {
	ctx := context.Background()
	for seed := uint64(1); seed <= 8; seed++ {
		dir := t.TempDir()
		randomLayoutTree(t, dir, rand.New(rand.NewPCG(seed, seed*31)))
		o := scanOptions(dir, 3)
		want := &Layout{UsedByKustomize: map[string]bool{}, MentionsApplication: map[string]bool{}}
		(&scanner{o: o, root: dir}).sequentialWalk(dir, want)
		for _, conc := range []int{1, 3, 8} {
			got, err := Scan(ctx, dir, scanOptions(dir, conc))
			if err != nil {
				t.Fatal(err)
			}
			got.KustomizationFiles = nil
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d, concurrency %d: parallel listing\n%+v\nsequential walk\n%+v", seed, conc, got, want)
			}
		}
	}
}

// randomLayoutTree writes a random repository of tricky layouts into dir.
func randomLayoutTree(t *testing.T, dir string, rnd *rand.Rand) {
	t.Helper()
	names := []string{"a", "a-b", "a.b", "a_b", "b", "A", "z", ".hidden", "charts", "base", "x y"}
	const deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: {containers: [{name: c, image: nginx:1}]}}}\n"
	const application = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: app}\nspec: {source: {path: a}, destination: {namespace: x}}\n"
	write := func(rel, content string) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var dirs []string
	var walk func(prefix string, depth int)
	walk = func(prefix string, depth int) {
		for _, n := range names {
			if rnd.IntN(4) != 0 {
				continue
			}
			d := prefix + n
			dirs = append(dirs, d)
			switch rnd.IntN(9) {
			case 0:
				write(d+"/deployment.yaml", deployment)
			case 1:
				write(d+"/kustomization.yaml", "resources:\n- deployment.yaml\n")
				write(d+"/deployment.yaml", deployment)
			case 2:
				write(d+"/Chart.yaml", "apiVersion: v2\nname: c\nversion: 0.1.0\n")
				write(d+"/templates/deployment.yaml", deployment)
				if rnd.IntN(2) == 0 {
					write(d+"/templates/app.yaml", application)
				}
			case 3:
				write(d+"/main.jsonnet", "{}\n")
			case 4:
				write(d+"/apps.yaml", application)
			case 5:
				write(d+"/kustomization.yaml", "resources:\n- ../base\n- app.yaml\n")
				write(d+"/app.yaml", application)
			case 6:
				write(d+"/README.md", "notes\n")
				write(d+"/notes.yaml", "key: value\n")
			case 7:
				write(d+"/Kustomization", "resources: [../a]\ncomponents: [../a-b]\n")
				write(d+"/Chart.yaml", "apiVersion: v2\nname: c\nversion: 0.1.0\n")
			}
			if depth < 3 {
				walk(d+"/", depth+1)
			}
		}
	}
	walk("", 0)
	write("deployment.yaml", deployment)
	for i := 0; i < 3 && len(dirs) > 0; i++ {
		target := dirs[rnd.IntN(len(dirs))]
		link := filepath.Join(dir, fmt.Sprintf("link%d", i))
		if rnd.IntN(2) == 0 {
			link = filepath.Join(dir, filepath.FromSlash(dirs[rnd.IntN(len(dirs))]), fmt.Sprintf("link%d", i))
		}
		_ = os.MkdirAll(filepath.Dir(link), 0o755)
		_ = os.Symlink(filepath.Join(dir, filepath.FromSlash(target)), link)
	}
	if len(dirs) > 0 && rnd.IntN(2) == 0 {
		locked := filepath.Join(dir, filepath.FromSlash(dirs[rnd.IntN(len(dirs))]))
		if err := os.Chmod(locked, 0); err == nil {
			t.Cleanup(func() { os.Chmod(locked, 0o755) })
		}
	}
}

// sequentialWalk is discovery's walk as it was before the listing was
// parallel (920dfbb): the reference the parallel listing must equal.
func (r *scanner) sequentialWalk(dir string, lay *Layout) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	names := make(map[string]fs.DirEntry, len(entries))
	for _, e := range entries {
		names[e.Name()] = e
	}
	if e, ok := names["Chart.yaml"]; ok && !e.IsDir() {
		lay.Charts = append(lay.Charts, dir)
		if r.dirMentions(dir, true) {
			lay.MentionsApplication[r.o.Rel(dir)] = true
		}
		return
	}
	isKust := false
	for _, n := range tree.KustomizationFileNames {
		if e, ok := names[n]; ok && !e.IsDir() {
			isKust = true
			lay.Kustomizations = append(lay.Kustomizations, dir)
			sequentialKustomizeUses(filepath.Join(dir, n), lay.UsedByKustomize)
			break
		}
	}
	plain, jsonnet := false, false
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(dir, name)
		if strings.HasPrefix(name, ".") {
			continue
		}
		if e.IsDir() {
			r.sequentialWalk(p, lay)
			continue
		}
		switch {
		case filepath.Ext(name) == ".jsonnet":
			jsonnet = true
		case tree.IsManifestFile(name):
			data, _ := os.ReadFile(p)
			if mentionsApp.Match(data) {
				if isKust {
					lay.MentionsApplication[r.o.Rel(dir)] = true
				} else {
					lay.ApplicationFiles = append(lay.ApplicationFiles, p)
				}
			}
			plain = plain || (!isKust && looksKubernetes.Match(data))
		}
	}
	if plain {
		lay.PlainDirs = append(lay.PlainDirs, dir)
	}
	if jsonnet && !plain && !isKust {
		lay.JsonnetDirs = append(lay.JsonnetDirs, dir)
	}
}

func sequentialKustomizeUses(kfile string, used map[string]bool) {
	data, err := os.ReadFile(kfile)
	if err != nil {
		return
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return
	}
	dir := filepath.Dir(kfile)
	for _, f := range []string{"resources", "bases", "components", "crds"} {
		seq := model.MapGet(doc.Content[0], f)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for _, n := range seq.Content {
			s, ok := model.ScalarString(n)
			if !ok {
				continue
			}
			p := filepath.Join(dir, filepath.FromSlash(s))
			if st, err := os.Stat(p); err == nil {
				if st.IsDir() {
					used[p] = true
				} else {
					used[filepath.Dir(p)+string(filepath.Separator)+"*"] = true
				}
			}
		}
	}
}

// TestListingHoldsBoundedGoroutines: the parallel listing started a
// goroutine for every subdirectory as soon as its parent was listed, each
// waiting for a slot: a pull request adding thousands of directories side
// by side held thousands of goroutines and their stacks at once (the
// sequential walk held none). At most the slots' worth run.
func TestListingHoldsBoundedGoroutines(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 1500; i++ {
		d := filepath.Join(dir, fmt.Sprintf("d%04d", i))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := &scanner{o: scanOptions(dir, 2), root: dir}
	base := runtime.NumGoroutine()
	var peak atomic.Int64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-done:
				return
			default:
			}
			if n := int64(runtime.NumGoroutine() - base); n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	root, err := r.listTree(context.Background())
	close(done)
	<-sampled
	if err != nil || len(root.children) != 1500 {
		t.Fatalf("listed %d directories, err %v", len(root.children), err)
	}
	if p := peak.Load(); p > 100 {
		t.Errorf("%d goroutines at once while listing 1,500 directories", p)
	}
}
