package gitopsgate_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/gitops-gate/gitops-gate"

// TestDependencyDirection keeps the package boundaries of DESIGN.md. Our own
// boundaries hold transitively: manifests never reaches gate or web, gate
// never reaches web. Frameworks are checked on our packages' direct imports
// (a library we depend on may use cobra itself): nothing under manifests or
// gate imports cobra or echo.
func TestDependencyDirection(t *testing.T) {
	rules := []struct {
		pkgs       string
		transitive []string // our packages, forbidden anywhere below
		direct     []string // frameworks, forbidden in our packages' imports
	}{
		{"./manifests/...", []string{module + "/gate", module + "/web", module + "/cmd"}, []string{"github.com/spf13/cobra", "github.com/labstack/echo"}},
		{"./gate/...", []string{module + "/web", module + "/cmd"}, []string{"github.com/spf13/cobra", "github.com/labstack/echo"}},
		// ApplicationSet expansion and Jsonnet evaluation read only what they
		// are given: no network, and no way back into manifests.
		{"./manifests/appset/...", []string{module + "/gate", module + "/web", module + "/cmd"}, []string{"net", module + "/manifests"}},
		{"./manifests/jsonnet/...", []string{module + "/gate", module + "/web", module + "/cmd"}, []string{"net", module + "/manifests"}},
	}
	for _, r := range rules {
		if _, err := os.Stat(strings.TrimSuffix(r.pkgs, "/...")); err != nil {
			continue // not created yet on this checkout
		}
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", r.pkgs).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", r.pkgs, err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue
			}
			pkg := fields[0]
			for _, f := range r.transitive {
				if pkg == f || strings.HasPrefix(pkg, f+"/") {
					t.Errorf("%s depends on %s", r.pkgs, pkg)
				}
			}
			if !strings.HasPrefix(pkg, module) {
				continue
			}
			for _, imp := range fields[1:] {
				for _, f := range r.direct {
					if imp == f || strings.HasPrefix(imp, f+"/") {
						t.Errorf("%s imports %s", pkg, imp)
					}
				}
			}
		}
	}
}
