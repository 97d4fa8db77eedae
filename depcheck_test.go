package gitopsgate_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection keeps the package boundaries of DESIGN.md:
// manifests never reaches into gate or web, and nothing under gate imports
// the HTTP or CLI frameworks.
func TestDependencyDirection(t *testing.T) {
	rules := map[string][]string{
		"./manifests/...": {"github.com/gitops-gate/gitops-gate/gate", "github.com/gitops-gate/gitops-gate/web", "github.com/spf13/cobra", "github.com/labstack/echo"},
		"./gate/...":      {"github.com/gitops-gate/gitops-gate/web", "github.com/spf13/cobra", "github.com/labstack/echo"},
	}
	for pkgs, forbidden := range rules {
		if _, err := os.Stat(strings.TrimSuffix(pkgs, "/...")); err != nil {
			continue // not created yet on this checkout
		}
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkgs).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkgs, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s depends on %s", pkgs, dep)
				}
			}
		}
	}
}
