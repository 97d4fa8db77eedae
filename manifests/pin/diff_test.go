package pin

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestUnifiedDiffAppliesWithGit: what `pin --dry-run` and the pull request
// comment print is a patch git takes, CRLF files and missing final
// newlines included.
func TestUnifiedDiffAppliesWithGit(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed (make test installs it)")
	}
	for name, c := range map[string]struct{ old, new string }{
		"last line":     {"a: 1\nimage: x:v1\n", "a: 1\nimage: x:v1@sha256:00\n"},
		"first line":    {"image: x:v1\na: 1\nb: 2\n", "image: x@sha256:00\na: 1\nb: 2\n"},
		"crlf":          {"a: 1\r\nimage: x:v1\r\nb: 2\r\n", "a: 1\r\nimage: x:v1@sha256:00\r\nb: 2\r\n"},
		"no final eol":  {"a: 1\nimage: x:v1", "a: 1\nimage: x:v1@sha256:00"},
		"inserted line": {"images:\n- name: x\n  newTag: v1\nother: 1\n", "images:\n- name: x\n  newTag: v1\n  digest: sha256:00\nother: 1\n"},
		"two far hunks": {"image: a:1\n1\n2\n3\n4\n5\n6\n7\n8\nimage: b:1\n", "image: a:1@sha256:0a\n1\n2\n3\n4\n5\n6\n7\n8\nimage: b:1@sha256:0b\n"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "apps", "x.yaml")
			os.MkdirAll(filepath.Dir(file), 0o755)
			os.WriteFile(file, []byte(c.old), 0o644)
			patch := filepath.Join(dir, "pins.diff")
			os.WriteFile(patch, []byte(UnifiedDiff("apps/x.yaml", []byte(c.old), []byte(c.new))), 0o644)
			cmd := exec.Command(git, "apply", "--whitespace=nowarn", patch)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("git apply: %v\n%s\npatch:\n%s", err, out, UnifiedDiff("apps/x.yaml", []byte(c.old), []byte(c.new)))
			}
			if got, _ := os.ReadFile(file); string(got) != c.new {
				t.Errorf("applied: %q, want %q", got, c.new)
			}
		})
	}
}
