package gate_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// symlinkApp is an Argo CD directory app: Argo CD skips a link to a
// directory and a dangling link, so such a link renders nothing today.
const symlinkApp = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: x, namespace: argocd}
spec:
  project: default
  source: {repoURL: https://github.com/acme/gitops.git, path: apps/x, targetRevision: HEAD}
  destination: {server: https://kubernetes.default.svc, namespace: x}
`

// TestIncrementalSymlinkRetargeted: a link the renderer skipped (to a
// directory) is retargeted at a manifest with an unsigned image. Nothing
// the app read changed, but the link's target is part of the directory's
// listing, so the app is rendered again and the image is judged.
func TestIncrementalSymlinkRetargeted(t *testing.T) {
	w := newIncrementalWorld(t)
	os.RemoveAll(filepath.Join(w.dir, "apps"))
	w.write("argocd/x.yaml", symlinkApp)
	w.write("apps/x/deployment.yaml", w.deployment("a", "acme/a:v1"))
	w.write("payload/sub/keep.txt", "x")
	w.write("payload/unsigned.txt", w.deployment("evil", "acme/unsigned:v1"))
	if err := os.Symlink("../../payload/sub", filepath.Join(w.dir, "apps/x/evil.yaml")); err != nil {
		t.Fatal(err)
	}
	eng := w.engine()
	mo := manifests.Options{RepoURL: "https://github.com/acme/gitops.git"}
	rep, rec := w.check(eng, mo, gate.Incremental{})
	t.Logf("base: %s %+v", rep.Result, rep.Summary)
	for _, a := range rec.Apps {
		t.Logf("base app %s inputs %v always %q", a.Entry.Name, a.Inputs, a.Always)
	}
	os.Remove(filepath.Join(w.dir, "apps/x/evil.yaml"))
	if err := os.Symlink("../../payload/unsigned.txt", filepath.Join(w.dir, "apps/x/evil.yaml")); err != nil {
		t.Fatal(err)
	}
	rep, _ = w.check(eng, mo, gate.Incremental{Base: rec})
	full, _ := w.check(eng, mo, gate.Incremental{Full: true})
	t.Logf("incremental: %s %+v rendering %+v", rep.Result, rep.Summary, rep.Rendering)
	t.Logf("full: %s %+v", full.Result, full.Summary)
	if full.Result == gate.StatusPass {
		t.Fatalf("the full render does not see the unsigned image: %+v", full.Summary)
	}
	if rep.Result != full.Result {
		t.Errorf("stale carry-over: incremental %s, full %s", rep.Result, full.Result)
	}
}

// TestIncrementalDanglingSymlinkFilled: a dangling link renders nothing;
// the change only creates its target. What the link points at now is part
// of the listing, so the app is rendered again.
func TestIncrementalDanglingSymlinkFilled(t *testing.T) {
	w := newIncrementalWorld(t)
	os.RemoveAll(filepath.Join(w.dir, "apps"))
	w.write("argocd/x.yaml", symlinkApp)
	w.write("apps/x/deployment.yaml", w.deployment("a", "acme/a:v1"))
	w.write("payload/keep.txt", "x")
	if err := os.Symlink("../../payload/unsigned.txt", filepath.Join(w.dir, "apps/x/evil.yaml")); err != nil {
		t.Fatal(err)
	}
	eng := w.engine()
	mo := manifests.Options{RepoURL: "https://github.com/acme/gitops.git"}
	rep, rec := w.check(eng, mo, gate.Incremental{})
	t.Logf("base: %s", rep.Result)
	w.write("payload/unsigned.txt", w.deployment("evil", "acme/unsigned:v1"))
	rep, _ = w.check(eng, mo, gate.Incremental{Base: rec})
	full, _ := w.check(eng, mo, gate.Incremental{Full: true})
	t.Logf("incremental: %s rendering %+v; full: %s", rep.Result, rep.Rendering, full.Result)
	if full.Result == gate.StatusPass {
		t.Fatalf("the full render does not see the unsigned image: %+v", full.Summary)
	}
	if rep.Result != full.Result {
		t.Errorf("stale carry-over: incremental %s, full %s", rep.Result, full.Result)
	}
}
