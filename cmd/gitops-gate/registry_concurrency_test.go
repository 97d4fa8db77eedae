package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckRegistryConcurrencyRange: --registry-concurrency takes what the
// service's registry.concurrency takes (1 to 1024); 0 or a negative number
// used to mean the default silently, a typo for a registry that needs a
// low limit.
func TestCheckRegistryConcurrencyRange(t *testing.T) {
	repo := t.TempDir()
	os.WriteFile(filepath.Join(repo, "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"), 0o644)
	for _, v := range []string{"0", "-1", "1025"} {
		if _, stderr, code := run(t, "check", repo, "--registry-concurrency", v); code != exitUsage || !strings.Contains(stderr, "--registry-concurrency") {
			t.Errorf("--registry-concurrency %s: exit %d, %s", v, code, stderr)
		}
	}
}
