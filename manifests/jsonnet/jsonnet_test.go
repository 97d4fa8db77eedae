package jsonnet

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestEvaluateTLAsExtVarsLibs follows makeJsonnetVM: TLAs and extVars as
// strings or code, libs relative to the repository root, the app directory
// searched for relative imports.
func TestEvaluateTLAsExtVarsLibs(t *testing.T) {
	root := tree(t, map[string]string{
		"vendor/k.libsonnet":   `{ image(name, tag):: name + ":" + tag }`,
		"app/params.libsonnet": `{ replicas: 2 }`,
		"app/main.jsonnet": `
local k = import 'k.libsonnet';
local p = import 'params.libsonnet';
function(tag, replicas=p.replicas) {
  image: k.image(std.extVar('registry') + '/app', tag),
  replicas: replicas,
  debug: std.extVar('debug'),
}`,
	})
	out, err := Evaluate(Job{
		Root: root, Dir: "app", Files: []string{"app/main.jsonnet"},
		TLAs: []Var{{Name: "tag", Value: "1.2"}, {Name: "replicas", Value: "1 + 2", Code: true}},
		Ext:  []Var{{Name: "registry", Value: "registry.example"}, {Name: "debug", Value: "true", Code: true}},
		Libs: []string{"vendor"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(strings.Fields(out[0].JSON), "")
	want := `{"debug":true,"image":"registry.example/app:1.2","replicas":3}`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestEvaluateImportEscapeRefused: an import by "../", by absolute path or
// through a symlink, and a library path outside the root, are refused even
// when the target exists; the same file inside the repository is read.
func TestEvaluateImportEscapeRefused(t *testing.T) {
	outside := tree(t, map[string]string{"secret.libsonnet": `{ image: "evil/unsigned:latest" }`})
	cases := map[string]struct {
		main string
		libs []string
	}{
		"dotdot":   {main: `import '../../` + filepath.Base(outside) + `/secret.libsonnet'`},
		"absolute": {main: `import '` + filepath.Join(outside, "secret.libsonnet") + `'`},
		"symlink":  {main: `import 'link/secret.libsonnet'`},
		"lib path": {main: `import 'secret.libsonnet'`, libs: []string{"../" + filepath.Base(outside)}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "repo")
			if err := os.MkdirAll(filepath.Join(root, "app"), 0o755); err != nil {
				t.Fatal(err)
			}
			// "../../x" from app/ reaches parent/x: put the file there too.
			if err := os.Symlink(outside, filepath.Join(parent, filepath.Base(outside))); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, filepath.Join(root, "app", "link")); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "app", "main.jsonnet"), []byte(tc.main), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Evaluate(Job{Root: root, Dir: "app", Files: []string{"app/main.jsonnet"}, Libs: tc.libs})
			if err == nil || !(errors.Is(err, ErrOutsideRepo) || strings.Contains(err.Error(), "outside the repository")) {
				t.Fatalf("err = %v, want outside the repository", err)
			}
		})
	}
	// The legitimate variant: the same import inside the repository.
	root := tree(t, map[string]string{
		"lib/secret.libsonnet": `{ image: "registry.example/app:1" }`,
		"app/main.jsonnet":     `import '../lib/secret.libsonnet'`,
	})
	out, err := Evaluate(Job{Root: root, Dir: "app", Files: []string{"app/main.jsonnet"}})
	if err != nil || !strings.Contains(out[0].JSON, "registry.example/app:1") {
		t.Fatalf("in-repository import: %v %v", out, err)
	}
}
