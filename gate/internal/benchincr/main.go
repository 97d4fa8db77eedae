// Command benchincr measures incremental evaluation at monorepo scale, the
// way issue 19 states its targets: a synthetic repository of many apps
// (Kustomize overlays on shared bases, plus Helm charts used by many
// Applications with their value files outside the chart), N unique signed
// digests, a registry answering every request after a fixed latency.
//
// It prints one full cold evaluation (time and peak RSS), then two pull
// requests, one touching one overlay and one touching a base shared by
// many overlays, each evaluated incrementally from the previous record and,
// beside it, fully re-rendered (both warm: the verification cache is full).
// The measured evaluations run in a child process so that its peak RSS is
// the evaluation's, not the fixture registry's or the signer's.
//
//	go run ./gate/internal/benchincr -apps 5000 -digests 2000 -latency 20ms
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sync/errgroup"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/cache"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/incremental"
	"github.com/gitops-gate/gitops-gate/gate/registry"
	"github.com/gitops-gate/gitops-gate/gate/trust"
	"github.com/gitops-gate/gitops-gate/gate/verify"
	"github.com/gitops-gate/gitops-gate/manifests"
)

type params struct {
	CPUProfile, ColdProfile, WarmProfile   string
	PRProfile, Trace                       string
	Quick, IVPOL                           bool
	Runs                                   int
	Apps, Digests, Bases, Charts, HelmApps int
	RegistryConcurrency                    int
	Latency                                time.Duration
	Dir, Policy, TrustedRoot               string
	Images                                 []string
}

func main() {
	var p params
	flag.IntVar(&p.Apps, "apps", 5000, "apps in the repository")
	flag.IntVar(&p.Digests, "digests", 2000, "unique signed digests")
	flag.IntVar(&p.Bases, "bases", 90, "Kustomize bases the overlays share (4,500 overlays on 90 bases: 50 apps per base, as issue 19 states)")
	flag.IntVar(&p.Charts, "charts", 10, "Helm charts the Helm apps share")
	flag.IntVar(&p.HelmApps, "helm-apps", 500, "apps (Argo CD Applications) that render a chart")
	flag.IntVar(&p.RegistryConcurrency, "registry-concurrency", 0, "requests in flight to the registry at most (0: the gate's default)")
	flag.DurationVar(&p.Latency, "latency", 20*time.Millisecond, "latency of every registry request")
	flag.StringVar(&p.CPUProfile, "cpuprofile", "", "write a CPU profile of the scan of the unchanged repository (incremental) to this file")
	flag.StringVar(&p.ColdProfile, "cpuprofile-cold", "", "write a CPU profile of the full cold evaluation to this file")
	flag.StringVar(&p.WarmProfile, "cpuprofile-warm", "", "write a CPU profile of five incremental evaluations of the unchanged repository to this file")
	flag.StringVar(&p.PRProfile, "cpuprofile-pr", "", "write a CPU profile of five incremental evaluations of the shared-base pull request to this file")
	flag.StringVar(&p.Trace, "trace", "", "write an execution trace of the shared-base pull request's incremental evaluation to this file")
	flag.BoolVar(&p.IVPOL, "ivpol", false, "judge with an ImageValidatingPolicy (rules that read the rendered objects) instead of the ClusterPolicy")
	flag.IntVar(&p.Runs, "runs", 5, "how many times each incremental evaluation runs (the median is printed, with the best and the worst)")
	flag.BoolVar(&p.Quick, "quick", false, "stop after the unchanged repository's incremental evaluation (for profiling)")
	child := flag.String("child", "", "internal: run the measured evaluations with the parameters in this file")
	flag.Parse()
	var err error
	if *child != "" {
		err = measure(*child)
	} else {
		err = setup(p)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchincr:", err)
		os.Exit(1)
	}
}

const policyDoc = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: bench}
spec:
  rules:
  - name: signed
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["REGISTRY/*"]
      attestors:
      - entries:
        - keyless:
            issuer: https://token.actions.githubusercontent.com
            subject: "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*"
`

// ivpolDoc is policyDoc as an ImageValidatingPolicy: its match and CEL read
// the rendered objects, so carried-over apps are judged on recorded ones.
const ivpolDoc = `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata: {name: bench}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["pods"]
  matchImageReferences:
  - glob: "REGISTRY/*"
  validationConfigurations: {mutateDigest: false, verifyDigest: false}
  attestors:
  - name: acme
    cosign:
      keyless:
        identities:
        - issuer: https://token.actions.githubusercontent.com
          subjectRegExp: "^https://github[.]com/acme/[^/]+/[.]github/workflows/release[.]yml@refs/tags/"
  validations:
  - expression: "images.containers.map(image, verifyImageSignatures(image, [attestors.acme])).all(e, e > 0)"
    message: not signed by acme's release workflow
`

// setup pushes and signs the images, writes the repository, and runs the
// measurements in a child process while the registry serves it.
func setup(p params) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "gitops-gate-benchincr-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	w, err := gatetest.NewWorldIn(dir)
	if err != nil {
		return err
	}
	defer w.Close()
	start := time.Now()
	if p.Images, err = w.PushSigned(ctx, p.Digests, 40); err != nil {
		return err
	}
	fmt.Printf("setup: %d images pushed and signed in %v\n", p.Digests, time.Since(start).Round(time.Millisecond))
	p.Dir = filepath.Join(dir, "repo")
	start = time.Now()
	if err := writeRepo(p); err != nil {
		return err
	}
	fmt.Printf("setup: repository of %d apps (%d overlays on %d bases, %d Applications of %d charts) written in %v\n",
		p.Apps, p.Apps-p.HelmApps, p.Bases, p.HelmApps, p.Charts, time.Since(start).Round(time.Millisecond))
	p.Policy = filepath.Join(dir, "policy.yaml")
	doc := policyDoc
	if p.IVPOL {
		doc = ivpolDoc
	}
	if err := os.WriteFile(p.Policy, []byte(strings.ReplaceAll(doc, "REGISTRY", w.Registry.Host)), 0o644); err != nil {
		return err
	}
	p.TrustedRoot = w.TrustedRootPath
	w.Registry.SetFaults(gatetest.Faults{Latency: p.Latency})
	pf := filepath.Join(dir, "params.json")
	b, _ := json.Marshal(p)
	if err := os.WriteFile(pf, b, 0o644); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, "-child", pf)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// repoURL is the URL the Applications name and the scan is told is this
// repository's.
const repoURL = "https://github.com/acme/bench-gitops.git"

func writeRepo(p params) error {
	write := func(rel, content string) error {
		full := filepath.Join(p.Dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		return os.WriteFile(full, []byte(content), 0o644)
	}
	for b := 0; b < p.Bases; b++ {
		if err := write(fmt.Sprintf("bases/b%03d/kustomization.yaml", b), "resources:\n- deployment.yaml\n- service.yaml\n"); err != nil {
			return err
		}
		if err := write(fmt.Sprintf("bases/b%03d/deployment.yaml", b), baseDeployment(b, "")); err != nil {
			return err
		}
		if err := write(fmt.Sprintf("bases/b%03d/service.yaml", b), fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-%03d\nspec:\n  selector: {app: b%03d}\n  ports:\n  - port: 80\n", b, b)); err != nil {
			return err
		}
	}
	overlays := p.Apps - p.HelmApps
	for o := 0; o < overlays; o++ {
		if err := write(fmt.Sprintf("overlays/o%04d/kustomization.yaml", o), overlay(p, o, o)); err != nil {
			return err
		}
	}
	for c := 0; c < p.Charts; c++ {
		if err := write(fmt.Sprintf("charts/c%02d/Chart.yaml", c), fmt.Sprintf("apiVersion: v2\nname: c%02d\nversion: 1.0.0\n", c)); err != nil {
			return err
		}
		if err := write(fmt.Sprintf("charts/c%02d/values.yaml", c), "image: none\nreplicas: 1\n"); err != nil {
			return err
		}
		if err := write(fmt.Sprintf("charts/c%02d/templates/deployment.yaml", c), chartTemplate); err != nil {
			return err
		}
	}
	for h := 0; h < p.HelmApps; h++ {
		name := fmt.Sprintf("h%04d", h)
		if err := write("values/"+name+".yaml", fmt.Sprintf("image: %s\n", p.Images[(overlays+h)%len(p.Images)])); err != nil {
			return err
		}
		if err := write("argocd/"+name+".yaml", fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: %s, namespace: argocd}
spec:
  project: default
  destination: {server: https://kubernetes.default.svc, namespace: %[1]s}
  source:
    repoURL: %s
    path: charts/c%02d
    helm:
      valueFiles: [../../values/%[1]s.yaml]
`, name, repoURL, h%p.Charts)); err != nil {
			return err
		}
	}
	return nil
}

func baseDeployment(b int, extra string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%03[1]d
  labels: {app: b%03[1]d}
spec:
  replicas: 2
  selector:
    matchLabels: {app: b%03[1]d}
  template:
    metadata:
      labels: {app: b%03[1]d%[2]s}
    spec:
      containers:
      - name: app
        image: placeholder/app
        ports:
        - containerPort: 8080
`, b, extra)
}

// overlay points overlay o at base o%Bases and at signed image i.
func overlay(p params, o, i int) string {
	img := p.Images[i%len(p.Images)]
	name, tag, _ := strings.Cut(img[strings.LastIndex(img, "/"):], ":")
	name = img[:strings.LastIndex(img, "/")] + name
	return fmt.Sprintf("namePrefix: o%04d-\nnamespace: team-%d\nresources:\n- ../../bases/b%03d\nimages:\n- name: placeholder/app\n  newName: %s\n  newTag: %s\n",
		o, o%20, o%p.Bases, name, tag)
}

const chartTemplate = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
      - name: app
        image: {{ .Values.image }}
`

// measure runs in the child process, with the gitops-gate binary's GC
// settings (GOGC=400, a 1 GiB soft memory limit; cmd/gitops-gate tuneGC).
func measure(paramsFile string) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
	ctx := context.Background()
	b, err := os.ReadFile(paramsFile)
	if err != nil {
		return err
	}
	var p params
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	eng, err := gate.NewEngine(gate.Config{PolicyPaths: []string{p.Policy}, Trust: trust.Source{TrustedRootPath: p.TrustedRoot},
		Registry: registry.Options{PerRegistry: p.RegistryConcurrency}, Cache: cache.NewMemory[verify.Outcome](50_000)})
	if err != nil {
		return err
	}
	mo := manifests.Options{RepoURL: repoURL}
	run := func(label string, inc gate.Incremental) (*gate.Report, *incremental.Record, time.Duration, error) {
		// An incremental evaluation is repeated (from the same base, so
		// each does the same work): one run on a shared 2-core machine
		// says little about the next. The best and the median are printed.
		runs := 1
		if inc.Base != nil {
			runs = max(p.Runs, 1)
		}
		var rep *gate.Report
		var rec *incremental.Record
		var times []time.Duration
		for range runs {
			start := time.Now()
			r, rc, err := eng.CheckIncremental(ctx, p.Dir, gate.CheckOptions{Manifests: mo}, inc)
			d := time.Since(start)
			if err != nil {
				return nil, nil, d, fmt.Errorf("%s: %w", label, err)
			}
			if r.Result != gate.StatusPass {
				return nil, nil, d, fmt.Errorf("%s: result %s, %+v (first app error: %s)", label, r.Result, r.Summary, firstError(r))
			}
			rep, rec, times = r, rc, append(times, d)
		}
		slices.Sort(times)
		d := times[len(times)/2]
		spread := ""
		if runs > 1 {
			spread = fmt.Sprintf("  (median of %d; best %v, worst %v)", runs, times[0].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
		}
		fmt.Printf("%-52s %8v  %5d apps rendered, %5d carried over, %5d images%s\n", label, d.Round(time.Millisecond),
			rep.Rendering.Rendered, rep.Rendering.CarriedOver, rep.Summary.Images, spread)
		if inc.Base != nil {
			// The same scan alone: how much of it is discovery, hashing
			// and rendering rather than judging images.
			if p.CPUProfile != "" {
				f, err := os.Create(p.CPUProfile)
				if err != nil {
					return nil, nil, d, err
				}
				pprof.StartCPUProfile(f)
				defer func() { pprof.StopCPUProfile(); f.Close(); p.CPUProfile = "" }()
			}
			start := time.Now()
			repo, err := manifests.Open(p.Dir, mo)
			if err != nil {
				return nil, nil, d, err
			}
			plan := incremental.NewPlanner(incremental.Options{Base: inc.Base, Fingerprint: eng.Fingerprint(mo)})
			if _, _, err := repo.Scan(ctx, manifests.ScanOptions{Reuse: func(a manifests.App) (manifests.AppImages, bool) { return plan.Reuse(a, repo) }}); err != nil {
				return nil, nil, d, err
			}
			fmt.Printf("%-52s %8v\n", "  of which discovery, input checks and rendering", time.Since(start).Round(time.Millisecond))
		}
		return rep, rec, d, nil
	}
	fmt.Printf("repository: %d apps, %d unique signed digests, registry latency %v, registry concurrency %s, GOMAXPROCS %d, load average %s\n",
		p.Apps, p.Digests, p.Latency, orDefault(p.RegistryConcurrency), runtime.GOMAXPROCS(0), loadAverage())
	if p.ColdProfile != "" {
		f, err := os.Create(p.ColdProfile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
	}
	_, rec, _, err := run("full, cold (empty verification cache)", gate.Incremental{Full: true})
	if p.ColdProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	fmt.Printf("%-52s %8s\n", "  peak RSS after the cold evaluation", peakRSS())
	// What the service adds to each evaluation: storing its record, and
	// reading the base's back before the next one.
	start := time.Now()
	data, err := incremental.Encode(rec)
	if err != nil {
		return err
	}
	enc := time.Since(start)
	start = time.Now()
	if _, err := incremental.Decode(data); err != nil {
		return err
	}
	fmt.Printf("%-52s %8v  (decoded in %v; %d KiB stored)\n", "  the record encoded", enc.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), len(data)>>10)
	if p.WarmProfile != "" {
		pf, err := os.Create(p.WarmProfile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(pf)
		for i := 0; i < 5; i++ {
			eng.CheckIncremental(ctx, p.Dir, gate.CheckOptions{Manifests: mo}, gate.Incremental{Base: rec})
		}
		pprof.StopCPUProfile()
	}
	if _, _, _, err := run("no change, incremental (warm)", gate.Incremental{Base: rec}); err != nil {
		return err
	}
	// The floor of every warm evaluation: its tags resolved again, alone.
	if d, err := resolveAll(ctx, eng.Resolver, p.Images); err != nil {
		return err
	} else {
		fmt.Printf("%-52s %8v  (%d tags, nothing else running)\n", "  the tag resolutions alone", d.Round(time.Millisecond), len(p.Images))
	}
	if p.Quick {
		return nil
	}
	overlays := p.Apps - p.HelmApps
	prs := []struct {
		label string
		file  string
		edit  string
	}{
		{"PR: one overlay", "overlays/o0007/kustomization.yaml", overlay(p, 7, 8)},
		{fmt.Sprintf("PR: a base shared by %d overlays", overlays/p.Bases), "bases/b003/deployment.yaml", baseDeployment(3, ", tier: web")},
	}
	for _, pr := range prs {
		path := filepath.Join(p.Dir, filepath.FromSlash(pr.file))
		old, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(pr.edit), 0o644); err != nil {
			return err
		}
		irep, _, _, err := run(pr.label+", incremental (warm)", gate.Incremental{Base: rec})
		if err != nil {
			return err
		}
		if p.Trace != "" && pr.file == prs[len(prs)-1].file {
			f, err := os.Create(p.Trace)
			if err != nil {
				return err
			}
			trace.Start(f)
			eng.CheckIncremental(ctx, p.Dir, gate.CheckOptions{Manifests: mo}, gate.Incremental{Base: rec})
			trace.Stop()
			f.Close()
		}
		if p.PRProfile != "" && pr.file == prs[len(prs)-1].file {
			f, err := os.Create(p.PRProfile)
			if err != nil {
				return err
			}
			pprof.StartCPUProfile(f)
			for i := 0; i < 5; i++ {
				eng.CheckIncremental(ctx, p.Dir, gate.CheckOptions{Manifests: mo}, gate.Incremental{Base: rec})
			}
			pprof.StopCPUProfile()
			f.Close()
		}
		frep, _, _, err := run(pr.label+", full re-render (warm)", gate.Incremental{Full: true})
		if err != nil {
			return err
		}
		if !sameApps(irep, frep) {
			return fmt.Errorf("%s: the incremental verdict differs from the full one", pr.label)
		}
		if err := os.WriteFile(path, old, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func orDefault(n int) string {
	if n == 0 {
		return "default"
	}
	return fmt.Sprint(n)
}

func firstError(rep *gate.Report) string {
	for _, a := range rep.Apps {
		if a.Error != "" {
			return a.Name + ": " + a.Error
		}
		for _, im := range a.Images {
			if im.Status != gate.StatusPass {
				return a.Name + ": " + im.Image + ": " + im.Reason
			}
		}
	}
	return ""
}

// sameApps compares two reports without their carried-over marks and
// rendering summaries.
func sameApps(a, b *gate.Report) bool {
	enc := func(r *gate.Report) []byte {
		c := *r
		c.Rendering = nil
		c.Apps = append([]gate.AppVerdict(nil), r.Apps...)
		for i := range c.Apps {
			c.Apps[i].CarriedOver = false
		}
		out, _ := json.Marshal(c)
		return out
	}
	return bytes.Equal(enc(a), enc(b))
}

func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// resolveAll resolves every image once, as many at a time as the engine
// resolves them, and returns how long that took.
func resolveAll(ctx context.Context, r *registry.Resolver, images []string) (time.Duration, error) {
	start := time.Now()
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(256) // the resolver's per-registry bound is the one that counts
	for _, img := range images {
		g.Go(func() error {
			ref, err := name.ParseReference(img)
			if err != nil {
				return err
			}
			_, err = r.Resolve(ctx, ref)
			return err
		})
	}
	err := g.Wait()
	return time.Since(start), err
}
