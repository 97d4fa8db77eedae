package gate_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/incremental"
	"github.com/gitops-gate/gitops-gate/gate/trust"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// incrementalWorld is a registry with signed images, a repository of plain
// apps and an engine that judges them.
type incrementalWorld struct {
	*env
	dir, policyPath string
}

func newIncrementalWorld(t *testing.T) *incrementalWorld {
	e := newEnv(t)
	for _, repoTag := range []string{"acme/a:v1", "acme/b:v1", "acme/b:v2", "acme/c:v1", "acme/d:v1"} {
		e.sign(e.push(repoTag), gatetest.SignOptions{})
	}
	w := &incrementalWorld{env: e, dir: t.TempDir(), policyPath: filepath.Join(t.TempDir(), "policy.yaml")}
	w.writePolicy(acmePolicy)
	for _, app := range []string{"a", "b", "c"} {
		w.write("apps/"+app+"/deployment.yaml", w.deployment(app, "acme/"+app+":v1"))
	}
	return w
}

func (w *incrementalWorld) writePolicy(doc string) {
	doc = strings.ReplaceAll(strings.ReplaceAll(doc, "REGISTRY", w.w.Registry.Host), "MUTATE", "false")
	doc = strings.Replace(doc, "verifyDigest: true", "verifyDigest: false", 1)
	if err := os.WriteFile(w.policyPath, []byte(doc), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func (w *incrementalWorld) write(rel, content string) {
	p := filepath.Join(w.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func (w *incrementalWorld) deployment(name, repoTag string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name + "}\nspec:\n  template:\n    spec:\n      containers:\n      - name: main\n        image: " +
		w.w.Ref(repoTag) + "\n"
}

func (w *incrementalWorld) engine() *gate.Engine {
	w.t.Helper()
	eng, err := gate.NewEngine(gate.Config{PolicyPaths: []string{w.policyPath}, Trust: trust.Source{TrustedRootPath: w.w.TrustedRootPath},
		Registry: w.ropts, Cache: newOutcomeCache()})
	if err != nil {
		w.t.Fatal(err)
	}
	return eng
}

func (w *incrementalWorld) check(eng *gate.Engine, mo manifests.Options, inc gate.Incremental) (*gate.Report, *incremental.Record) {
	w.t.Helper()
	rep, rec, err := eng.CheckIncremental(w.ctx, w.dir, gate.CheckOptions{Manifests: mo}, inc)
	if err != nil {
		w.t.Fatal(err)
	}
	return rep, rec
}

func appNames(rep *gate.Report) map[string]bool {
	out := map[string]bool{}
	for _, a := range rep.Apps {
		out[a.Name] = a.CarriedOver
	}
	return out
}

// withoutMarks is a report's JSON without what says how it was rendered.
func withoutMarks(t *testing.T, rep *gate.Report) []byte {
	t.Helper()
	c := *rep
	c.Rendering = nil
	c.Apps = append([]gate.AppVerdict(nil), rep.Apps...)
	for i := range c.Apps {
		c.Apps[i].CarriedOver = false
	}
	b, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIncrementalCarriesOverUnchangedApps: unchanged apps are carried over
// and marked so in the report; a changed app and a new one are rendered; a
// deleted one disappears; the verdict equals a full evaluation's.
func TestIncrementalCarriesOverUnchangedApps(t *testing.T) {
	w := newIncrementalWorld(t)
	eng := w.engine()
	rep, rec := w.check(eng, manifests.Options{}, gate.Incremental{})
	if r := rep.Rendering; r == nil || r.Mode != gate.RenderFull || r.Rendered != 3 || r.CarriedOver != 0 || !strings.Contains(r.Reason, "no earlier evaluation") {
		t.Fatalf("first evaluation: rendering %+v", rep.Rendering)
	}
	if rep.Result != gate.StatusPass {
		t.Fatalf("first evaluation: %s %+v", rep.Result, rep.Summary)
	}

	w.write("apps/b/deployment.yaml", w.deployment("b", "acme/b:v2"))    // changed
	if err := os.RemoveAll(filepath.Join(w.dir, "apps/c")); err != nil { // deleted
		t.Fatal(err)
	}
	w.write("apps/d/deployment.yaml", w.deployment("d", "acme/d:v1")) // new
	rep, _ = w.check(eng, manifests.Options{}, gate.Incremental{Base: rec, BaseName: "base-eval", BaseCommit: "abc"})
	want := map[string]bool{"apps/a": true, "apps/b": false, "apps/d": false}
	if got := appNames(rep); len(got) != len(want) || got["apps/a"] != true || got["apps/b"] || got["apps/d"] {
		t.Errorf("apps (name: carried over) = %v, want %v", got, want)
	}
	if r := rep.Rendering; r == nil || r.Mode != gate.RenderIncremental || r.Rendered != 2 || r.CarriedOver != 1 || r.Base != "base-eval" || r.BaseCommit != "abc" {
		t.Errorf("rendering %+v", rep.Rendering)
	}
	b, _ := json.Marshal(rep)
	if !bytes.Contains(b, []byte(`"carriedOver":true`)) || !bytes.Contains(b, []byte(`"rendering":{"mode":"incremental","rendered":2,"carriedOver":1`)) {
		t.Errorf("report JSON does not say what was carried over: %s", b)
	}
	full, _ := w.check(eng, manifests.Options{}, gate.Incremental{Full: true})
	if got, want := withoutMarks(t, rep), withoutMarks(t, full); !bytes.Equal(got, want) {
		t.Errorf("incremental report differs from the full one:\n%s\nfull:\n%s", got, want)
	}
	if full.Rendering.Mode != gate.RenderFull || full.Rendering.Reason != "a full render was asked for" || full.Rendering.CarriedOver != 0 {
		t.Errorf("--full: rendering %+v", full.Rendering)
	}
}

// TestCarriedOverTagsResolvedAgain: a carried-over app's image is judged
// again, so a tag moved to an unsigned image since the base is caught.
func TestCarriedOverTagsResolvedAgain(t *testing.T) {
	w := newIncrementalWorld(t)
	eng := w.engine()
	_, rec := w.check(eng, manifests.Options{}, gate.Incremental{})
	// acme/a:v1 now names an unsigned image; no file of the repository changed.
	w.push("acme/a:v1")
	rep, _ := w.check(eng, manifests.Options{}, gate.Incremental{Base: rec})
	if rep.Rendering.CarriedOver != 3 {
		t.Fatalf("nothing changed in the repository, yet rendering %+v", rep.Rendering)
	}
	for _, a := range rep.Apps {
		if a.Name != "apps/a" {
			continue
		}
		if !a.CarriedOver || len(a.Images) != 1 || a.Images[0].Status != gate.StatusFail || !strings.Contains(a.Images[0].Reason, "no signatures found") {
			t.Errorf("carried-over app whose tag moved to an unsigned image: %+v", a)
		}
	}
	if rep.Result != gate.StatusFail {
		t.Errorf("result %s, want fail", rep.Result)
	}
}

// TestChangedPolicyForcesFullRender: a base recorded under other policies
// (or other rendering settings, or with --full) is not used at all.
func TestChangedPolicyForcesFullRender(t *testing.T) {
	w := newIncrementalWorld(t)
	_, rec := w.check(w.engine(), manifests.Options{}, gate.Incremental{})
	rep, _ := w.check(w.engine(), manifests.Options{}, gate.Incremental{Base: rec})
	if rep.Rendering.CarriedOver != 3 {
		t.Fatalf("same engine, same repository: rendering %+v", rep.Rendering)
	}

	// The same policy with one more rule: the policy digest changes.
	w.writePolicy(acmePolicy + `  - name: another
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["other.example/*"]
      attestors:
      - entries:
        - keyless: {issuer: "https://token.actions.githubusercontent.com", subject: "https://github.com/acme/*"}
`)
	rep, _ = w.check(w.engine(), manifests.Options{}, gate.Incremental{Base: rec})
	if r := rep.Rendering; r.Mode != gate.RenderFull || r.CarriedOver != 0 || r.Rendered != 3 || !strings.Contains(r.Reason, "the policies changed") {
		t.Errorf("changed policy: rendering %+v", r)
	}
	for _, a := range rep.Apps {
		if a.CarriedOver {
			t.Errorf("app %s carried over across a policy change", a.Name)
		}
	}

	// Rendering settings: another Kubernetes version for charts.
	w.writePolicy(acmePolicy)
	rep, _ = w.check(w.engine(), manifests.Options{KubeVersion: "v1.29.0"}, gate.Incremental{Base: rec})
	if r := rep.Rendering; r.Mode != gate.RenderFull || r.CarriedOver != 0 || !strings.Contains(r.Reason, "the rendering settings changed") {
		t.Errorf("changed rendering settings: rendering %+v", r)
	}
}

// labelledPolicy verifies only the images of objects labelled tier: web,
// and requires a replica count of at most 3: both read the object.
const labelledPolicy = `
apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata: {name: web-tier}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["deployments"]
  matchConditions:
  - name: web
    expression: "object.metadata.?labels.?tier.orValue('') == 'web'"
  matchImageReferences:
  - glob: "REGISTRY/*"
  validationConfigurations: {mutateDigest: false, verifyDigest: false}
  attestors:
  - name: acme
    cosign:
      keyless:
        identities: [{issuer: "https://token.actions.githubusercontent.com", subjectRegExp: "^https://github\\.com/acme/"}]
  validations:
  - expression: "images.containers.map(image, verifyImageSignatures(image, [attestors.acme])).all(e, e > 0)"
    message: "not signed by acme"
  - expression: "object.spec.?replicas.orValue(1) <= 3"
    message: "at most 3 replicas"
`

// TestPoliciesThatReadObjectsCarryObjectsOver: under a policy that reads
// the rendered objects (matchConditions, CEL), an unchanged app is carried
// over with the objects its record kept, and judged on them exactly as if
// rendered again; a record without objects is not used for it.
func TestPoliciesThatReadObjectsCarryObjectsOver(t *testing.T) {
	w := newIncrementalWorld(t)
	w.writePolicy(labelledPolicy)
	labelled := func(name, repoTag, tier string, replicas int) string {
		return fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: %s, labels: {tier: %q}}\nspec:\n  replicas: %d\n  template:\n    spec:\n      containers:\n      - name: main\n        image: %s\n",
			name, tier, replicas, w.w.Ref(repoTag))
	}
	w.push("acme/unsigned:v1")
	w.write("apps/a/deployment.yaml", labelled("a", "acme/a:v1", "web", 2))          // verified, passes
	w.write("apps/b/deployment.yaml", labelled("b", "acme/unsigned:v1", "web", 2))   // verified, fails
	w.write("apps/c/deployment.yaml", labelled("c", "acme/unsigned:v1", "batch", 2)) // not matched
	w.write("apps/d/deployment.yaml", labelled("d", "acme/d:v1", "web", 5))          // fails the validation
	eng := w.engine()
	full, rec := w.check(eng, manifests.Options{}, gate.Incremental{})
	inc, rec2 := w.check(eng, manifests.Options{}, gate.Incremental{Base: rec})
	if r := inc.Rendering; r.Mode != gate.RenderIncremental || r.CarriedOver != 4 {
		t.Fatalf("rendering %+v", r)
	}
	if got, want := withoutMarks(t, inc), withoutMarks(t, full); !bytes.Equal(got, want) {
		t.Errorf("carried over under an object-reading policy, the verdict differs from a full one:\n%s\n---\n%s", got, want)
	}
	if full.Summary.Failed != 2 || full.Summary.Unmatched != 1 {
		t.Errorf("full verdict %+v: want b and d failed, c unmatched", full.Summary)
	}
	// Carried over again from a carried-over record: the objects travel on.
	inc2, _ := w.check(eng, manifests.Options{}, gate.Incremental{Base: rec2})
	if got, want := withoutMarks(t, inc2), withoutMarks(t, full); inc2.Rendering.CarriedOver != 4 || !bytes.Equal(got, want) {
		t.Errorf("second carry-over: rendering %+v, verdict differs: %v", inc2.Rendering, !bytes.Equal(got, want))
	}
	// A label change re-renders that app: c is now verified and fails.
	w.write("apps/c/deployment.yaml", labelled("c", "acme/unsigned:v1", "web", 2))
	inc3, _ := w.check(eng, manifests.Options{}, gate.Incremental{Base: rec2})
	if inc3.Rendering.Rendered != 1 || inc3.Summary.Failed != 3 {
		t.Errorf("after relabelling c: rendering %+v, summary %+v", inc3.Rendering, inc3.Summary)
	}
	// A record made without objects (as under a ClusterPolicy) carries
	// nothing over under this policy.
	for i := range rec.Apps {
		rec.Apps[i].Objects, rec.Apps[i].ObjectsRecorded = nil, false
	}
	inc4, _ := w.check(eng, manifests.Options{}, gate.Incremental{Base: rec})
	if inc4.Rendering.CarriedOver != 0 {
		t.Errorf("a record without objects was used: %+v", inc4.Rendering)
	}
}

// TestPrefetchAsksOnlyAboutVerifiedImages: an incremental evaluation
// resolves its base's images while it scans, but never asks a registry
// about an image no rule would verify (skipped, or matched by no rule),
// and the verdict is the one a full evaluation gives.
func TestPrefetchAsksOnlyAboutVerifiedImages(t *testing.T) {
	w := newIncrementalWorld(t)
	w.push("scratch/s:v1")
	w.write("apps/s/deployment.yaml", w.deployment("s", "scratch/s:v1"))
	// A registry no rule names: not one request may reach it.
	other := gatetest.NewRegistry()
	defer other.Close()
	w.write("apps/u/deployment.yaml", strings.Replace(w.deployment("u", "acme/a:v1"), w.w.Registry.Host, other.Host, 1))
	var mu sync.Mutex
	var asked []string
	w.w.Registry.Log = func(l string) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, l)
	}
	eng := w.engine()
	full, rec := w.check(eng, manifests.Options{}, gate.Incremental{})
	// acme/b's app is removed in the pull request: its image is a likely
	// one (from the base) and costs one request; it must not appear.
	if err := os.RemoveAll(filepath.Join(w.dir, "apps/b")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	asked = nil
	mu.Unlock()
	other.ResetRequests()
	rep, _ := w.check(eng, manifests.Options{}, gate.Incremental{Base: rec})
	if n := other.Requests(); n != 0 {
		t.Errorf("%d requests to a registry no rule names", n)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, l := range asked {
		if strings.Contains(l, "/scratch/") {
			t.Errorf("asked the registry about a skipped image: %s", l)
		}
	}
	if rep.Rendering.CarriedOver != 4 || len(rep.Apps) != 4 {
		t.Fatalf("rendering %+v, apps %v", rep.Rendering, appNames(rep))
	}
	for _, a := range rep.Apps {
		if a.Name == "apps/b" {
			t.Errorf("a deleted app is reported: %+v", a)
		}
	}
	if full.Result != rep.Result || full.Summary.Skipped != rep.Summary.Skipped || full.Summary.Unmatched != rep.Summary.Unmatched {
		t.Errorf("incremental %s %+v, full %s %+v", rep.Result, rep.Summary, full.Result, full.Summary)
	}
}

// TestWarmResolvesBeforeTheCheckout: Warm starts resolving the base's
// images before the checkout exists; the check that follows uses them and
// reports exactly what a check without Warm reports. Close after the check
// (or twice) does nothing; Close without a check releases the work.
func TestWarmResolvesBeforeTheCheckout(t *testing.T) {
	w := newIncrementalWorld(t)
	eng := w.engine()
	_, rec := w.check(eng, manifests.Options{}, gate.Incremental{})
	want, _ := w.check(eng, manifests.Options{}, gate.Incremental{Base: rec})

	w.w.Registry.ResetRequests()
	inc := gate.Incremental{Base: rec}
	eng.Warm(w.ctx, &inc)
	deadline := time.Now().Add(5 * time.Second)
	for w.w.Registry.Requests() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := w.w.Registry.Requests(); n < 3 {
		t.Fatalf("%d registry requests before the check: the base's 3 tags were not resolved ahead", n)
	}
	got, _ := w.check(eng, manifests.Options{}, inc)
	inc.Close()
	inc.Close()
	if a, b := withoutMarks(t, got), withoutMarks(t, want); !bytes.Equal(a, b) || got.Rendering.CarriedOver != want.Rendering.CarriedOver {
		t.Errorf("warmed check differs:\n%s\n---\n%s", a, b)
	}

	unused := gate.Incremental{Base: rec}
	eng.Warm(w.ctx, &unused)
	unused.Close() // returns once the resolutions under way stop
	// A check given a released warm-up begins afresh.
	again, _ := w.check(eng, manifests.Options{}, unused)
	if a, b := withoutMarks(t, again), withoutMarks(t, want); !bytes.Equal(a, b) {
		t.Errorf("check after an unused warm-up was released differs:\n%s\n---\n%s", a, b)
	}
}

// TestBaseRecordIsNeverModified: evaluations only read their base record,
// so the service may hand one decoded record to several evaluations at
// once (gate/service records.go). Concurrent evaluations from one base,
// some apps carried over and some rendered, under a policy that reads the
// recorded objects, leave the record as it was encoded (run with -race).
func TestBaseRecordIsNeverModified(t *testing.T) {
	for _, pol := range []struct{ name, doc string }{{"ClusterPolicy", acmePolicy}, {"objects", labelledPolicy}} {
		t.Run(pol.name, func(t *testing.T) {
			w := newIncrementalWorld(t)
			w.writePolicy(pol.doc)
			labelled := func(name, repoTag string) string {
				return fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: %s, labels: {tier: web}}\nspec:\n  template:\n    spec:\n      containers:\n      - name: main\n        image: %s\n      - name: side\n        image: %s\n",
					name, w.w.Ref(repoTag), w.w.Ref("acme/c:v1"))
			}
			w.push("acme/unsigned:v1")
			for _, app := range []string{"a", "b", "c"} {
				w.write("apps/"+app+"/deployment.yaml", labelled(app, "acme/"+app+":v1"))
			}
			w.write("apps/u/deployment.yaml", labelled("u", "acme/unsigned:v1"))
			eng := w.engine()
			_, base := w.check(eng, manifests.Options{}, gate.Incremental{})
			before, err := incremental.Encode(base)
			if err != nil {
				t.Fatal(err)
			}
			w.write("apps/b/deployment.yaml", labelled("b", "acme/b:v2"))
			var wg sync.WaitGroup
			for range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rep, _, err := eng.CheckIncremental(w.ctx, w.dir, gate.CheckOptions{Manifests: manifests.Options{}}, gate.Incremental{Base: base})
					if err != nil {
						t.Error(err)
						return
					}
					for i := range rep.Apps { // what a caller may do with its report
						a := &rep.Apps[i]
						a.Images = append(a.Images, gate.ImageVerdict{})
						for j := range a.Images {
							a.Images[j].Reason, a.Images[j].File = "x", "y"
						}
						a.Warnings = append(a.Warnings, manifests.Warning{Message: "x"})
					}
				}()
			}
			wg.Wait()
			after, err := incremental.Encode(base)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("evaluations changed their base record")
			}
		})
	}
}
