package manifests

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
)

// TestParallelListingIsTheSequentialWalk: discovery lists the tree in
// parallel and classifies the listing afterwards; for random trees with
// the layouts that make classification tricky (hidden directories, a
// Chart.yaml inside a kustomization or below one, a kustomization next to
// plain manifests, symlinked and unreadable directories, Jsonnet-only
// directories, names that sort differently component by component such as
// a-b and a/b, Applications in plain files and charts), the layout and the
// apps, their order and their #2 suffixes, are exactly those of the
// sequential walk discovery did before (kept here as the reference).
func TestParallelListingIsTheSequentialWalk(t *testing.T) {
	ctx := context.Background()
	for seed := uint64(1); seed <= 8; seed++ {
		dir := t.TempDir()
		randomLayoutTree(t, dir, rand.New(rand.NewPCG(seed, seed*31)))
		r, err := Open(dir, Options{Concurrency: 3})
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.scanLayout(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := &layout{usedByKustomize: map[string]bool{}, mentionsApplication: map[string]bool{}}
		if err := r.sequentialWalk(dir2root(r), want); err != nil {
			t.Fatal(err)
		}
		got.kustomizationFiles = nil
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: parallel listing\n%+v\nsequential walk\n%+v", seed, got, want)
		}
		t.Logf("seed %d: %d layout apps, %d kustomizations", seed, len(got.apps(r)), len(got.kustomizations))
		if g, w := appList(got.apps(r)), appList(want.apps(r)); g != w {
			t.Fatalf("seed %d: apps\n%s\nwant\n%s", seed, g, w)
		}
		// Discovery as a whole (uniqueNames, Applications) on the same tree.
		apps, err := r.Discover(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r2, _ := Open(dir, Options{Concurrency: 1})
		apps2, err := r2.Discover(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := appList(apps), appList(apps2); g != w {
			t.Fatalf("seed %d: discovery depends on its parallelism:\n%s\nwant\n%s", seed, g, w)
		}
	}
}

func dir2root(r *Repo) string { return r.root }

func appList(apps []App) string {
	var b strings.Builder
	for _, a := range apps {
		fmt.Fprintf(&b, "%s %s %s\n", a.Name, a.Path, a.Kind)
	}
	return b.String()
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
func (r *Repo) sequentialWalk(dir string, lay *layout) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	names := make(map[string]fs.DirEntry, len(entries))
	for _, e := range entries {
		names[e.Name()] = e
	}
	if e, ok := names["Chart.yaml"]; ok && !e.IsDir() {
		lay.charts = append(lay.charts, dir)
		if r.dirMentions(dir, true) {
			lay.mentionsApplication[r.rel(dir)] = true
		}
		return nil
	}
	isKust := false
	for _, n := range kustomizationFileNames {
		if e, ok := names[n]; ok && !e.IsDir() {
			isKust = true
			lay.kustomizations = append(lay.kustomizations, dir)
			sequentialKustomizeUses(filepath.Join(dir, n), lay.usedByKustomize)
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
			if err := r.sequentialWalk(p, lay); err != nil {
				return err
			}
			continue
		}
		switch {
		case filepath.Ext(name) == ".jsonnet":
			jsonnet = true
		case isManifestFile(name):
			data, _ := os.ReadFile(p)
			if mentionsApp.Match(data) {
				if isKust {
					lay.mentionsApplication[r.rel(dir)] = true
				} else {
					lay.applicationFiles = append(lay.applicationFiles, p)
				}
			}
			plain = plain || (!isKust && looksKubernetes.Match(data))
		}
	}
	if plain {
		lay.plainDirs = append(lay.plainDirs, dir)
	}
	if jsonnet && !plain && !isKust {
		lay.jsonnetDirs = append(lay.jsonnetDirs, dir)
	}
	return nil
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
		seq := mapGet(doc.Content[0], f)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for _, n := range seq.Content {
			s, ok := scalarString(n)
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
	r, err := Open(dir, Options{Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
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
