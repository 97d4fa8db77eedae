// Command benchrepo measures `gitops-gate images` end to end on a large
// repository: it writes a synthetic repository of N Kustomize apps (or takes
// a directory), runs the real binary on it several times, and prints the wall
// time and the peak resident memory of the process. With -kustomize it also
// times the real kustomize CLI building every app, one process per app, for
// scale.
//
//	go run ./manifests/internal/benchrepo -bin bin/gitops-gate -apps 500
//	go run ./manifests/internal/benchrepo -bin bin/gitops-gate -dir testdata/corpus/argocd-example-apps
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/gitops-gate/gitops-gate/manifests/internal/synthrepo"
)

func main() {
	bin := flag.String("bin", "bin/gitops-gate", "the gitops-gate binary to measure")
	apps := flag.Int("apps", 500, "synthetic Kustomize apps to generate (ignored with -dir)")
	dir := flag.String("dir", "", "measure this repository instead of a synthetic one")
	kustomize := flag.String("kustomize", "", "path of a kustomize binary to time one process per app")
	runs := flag.Int("runs", 5, "runs; the best and the median are printed")
	flag.Parse()
	if err := run(*bin, *dir, *apps, *kustomize, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "benchrepo:", err)
		os.Exit(1)
	}
}

func run(bin, dir string, apps int, kustomize string, runs int) error {
	label := dir
	var overlays []string
	if dir == "" {
		tmp, err := os.MkdirTemp("", "gitops-gate-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if overlays, err = synthrepo.WriteKustomizeApps(tmp, apps); err != nil {
			return err
		}
		dir, label = tmp, fmt.Sprintf("synthetic repo, %d Kustomize apps", apps)
	}
	var times []time.Duration
	var peak int64
	var out []byte
	for i := 0; i < runs; i++ {
		cmd := exec.Command(bin, "images", dir, "-o", "json")
		start := time.Now()
		o, err := cmd.Output()
		elapsed := time.Since(start)
		// Exit code 1 only says some app failed to render; the count shows it.
		if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
			return fmt.Errorf("%s: %v", bin, err)
		}
		times = append(times, elapsed)
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > peak {
			peak = ru.Maxrss
		}
		out = o
	}
	var inv struct {
		Apps []struct {
			Error  string
			Images []json.RawMessage
		}
	}
	if err := json.Unmarshal(out, &inv); err != nil {
		return err
	}
	images, failed := 0, 0
	for _, a := range inv.Apps {
		images += len(a.Images)
		if a.Error != "" {
			failed++
		}
	}
	slices.Sort(times)
	median := times[len(times)/2]
	fmt.Printf("%s: %d apps (%d failed to render), %d images; `gitops-gate images -o json` best %v, median %v over %d runs; peak RSS %.0f MiB\n",
		label, len(inv.Apps), failed, images, times[0].Round(time.Millisecond), median.Round(time.Millisecond), runs, float64(peak)/1024)
	if kustomize != "" && len(overlays) > 0 {
		start := time.Now()
		for _, o := range overlays {
			if out, err := exec.Command(kustomize, "build", filepath.Join(dir, o)).CombinedOutput(); err != nil {
				return fmt.Errorf("kustomize build %s: %v\n%s", o, err, out)
			}
		}
		cli := time.Since(start)
		fmt.Printf("kustomize CLI (%s), one process per app, sequential, rendering only: %v (%.1fx gitops-gate's median)\n",
			kustomize, cli.Round(time.Millisecond), float64(cli)/float64(median))
	}
	return nil
}
