package convert

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/registry"
	"github.com/gitops-gate/gitops-gate/gate/trust"
	"github.com/gitops-gate/gitops-gate/testdata"
)

// ivpolLoader is the package that makes gate.NewEngine read
// ImageValidatingPolicy files (issue 16 items 1–5, built on another
// branch). TestRoundTrip runs as soon as it exists; nothing else needs to
// change, unless that package is reached another way than by
// gate.Config.PolicyPaths, in which case newConvertedEngine is the one
// line to change.
const ivpolLoader = "../ivpol"

// newConvertedEngine builds the engine that evaluates the converted
// policies.
var newConvertedEngine = gate.NewEngine

// roundTripPolicies are ClusterPolicies over the demo world (its images
// signed by acme's release workflows, one by an evil fork, one unsigned
// and pinned), each converted and evaluated beside the original: the seed's
// policy, and variants of it that exercise regexps, counts, digests,
// audit and skips. (type: SigstoreBundle is left out on purpose: IVPOL
// also reads classic signatures, a difference the converter comments on.)
func roundTripPolicies(t *testing.T) map[string]string {
	seed := string(testdata.DemoPolicy)
	replace := func(s string, pairs ...string) string {
		t.Helper()
		for i := 0; i < len(pairs); i += 2 {
			if !strings.Contains(s, pairs[i]) {
				t.Fatalf("%q is not in the demo policy", pairs[i])
			}
			s = strings.Replace(s, pairs[i], pairs[i+1], 1)
		}
		return s
	}
	return map[string]string{
		"seed": seed,
		"regexp-and-count": replace(seed,
			`subject: "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*"`,
			`subjectRegExp: '^https://github\.com/acme/web/\.github/workflows/release\.yml@refs/tags/'
                - keyless:
                    issuer: https://token.actions.githubusercontent.com
                    subject: "https://github.com/acme/api/.github/workflows/release.yml@refs/tags/v3.0.1"`,
			"          attestors:\n            - entries:", "          attestors:\n            - count: 1\n              entries:"),
		"digest-required": replace(seed, "mutateDigest: true", "mutateDigest: false"),
		"audit":           replace(seed, "validationFailureAction: Enforce", "validationFailureAction: Audit", "mutateDigest: true", "mutateDigest: false"),
		"skip": replace(seed, `imageReferences: ["REGISTRY/demo/*"]`, `imageReferences: ["REGISTRY/demo/*"]
          skipImageReferences: ["REGISTRY/demo/cleanup*"]`),
	}
}

// TestRoundTrip: for every policy, `policy convert` then evaluate gives
// the verdicts the original gives, image by image, on the same world.
func TestRoundTrip(t *testing.T) {
	if _, err := os.Stat(ivpolLoader); err != nil {
		t.Skip("TODO(issue 16): the round trip needs the ImageValidatingPolicy loader (gate/policy/ivpol), not on this branch; it runs once that package exists")
	}
	for name, pol := range roundTripPolicies(t) {
		t.Run(name, func(t *testing.T) {
			d, err := gatetest.NewDemoFS(t.Context(), t.TempDir(), testdata.DemoRepo(), []byte(pol))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(d.World.Close)
			res, err := Files(d.PolicyPath)
			if err != nil {
				t.Fatal(err)
			}
			out, err := res.YAML()
			if err != nil {
				t.Fatal(err)
			}
			converted := filepath.Join(t.TempDir(), "ivpol.yaml")
			if err := os.WriteFile(converted, out, 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := gate.Config{Trust: trust.Source{TrustedRootPath: d.World.TrustedRootPath}, Registry: registry.Options{}}
			verdicts := func(newEngine func(gate.Config) (*gate.Engine, error), path string) (map[string]string, gate.Status) {
				t.Helper()
				c := cfg
				c.PolicyPaths = []string{path}
				eng, err := newEngine(c)
				if err != nil {
					t.Fatalf("%s: %v\n%s", path, err, out)
				}
				rep, err := eng.Check(t.Context(), d.RepoDir, gate.CheckOptions{})
				if err != nil {
					t.Fatal(err)
				}
				v := map[string]string{}
				for _, a := range rep.Apps {
					for _, im := range a.Images {
						st := im.Status
						if st == gate.StatusSkipped {
							// An IVPOL has no skipImageReferences: the
							// converted matchImageReferences leaves the
							// image unmatched, which passes it alike
							// (unverified, failed by --require-match).
							st = gate.StatusUnmatched
						}
						v[fmt.Sprintf("%s %s %s", a.Name, im.Resource, im.Image)] = string(st)
					}
				}
				return v, rep.Result
			}
			want, wantResult := verdicts(gate.NewEngine, d.PolicyPath)
			got, gotResult := verdicts(newConvertedEngine, converted)
			if len(want) == 0 {
				t.Fatal("the demo judged no image")
			}
			var diff []string
			for k, w := range want {
				if got[k] != w {
					diff = append(diff, fmt.Sprintf("%s: original %s, converted %s", k, w, got[k]))
				}
			}
			for k, g := range got {
				if _, ok := want[k]; !ok {
					diff = append(diff, fmt.Sprintf("%s: only in the converted evaluation (%s)", k, g))
				}
			}
			sort.Strings(diff)
			if len(diff) > 0 || gotResult != wantResult {
				t.Errorf("result %s, converted %s; verdicts differ:\n%s\nconverted policy:\n%s", wantResult, gotResult, strings.Join(diff, "\n"), out)
			}
		})
	}
}
