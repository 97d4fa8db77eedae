package policy

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: policy loading never panics on any file, and a policy it
// accepts has a name and no rule that verifies nothing.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"../../testdata/policies/*.yaml", "../../deploy/base/*.yaml", "testdata/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec:\n  rules:\n  - name: r\n    verifyImages:\n    - imageReferences: ['*']\n      attestors: [{entries: [{keyless: {issuer: i, subject: s}}]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pols, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, p := range pols {
			if p.Name == "" {
				t.Fatalf("accepted a policy without a name: %+v", p)
			}
			for _, r := range p.Rules {
				if len(r.Verify) == 0 {
					t.Fatalf("accepted rule %s of %s that verifies nothing", r.Name, p.Name)
				}
			}
			Lint(p)
		}
	})
}
