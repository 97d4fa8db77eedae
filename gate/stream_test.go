package gate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/registry"
	"github.com/gitops-gate/gitops-gate/gate/trust"
	"github.com/gitops-gate/gitops-gate/gate/verify"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// streamTaskIVPOL verifies Tekton steps through an images[] extractor,
// matched through matchConstraints and a matchCondition on the object.
const streamTaskIVPOL = `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata: {name: signed-steps}
spec:
  matchConstraints:
    resourceRules:
      - {apiGroups: ["tekton.dev"], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["tasks"]}
  matchConditions:
    - name: not-experimental
      expression: "!has(object.metadata.labels) || !has(object.metadata.labels.experimental)"
  images:
    - name: steps
      expression: "object.spec.steps.map(s, s.image)"
  matchImageReferences:
    - glob: "REGISTRY/*"
  attestors:
    - name: release
      cosign:
        keyless:
          identities:
            - issuer: https://token.actions.githubusercontent.com
              subject: https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0
  validations:
    - expression: "images.steps.all(i, verifyImageSignatures(i, [attestors.release]) > 0)"
      message: a step image is not signed
`

// streamPodIVPOL judges Pods labelled prod (matchConditions on the
// object), through the Pod templates of Deployments and CronJobs.
const streamPodIVPOL = `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata: {name: prod-pods}
spec:
  matchConstraints:
    resourceRules:
      - {apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}
  matchConditions:
    - name: prod
      expression: "has(object.metadata.labels) && has(object.metadata.labels.prod) && object.metadata.labels.prod == 'true'"
  matchImageReferences:
    - glob: "REGISTRY/*"
  attestors:
    - name: release
      cosign:
        keyless:
          identities:
            - issuer: https://token.actions.githubusercontent.com
              subject: https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0
  validations:
    - expression: "images.containers.all(i, verifyImageSignatures(i, [attestors.release]) > 0)"
      message: a prod image is not signed
`

// TestStreamedCheckEqualsAllAtOnce: judging each app's images as soon as
// the app is rendered gives the report, byte for byte, that judging the
// whole inventory at once gives — under a ClusterPolicy, an IVPOL whose
// images[] extractor adds images, and an IVPOL that matches on the objects
// (matchConstraints, matchConditions), over apps that repeat images, fail
// to render, hold no image, come from an ApplicationSet, Helm or Kustomize;
// and the apps' order is not the order they finish in.
func TestStreamedCheckEqualsAllAtOnce(t *testing.T) {
	e := newEnv(t)
	w := e.ivpolWorld()
	good, unsigned, other := w.good.Context().Tag("v1").String(), w.unsigned.Context().Tag("v1").String(), w.other.String()
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	deployment := func(name, image string, prod bool) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name + ", namespace: shop}\nspec:\n  template:\n    metadata: {labels: {prod: \"" +
			map[bool]string{true: "true", false: "false"}[prod] + "\"}}\n    spec:\n      containers:\n      - {name: main, image: " + image + "}\n"
	}
	task := func(name string, experimental bool, images ...string) string {
		s := "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: " + name + "\n  namespace: ci\n"
		if experimental {
			s += "  labels: {experimental: \"yes\"}\n"
		}
		s += "spec:\n  steps:\n"
		for i, img := range images {
			s += "  - {name: s" + string(rune('a'+i)) + ", image: " + img + "}\n"
		}
		return s
	}
	// Plain apps; the same images in several apps, in several kinds.
	for i, img := range []string{good, unsigned, good, other, unsigned} {
		n := string(rune('a' + i))
		write("apps/"+n+"/deployment.yaml", deployment(n, img, i%2 == 0))
		write("apps/"+n+"/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p"+n+", labels: {prod: \"true\"}}\nspec:\n  containers:\n  - {name: c, image: "+img+"}\n")
	}
	write("ci/build/task.yaml", task("build", false, good, unsigned))
	write("ci/again/task.yaml", task("again", false, unsigned, good, other))
	write("ci/lab/task.yaml", task("lab", true, unsigned))
	write("broken/deployment.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x\n")
	write("empty/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {image: "+unsigned+"}\n")
	write("kust/base/kustomization.yaml", "resources: [deployment.yaml]\n")
	write("kust/base/deployment.yaml", deployment("k", good, true))
	write("kust/overlay/kustomization.yaml", "resources: [../base]\nimages:\n- name: "+w.good.Context().String()+"\n  newName: "+w.unsigned.Context().String()+"\n")
	write("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n")
	write("charts/web/values.yaml", "image: "+good+"\n")
	write("charts/web/templates/deployment.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: '{{ .Release.Name }}'}\nspec:\n  template:\n    metadata: {labels: {prod: \"true\"}}\n    spec:\n      containers:\n      - {name: web, image: '{{ .Values.image }}'}\n")
	write("argocd/appset.yaml", `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: web, namespace: argocd}
spec:
  generators:
  - list:
      elements:
      - {name: one, image: `+good+`}
      - {name: two, image: `+unsigned+`}
  template:
    metadata: {name: 'web-{{name}}'}
    spec:
      project: default
      source:
        repoURL: https://example.com/acme/gitops.git
        path: charts/web
        helm:
          parameters:
          - {name: image, value: '{{image}}'}
      destination: {server: https://kubernetes.default.svc, namespace: web}
`)

	policies := t.TempDir()
	for name, doc := range map[string]string{"cluster.yaml": strings.Replace(acmePolicy, "MUTATE", "false", 1), "tasks.yaml": streamTaskIVPOL, "pods.yaml": streamPodIVPOL} {
		doc = strings.ReplaceAll(doc, "REGISTRY", e.w.Registry.Host)
		doc = strings.Replace(doc, "verifyDigest: true", "verifyDigest: false", 1)
		if err := os.WriteFile(filepath.Join(policies, name), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, paths := range [][]string{
		{filepath.Join(policies, "cluster.yaml")},
		{filepath.Join(policies, "tasks.yaml")},
		{filepath.Join(policies, "pods.yaml")},
		{policies},
	} {
		eng, err := gate.NewEngine(gate.Config{PolicyPaths: paths, Trust: trust.Source{TrustedRootPath: e.w.TrustedRootPath},
			Registry: e.ropts, Cache: newOutcomeCache()})
		if err != nil {
			t.Fatal(err)
		}
		for _, conc := range []int{1, 4} {
			mo := manifests.Options{Concurrency: conc}
			want, err := eng.CheckAllAtOnce(e.ctx, dir, gate.CheckOptions{Manifests: mo})
			if err != nil {
				t.Fatal(err)
			}
			got, err := eng.Check(e.ctx, dir, gate.CheckOptions{Manifests: mo})
			if err != nil {
				t.Fatal(err)
			}
			g, wnt := reportJSON(t, got), reportJSON(t, want)
			if !bytes.Equal(g, wnt) {
				t.Fatalf("policies %v, concurrency %d: streamed report differs from all-at-once:\n%s", paths, conc, firstLineDiff(g, wnt))
			}
			if got.Result == gate.StatusPass || got.Summary.Images < 15 {
				t.Fatalf("policies %v: the fixture proves nothing: %s %+v", paths, got.Result, got.Summary)
			}
			// Incremental, from a record of the same tree: carried over
			// where the policies allow, the same verdict.
			_, rec, err := eng.CheckIncremental(e.ctx, dir, gate.CheckOptions{Manifests: mo}, gate.Incremental{})
			if err != nil {
				t.Fatal(err)
			}
			inc, _, err := eng.CheckIncremental(e.ctx, dir, gate.CheckOptions{Manifests: mo}, gate.Incremental{Base: rec})
			if err != nil {
				t.Fatal(err)
			}
			if g := withoutMarks(t, inc); !bytes.Equal(g, withoutMarks(t, want)) {
				t.Fatalf("policies %v, concurrency %d: incremental report differs from all-at-once:\n%s", paths, conc, firstLineDiff(g, withoutMarks(t, want)))
			}
		}
	}
}

func reportJSON(t *testing.T, rep *gate.Report) []byte {
	t.Helper()
	b, err := json.MarshalIndent(rep, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firstLineDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			lo := max(0, i-10)
			return fmt.Sprintf("line %d", i) + "\n got:  " + a + "\n want: " + b + "\ncontext (want):\n" + strings.Join(w[lo:min(len(w), i+3)], "\n")
		}
	}
	return "(none)"
}

// TestJudgingHoldsBoundedGoroutines: images are handed to the judge while
// apps still render, and every occurrence used to get its own goroutine
// the moment it arrived, waiting for a judging slot: a pull request with
// tens of thousands of images behind a slow registry (or one slow image
// ahead of them) held as many goroutines and their stacks at once, where
// the evaluation before held one per slot. Judging is bounded again, and
// still never blocks the renderer that hands an app over.
func TestJudgingHoldsBoundedGoroutines(t *testing.T) {
	e := newEnv(t)
	pols := e.policy(acmePolicy, false)
	e.w.Registry.SetFaults(gatetest.Faults{Latency: 400 * time.Millisecond})
	// The first images are under the policy, on a slow registry: they hold
	// every slot. The thousands after them match no rule and are judged in
	// microseconds once a slot is free.
	var images []string
	for i := 0; i < 4; i++ {
		images = append(images, fmt.Sprintf("%s/acme/slow%d:v1", e.w.Registry.Host, i))
	}
	for i := 0; i < 6000; i++ {
		images = append(images, fmt.Sprintf("other.example/team/svc%d:v1", i))
		images = append(images, "other.example/team/svc0:v1") // a repeat
	}
	base := runtime.NumGoroutine()
	var peak atomic.Int64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
				if n := int64(runtime.NumGoroutine() - base); n > peak.Load() {
					peak.Store(n)
				}
			}
		}
	}()
	rep := e.evaluate(pols, images, func(o *gate.Options, _ *verify.Options) { o.Concurrency = 4 })
	close(done)
	<-sampled
	if rep.Summary.Images != len(images) || rep.Summary.Unmatched != 12000 {
		t.Fatalf("summary %+v", rep.Summary)
	}
	// Slots, the registry's connections and the sampler: far from 12,000.
	if p := peak.Load(); p > 500 {
		t.Errorf("%d goroutines at once while judging %d images with 4 slots", p, len(images))
	}
}

// TestPrefetchHoldsBoundedGoroutines: resolving a base's images ahead
// started a goroutine per image at once, waiting for a slot; a base of
// thousands of images behind a slow registry held thousands. At most the
// slots' worth run, and cancelling the evaluation stops the rest.
func TestPrefetchHoldsBoundedGoroutines(t *testing.T) {
	e := newEnv(t)
	pols := e.policy(acmePolicy, false)
	e.w.Registry.SetFaults(gatetest.Faults{Latency: 300 * time.Millisecond})
	e.ropts.PerRegistry = 8
	res, err := registry.New(e.ropts)
	if err != nil {
		t.Fatal(err)
	}
	ver, err := verify.New(verify.Options{Trusted: e.tr, Registry: res})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := gate.New(gate.Options{Policies: pols, Resolver: res, Verifier: ver})
	if err != nil {
		t.Fatal(err)
	}
	var images []string
	for i := 0; i < 1500; i++ {
		images = append(images, fmt.Sprintf("%s/acme/p%d:v1", e.w.Registry.Host, i))
	}
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(e.ctx)
	wait := ev.Prefetch(ctx, images)
	peak := 0
	for i := 0; i < 20; i++ {
		peak = max(peak, runtime.NumGoroutine()-base)
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wait()
	if peak > 300 {
		t.Errorf("%d goroutines at once while resolving %d images ahead", peak, len(images))
	}
}

// countingTransport counts the requests in flight.
type countingTransport struct {
	next     http.RoundTripper
	inFlight atomic.Int64
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	return c.next.RoundTrip(req)
}

// TestNoAppsLeavesNothingRunning: a pull request that removes every app
// is an error (ErrNoApps); the base's images being resolved ahead were
// left running after the evaluation had returned. Nothing it started
// outlives it.
func TestNoAppsLeavesNothingRunning(t *testing.T) {
	w := newIncrementalWorld(t)
	for i := 0; i < 200; i++ {
		w.write(fmt.Sprintf("apps/many/d%d.yaml", i), w.deployment(fmt.Sprintf("m%d", i), fmt.Sprintf("acme/m%d:v1", i)))
	}
	ct := &countingTransport{next: http.DefaultTransport}
	w.ropts.Transport = ct
	eng := w.engine()
	_, rec := w.check(eng, manifests.Options{}, gate.Incremental{})
	if err := os.RemoveAll(filepath.Join(w.dir, "apps")); err != nil {
		t.Fatal(err)
	}
	w.write("README.md", "nothing here\n")
	w.w.Registry.SetFaults(gatetest.Faults{Latency: 2 * time.Second})
	_, _, err := eng.CheckIncremental(w.ctx, w.dir, gate.CheckOptions{}, gate.Incremental{Base: rec})
	if !errors.Is(err, gate.ErrNoApps) {
		t.Fatalf("err %v, want ErrNoApps", err)
	}
	if n := ct.inFlight.Load(); n != 0 {
		t.Errorf("%d registry requests still in flight after the evaluation returned", n)
	}
}
