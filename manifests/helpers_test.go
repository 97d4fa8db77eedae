package manifests

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree creates files (path -> content) under a new temporary directory.
// Content is dedented by the indentation of its first non-empty line so that
// tests can keep YAML readable inside Go literals.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(dedent(content)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func dedent(s string) string {
	s = strings.TrimLeft(s, "\n")
	lines := strings.Split(s, "\n")
	indent := ""
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			indent = l[:len(l)-len(strings.TrimLeft(l, " \t"))]
			break
		}
	}
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, indent)
	}
	return strings.Join(lines, "\n")
}

func scan(t *testing.T, dir string, opts Options) *Inventory {
	t.Helper()
	repo, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	inv, _, err := repo.Scan(context.Background(), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func appByName(t *testing.T, inv *Inventory, name string) AppImages {
	t.Helper()
	for _, a := range inv.Apps {
		if a.Name == name {
			return a
		}
	}
	var names []string
	for _, a := range inv.Apps {
		names = append(names, a.Name)
	}
	t.Fatalf("no app %q; apps: %v", name, names)
	return AppImages{}
}
