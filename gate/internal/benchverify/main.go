// Command benchverify measures the verification engine the way the issue
// states its target: a registry answering every request after a fixed
// latency, N unique signed digests referenced M times across A apps; one
// cold evaluation and one warm (cached) evaluation, with the registry
// requests counted. With -cosign it times the real cosign CLI verifying the
// same images one by one, as a CI script would.
//
//	go run ./gate/internal/benchverify -cosign .cache/bin/cosign
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/cache"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/registry"
	"github.com/gitops-gate/gitops-gate/gate/trust"
	"github.com/gitops-gate/gitops-gate/gate/verify"
	"github.com/gitops-gate/gitops-gate/manifests"
)

func main() {
	digests := flag.Int("digests", 300, "unique signed digests")
	refs := flag.Int("refs", 1000, "image references in the inventory")
	apps := flag.Int("apps", 200, "apps the references are spread over")
	repos := flag.Int("repos", 30, "repositories the digests are spread over")
	latency := flag.Duration("latency", 20*time.Millisecond, "latency of every registry request")
	cosignBin := flag.String("cosign", "", "path of the cosign CLI to compare with (skipped when empty)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the cold run to this file")
	flag.Parse()
	profile = *cpuProfile
	if err := run(*digests, *refs, *apps, *repos, *latency, *cosignBin); err != nil {
		fmt.Fprintln(os.Stderr, "benchverify:", err)
		os.Exit(1)
	}
}

var profile string

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

func run(nDigests, nRefs, nApps, nRepos int, latency time.Duration, cosignBin string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "gitops-gate-benchverify-")
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
	images, err := w.PushSigned(ctx, nDigests, nRepos)
	if err != nil {
		return err
	}
	fmt.Printf("setup: %d images pushed and signed in %v\n", nDigests, time.Since(start).Round(time.Millisecond))

	inv := &manifests.Inventory{APIVersion: manifests.InventoryAPIVersion}
	for a := 0; a < nApps; a++ {
		inv.Apps = append(inv.Apps, manifests.AppImages{Name: fmt.Sprintf("app-%03d", a), Path: fmt.Sprintf("apps/app-%03d", a), Kind: manifests.KindPlain})
	}
	for i := 0; i < nRefs; i++ {
		app := &inv.Apps[i%nApps]
		app.Images = append(app.Images, manifests.ImageRef{App: app.Name, Image: images[i%nDigests], File: app.Path + "/deploy.yaml", Line: 10,
			Resource:  manifests.ResourceID{APIVersion: "apps/v1", Kind: "Deployment", Name: fmt.Sprintf("d%d", i)},
			FieldPath: "spec.template.spec.containers[0].image"})
	}
	polPath := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(polPath, []byte(strings.ReplaceAll(policyDoc, "REGISTRY", w.Registry.Host)), 0o644); err != nil {
		return err
	}
	eng, err := gate.NewEngine(gate.Config{PolicyPaths: []string{polPath}, Trust: trust.Source{TrustedRootPath: w.TrustedRootPath},
		Registry: registry.Options{}, Cache: cache.NewMemory[verify.Outcome](10_000)})
	if err != nil {
		return err
	}
	w.Registry.SetFaults(gatetest.Faults{Latency: latency})

	measure := func(label string) (time.Duration, error) {
		w.Registry.ResetRequests()
		if profile != "" {
			f, err := os.Create(profile)
			if err != nil {
				return 0, err
			}
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close(); profile = "" }()
		}
		start := time.Now()
		rep := eng.Evaluate(ctx, inv)
		d := time.Since(start)
		if rep.Result != gate.StatusPass || rep.Summary.Passed != nRefs {
			return d, fmt.Errorf("%s: result %s, %+v", label, rep.Result, rep.Summary)
		}
		n := w.Registry.Requests()
		fmt.Printf("%s: %d references (%d unique digests, %d apps) verified in %v; %d registry requests (%.2f per unique digest)\n",
			label, nRefs, nDigests, nApps, d.Round(time.Millisecond), n, float64(n)/float64(nDigests))
		for host, st := range eng.Resolver.Stats() {
			fmt.Printf("  resolver, cumulative for %s: %d requests, %d errors, %d retries\n", host, st.Requests, st.Errors, st.Retries)
		}
		return d, nil
	}
	cold, err := measure(fmt.Sprintf("cold (registry latency %v)", latency))
	if err != nil {
		return err
	}
	if _, err := measure("warm (verification cache)"); err != nil {
		return err
	}
	if cosignBin == "" {
		return nil
	}
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o755)
	start = time.Now()
	for _, im := range images {
		cmd := exec.Command(cosignBin, "verify", "--trusted-root", w.TrustedRootPath, "--offline", "--allow-http-registry",
			"--certificate-oidc-issuer", "https://token.actions.githubusercontent.com",
			"--certificate-identity-regexp", `^https://github\.com/acme/.*/\.github/workflows/release\.yml@refs/tags/.*$`, im)
		cmd.Env = append(os.Environ(), "HOME="+home, "TUF_ROOT="+filepath.Join(home, "tuf"))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("cosign verify %s: %v\n%s", im, err, out)
		}
	}
	cli := time.Since(start)
	fmt.Printf("cosign CLI (%s): %d images verified one by one in %v (%.1fx the gate's cold run)\n",
		cosignBin, nDigests, cli.Round(time.Millisecond), float64(cli)/float64(cold))
	return nil
}
