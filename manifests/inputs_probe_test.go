package manifests

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProbeOnCaseInsensitiveFileSystem: on a case-insensitive file system
// (macOS, Windows, a casefolded Linux directory) a renderer's probe for
// "Kustomization" finds the file "kustomization", and the input recorded
// at render time (os.Stat) says so. An incremental check answered from
// discovery's listing, which holds only the exact spelling, said the name
// was absent: a base that gained "KUSTOMIZATION" (or a Kelvin-sign
// spelling, which casefolding turns into a "k") next to a probe recorded
// absent would be carried over unrendered, while rendering it now finds
// the file. Every spelling a lookup could alias is asked of the disk; a
// plain name the listing does not hold, in a directory of plain names, is
// still answered from the listing.
func TestProbeOnCaseInsensitiveFileSystem(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"base/KUSTOMIZATION", "base/deploy.yaml", "odd/\u212Austomization.yml", "odd/deploy.yaml", "plain/kustomization.yaml", "plain/deploy.yaml"}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("kind: Deployment\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Discover(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The disk, as a case-insensitive file system answers: a name is
	// found under any spelling that folds to the same.
	asked := map[string]bool{}
	r.inputs.stat = func(abs string) string {
		asked[abs] = true
		entries, _ := os.ReadDir(filepath.Dir(abs))
		for _, e := range entries {
			if strings.EqualFold(e.Name(), filepath.Base(abs)) {
				return statHash(filepath.Join(filepath.Dir(abs), e.Name()))
			}
		}
		return ""
	}
	for rel, want := range map[string]string{
		"base/Kustomization":       "file",
		"base/kustomization":       "file",
		"odd/kustomization.yml":    "file",
		"plain/Kustomization":      "",
		"plain/kustomization.yml":  "",
		"plain/kustomization.yaml": "file",
	} {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if got := r.inputs.currentStatHash(p); got != want {
			t.Errorf("%s: answered %q, the file system finds %q", rel, got, want)
		}
	}
	for _, rel := range []string{"plain/Kustomization", "plain/kustomization.yml", "plain/kustomization.yaml"} {
		if asked[filepath.Join(dir, filepath.FromSlash(rel))] {
			t.Errorf("%s: asked of the disk; the listing answers a plain name", rel)
		}
	}
}

// TestProbesAgreeWithStatOnRandomTrees: for random trees (files,
// directories, hidden ones and Helm charts that discovery does not list
// into, names of unusual spellings, symlinks in, out, dangling, to the
// root and to a parent, named pipes), every probe an incremental check
// answers, from discovery's listing or not, says what os.Stat says (what
// a render records), and every listing hash what reading the directory
// says: of any path in the tree, absent names beside them, other
// spellings of them, the root and paths through symlinks.
func TestProbesAgreeWithStatOnRandomTrees(t *testing.T) {
	names := []string{"kustomization.yaml", "Kustomization", "kustomization.yml", "a.yaml", ".hidden", ".argocd-source.yaml",
		"Chart.yaml", "templates", "sub", "SUB", "x y", "caf\u00e9.yaml", "cafe\u0301.yaml", "k~1", "dot.", "values.yaml", "-", "a:b"}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(25) {
		rng := rand.New(rand.NewPCG(seed, 7))
		dir, err := filepath.EvalSymlinks(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		var paths, dirs []string // repository-relative
		dirs = append(dirs, ".")
		var grow func(rel string, depth int)
		grow = func(rel string, depth int) {
			for range 2 + rng.IntN(5) {
				name := names[rng.IntN(len(names))]
				childRel := filepath.Join(rel, name)
				p := filepath.Join(dir, childRel)
				if _, err := os.Lstat(p); err == nil {
					continue
				}
				var err error
				switch k := rng.IntN(10); {
				case k < 4:
					err = os.WriteFile(p, []byte("apiVersion: v1\nkind: ConfigMap\n"), 0o644)
				case k < 7 && depth < 3:
					if err = os.Mkdir(p, 0o755); err == nil {
						dirs = append(dirs, childRel)
						grow(childRel, depth+1)
					}
				case k == 7:
					targets := []string{"a.yaml", "sub", "..", "nope", outside, filepath.Join(outside, "f"), dir, filepath.Join(dir, "sub"), "../../.."}
					err = os.Symlink(targets[rng.IntN(len(targets))], p)
				case k == 8:
					err = mkfifo(p)
				default:
					err = os.WriteFile(p, nil, 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
				paths = append(paths, childRel)
			}
		}
		grow(".", 0)
		r, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Discover(t.Context()); err != nil {
			t.Fatal(err)
		}
		probes := append([]string{".", ""}, paths...)
		for _, d := range dirs {
			for _, n := range names {
				probes = append(probes, filepath.Join(d, n), filepath.Join(d, strings.ToUpper(n)), filepath.Join(d, n, "x"))
			}
		}
		for _, p := range paths {
			probes = append(probes, p+"/", p+"/.", filepath.Join(p, "a.yaml"), filepath.Join(p, "f"), filepath.Join(p, "..", filepath.Base(p)))
		}
		for _, rel := range probes {
			abs, err := r.abs(filepath.ToSlash(rel))
			if err != nil {
				continue // climbs out: an input never has such a path
			}
			abs = filepath.Clean(abs)
			if got, want := r.inputs.currentStatHash(abs), statHash(abs); got != want {
				t.Errorf("seed %d: probe %q: the check answers %q, os.Stat says %q", seed, rel, got, want)
			}
		}
		for _, d := range append(dirs, paths...) {
			abs := filepath.Join(dir, d)
			want, werr := listingHashUncached(abs)
			got, gerr := r.inputs.currentListingHash(abs)
			if got != want || fmt.Sprint(gerr) != fmt.Sprint(werr) {
				t.Errorf("seed %d: listing %q: the check answers %q, %v; reading it says %q, %v", seed, d, got, gerr, want, werr)
			}
		}
	}
}
