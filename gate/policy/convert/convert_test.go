package convert

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gobwas/glob"
	yaml "go.yaml.in/yaml/v3"

	"github.com/gitops-gate/gitops-gate/gate/imageref"
	"github.com/gitops-gate/gitops-gate/gate/policy/conditions"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestGolden")

// policyFiles are every ClusterPolicy and Policy file under the
// repository's testdata/, gate/policy/testdata/ and this package's
// testdata/in/.
func policyFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	kyverno := regexp.MustCompile(`(?m)^\s*apiVersion:\s*kyverno\.io/`)
	for _, root := range []string{"../../../testdata", "../testdata", "testdata/in"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				return err
			}
			b, err := os.ReadFile(p)
			if err == nil && kyverno.Match(b) {
				out = append(out, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) < 4 {
		t.Fatalf("found %d policy files: %v", len(out), out)
	}
	return out
}

func goldenName(p string) string {
	p = strings.TrimLeft(filepath.ToSlash(p), "./")
	return filepath.Join("testdata", "golden", strings.ReplaceAll(p, "/", "_"))
}

// TestGolden converts every ClusterPolicy of the test data. The output is
// YAML of ImageValidatingPolicies at policies.kyverno.io/v1, carries every
// note as a "# convert:" comment, passes the IVPOL lints, and is what the
// golden file says (go test -run TestGolden -update rewrites them).
func TestGolden(t *testing.T) {
	for _, f := range policyFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res, err := File(filepath.Base(f), data)
			if err != nil {
				t.Fatal(err)
			}
			out, err := res.YAML()
			if err != nil {
				t.Fatal(err)
			}
			checkIVPOL(t, out)
			for _, n := range res.Notes {
				if !bytes.Contains(out, []byte("# "+CommentPrefix+n.Message)) {
					t.Errorf("note %q is not a comment in the output", n)
				}
			}
			findings, err := Lint("converted.yaml", out)
			if err != nil || len(findings) > 0 {
				t.Errorf("the converted policy fails the IVPOL lints: %v %v", err, findings)
			}
			golden := goldenName(f)
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("%s differs from the conversion (go test -run TestGolden -update rewrites it):\n%s", golden, out)
			}
		})
	}
}

// checkIVPOL parses a YAML stream of converted policies.
func checkIVPOL(t *testing.T, out []byte) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(out))
	n := 0
	for {
		var doc struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Metadata   struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
			Spec struct {
				ValidationActions    []string         `yaml:"validationActions"`
				MatchImageReferences []map[string]any `yaml:"matchImageReferences"`
				Attestors            []map[string]any `yaml:"attestors"`
				Validations          []struct {
					Expression string `yaml:"expression"`
					Message    string `yaml:"message"`
				} `yaml:"validations"`
			} `yaml:"spec"`
		}
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the output is not YAML: %v\n%s", err, out)
		}
		n++
		if doc.APIVersion != APIVersion || !slices.Contains(IVPOLKinds, doc.Kind) || doc.Metadata.Name == "" {
			t.Errorf("document %d: apiVersion %q kind %q name %q", n, doc.APIVersion, doc.Kind, doc.Metadata.Name)
		}
		if len(doc.Spec.ValidationActions) != 1 || len(doc.Spec.MatchImageReferences) == 0 || len(doc.Spec.Attestors) == 0 || len(doc.Spec.Validations) == 0 {
			t.Errorf("document %d (%s) misses validationActions, matchImageReferences, attestors or validations", n, doc.Metadata.Name)
		}
		for _, v := range doc.Spec.Validations {
			if v.Expression == "" || v.Message == "" {
				t.Errorf("document %d (%s): a validation without expression or message", n, doc.Metadata.Name)
			}
		}
	}
	if n == 0 {
		t.Fatal("no document")
	}
}

func convertString(t *testing.T, pol string) (string, *Result) {
	t.Helper()
	res, err := File("policy.yaml", []byte(pol))
	if err != nil {
		t.Fatal(err)
	}
	out, err := res.YAML()
	if err != nil {
		t.Fatal(err)
	}
	return string(out), res
}

const keylessPolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: p
spec:
  rules:
  - name: r
    match:
      any:
      - resources:
          kinds: [Pod]
    verifyImages:
    - imageReferences: ["ghcr.io/acme/*"]
      TYPE
      attestors:
      - entries:
        - keyless:
            issuer: https://token.actions.githubusercontent.com
            subject: "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/v*"
`

// TestWildcardSubjectKeepsItsMeaning: IVPOL compares subject exactly, so
// a ClusterPolicy wildcard copied as subject would deny every image (the
// mistake Kyverno's docs make). It becomes the anchored regexp that
// accepts exactly what the wildcard accepted.
func TestWildcardSubjectKeepsItsMeaning(t *testing.T) {
	out, _ := convertString(t, strings.Replace(keylessPolicy, "TYPE", "", 1))
	var doc struct {
		Spec struct {
			Attestors []struct {
				Cosign struct {
					Keyless struct {
						Identities []map[string]string `yaml:"identities"`
					} `yaml:"keyless"`
				} `yaml:"cosign"`
			} `yaml:"attestors"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	id := doc.Spec.Attestors[0].Cosign.Keyless.Identities[0]
	if id["subject"] != "" || id["subjectRegExp"] == "" || id["issuer"] != "https://token.actions.githubusercontent.com" {
		t.Fatalf("identity %v", id)
	}
	re := regexp.MustCompile(id["subjectRegExp"])
	wildcard := "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/v*"
	for _, s := range []string{
		"https://github.com/acme/web/.github/workflows/release.yml@refs/tags/v1.4.2",
		"https://github.com/acme/a/b/.github/workflows/release.yml@refs/tags/v1",
		"https://github.com/evil/acme/.github/workflows/release.yml@refs/tags/v1",
		"https://github.com/acme/web/.github/workflows/release.yml@refs/heads/main",
		"xhttps://github.com/acme/web/.github/workflows/release.yml@refs/tags/v1",
		"https://github.com/acme/web/.github/workflows/releaseXyml@refs/tags/v1",
	} {
		if got, want := re.MatchString(s), imageref.Match(wildcard, s); got != want {
			t.Errorf("%s: regexp %v, wildcard %v", s, got, want)
		}
	}
}

// TestSigstoreBundleWildcardStaysExact: with type: SigstoreBundle Kyverno
// compared subject exactly, so the wildcard never matched; the conversion
// keeps that (never weaker) and says what to write if a wildcard was meant.
func TestSigstoreBundleWildcardStaysExact(t *testing.T) {
	out, res := convertString(t, strings.Replace(keylessPolicy, "TYPE", "type: SigstoreBundle", 1))
	if !strings.Contains(out, `subject: https://github.com/acme/*/.github/workflows/release.yml@refs/tags/v*`) || regexp.MustCompile(`(?m)^\s+subjectRegExp:`).MatchString(out) {
		t.Errorf("subject not kept exact:\n%s", out)
	}
	// And policy lint says what the comment says.
	if f, _ := Lint("p.yaml", []byte(out)); len(f) != 1 || !strings.Contains(f[0].Message, "compares subject exactly") {
		t.Errorf("lint: %v", f)
	}
	if !slices.ContainsFunc(res.Notes, func(n Note) bool { return strings.Contains(n.Message, "never matched") }) {
		t.Errorf("no note says the wildcard never matched: %v", res.Notes)
	}
}

// TestGlobsCoverKyvernoSpellings: every image a ClusterPolicy pattern
// matched (in Kyverno's normalised spelling) is matched by a converted
// glob in the spelling the manifest wrote, which is what IVPOL matches.
func TestGlobsCoverKyvernoSpellings(t *testing.T) {
	patterns := []string{"docker.io/nginx*", "docker.io/library/nginx:*", "ghcr.io/acme/*", "quay.io/acme/base@*", "registry.example/app:latest", "registry.example/tools:v?", "[::1]:5000/acme/*"}
	images := []string{"nginx", "nginx:1.25", "docker.io/nginx:1.25", "library/nginx", "library/nginx:1.25", "docker.io/library/nginx",
		"ghcr.io/acme/web:1", "ghcr.io/acme/a/b@sha256:" + strings.Repeat("a", 64), "quay.io/acme/base:v1@sha256:" + strings.Repeat("b", 64),
		"quay.io/acme/base@sha256:" + strings.Repeat("b", 64), "registry.example/app", "registry.example/app:latest", "registry.example/tools:v1",
		"[::1]:5000/acme/web:1", "ghcr.io/evil/web:1", "registry.example/app:v2"}
	for _, p := range patterns {
		var gs []glob.Glob
		for _, g := range imageGlobs([]string{p}) {
			c, err := glob.Compile(g)
			if err != nil {
				t.Fatalf("%s: glob %q: %v", p, g, err)
			}
			gs = append(gs, c)
		}
		for _, img := range images {
			info, err := imageref.Parse(img)
			if err != nil {
				t.Fatal(err)
			}
			kyverno := imageref.Match(p, info.String())
			ivpol := slices.ContainsFunc(gs, func(g glob.Glob) bool { return g.Match(img) })
			if kyverno && !ivpol {
				t.Errorf("%s matched %s (as %s) in Kyverno, but no converted glob %v matches it", p, img, info.String(), imageGlobs([]string{p}))
			}
		}
	}
}

func TestConditionCEL(t *testing.T) {
	for _, c := range []struct {
		cond conditions.Condition
		want string // "" when not converted
	}{
		{conditions.Condition{Key: "{{ buildDefinition.buildType }}", Operator: "Equals", Value: "https://x/v1"}, "p.buildDefinition.buildType == 'https://x/v1'"},
		{conditions.Condition{Key: "{{runDetails.builder.id}}", Operator: "Equals", Value: "https://github.com/acme/*"}, `p.runDetails.builder.id.matches(r'^https://github\.com/acme/.*$')`},
		{conditions.Condition{Key: "{{ a.b }}", Operator: "NotEquals", Value: "x"}, "!(p.a.b == 'x')"},
		{conditions.Condition{Key: "{{ a.in }}", Operator: "Equals", Value: true}, `p.a["in"] == true`},
		{conditions.Condition{Key: "{{ a }}", Operator: "In", Value: []any{"x", "y"}}, "p.a in ['x', 'y']"},
		{conditions.Condition{Key: "{{ a }}", Operator: "Equals", Value: 3}, "p.a == 3.0"},
		{conditions.Condition{Key: "{{ a }}", Operator: "AnyIn", Value: []any{"x", "y*"}}, "(p.a in ['x'] || p.a.matches('^y.*$'))"},
		{conditions.Condition{Key: "{{ a }}", Operator: "NotIn", Value: []any{"x"}}, "(type(p.a) == list ? p.a.exists(e, !(e in ['x'])) : !(p.a in ['x']))"},
		{conditions.Condition{Key: "{{ a }}", Operator: "AllNotIn", Value: []any{"x", "y*"}}, "(type(p.a) == list ? p.a.all(e, !(e in ['x'] || e.matches('^y.*$'))) : !(p.a in ['x'] || p.a.matches('^y.*$')))"},
		{conditions.Condition{Key: "{{ a }}", Operator: "In", Value: "1-10"}, ""},
		{conditions.Condition{Key: "{{ time_since('', a, '') }}", Operator: "DurationLessThan", Value: "1h"}, ""},
		{conditions.Condition{Key: "{{ a[0] }}", Operator: "Equals", Value: "x"}, ""},
		{conditions.Condition{Key: "{{ a }}", Operator: "GreaterThan", Value: "1"}, ""},
		{conditions.Condition{Key: "{{ a }}", Operator: "Equals", Value: "{{ b }}"}, ""},
	} {
		got, guards, ok, why := conditionCEL(c.cond, "p")
		if ok && strings.Contains(fmt.Sprint(c.cond.Key), "a.in") && !slices.Equal(guards, []string{"has(p.a)", `"in" in p.a`}) {
			t.Errorf("guards %v", guards)
		}
		if c.want == "" {
			if ok || why == "" {
				t.Errorf("%v: converted to %q, want a note", c.cond, got)
			}
			continue
		}
		if !ok || got != c.want {
			t.Errorf("%v: %q (%s), want %q", c.cond, got, why, c.want)
		}
	}
}

// TestUnconvertedConditionDenies: a condition without a clear CEL
// equivalent must not disappear (the converted policy would admit what
// the original refused): its validation is false, with a comment saying
// what to rewrite.
func TestUnconvertedConditionDenies(t *testing.T) {
	data, err := os.ReadFile("testdata/in/attestations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := File("attestations.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := res.YAML()
	if !strings.Contains(string(out), "# convert: NOT CONVERTED, this validation denies until rewritten in CEL") ||
		!strings.Contains(string(out), "expression: \"false\"") || !strings.Contains(string(out), "time_since") {
		t.Errorf("the time_since condition is not a denying validation with a comment:\n%s", out)
	}
}

func TestNothingToConvert(t *testing.T) {
	_, err := File("p.yaml", []byte(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: only-validate}
spec:
  rules:
  - name: labels
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {message: x, pattern: {metadata: {labels: {app: "?*"}}}}
`))
	if !errors.Is(err, ErrNothingToConvert) {
		t.Errorf("got %v, want ErrNothingToConvert", err)
	}
	if _, err := File("p.yaml", []byte("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    verifyImages:\n    - imageReferences: ['*']\n      attestors: [{entries: [{keyless: {}}]}]\n")); err == nil || !strings.Contains(err.Error(), "p.yaml:") {
		t.Errorf("a policy the gate refuses converted: %v", err)
	}
}

// TestExplicitKindsWhenIVPOLWouldNotAutogen: IVPOL auto-generates only for
// one plain rule on pods; otherwise every kind the ClusterPolicy's
// auto-generation covered is listed, so no controller is dropped.
func TestExplicitKindsWhenIVPOLWouldNotAutogen(t *testing.T) {
	pol := strings.Replace(strings.Replace(keylessPolicy, "TYPE", "", 1), "kinds: [Pod]", "kinds: [v1/Pod]", 1)
	out, res := convertString(t, pol)
	for _, want := range []string{"resources: [pods, replicationcontrollers]", "resources: [daemonsets, deployments, statefulsets, replicasets]", "resources: [jobs, cronjobs]"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "autogen:") || !slices.ContainsFunc(res.Notes, func(n Note) bool { return strings.Contains(n.Message, "ReplicationController itself") }) {
		t.Errorf("autogen written, or no note on ReplicationController: %v", res.Notes)
	}
}
