package web_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
)

// TestServiceMonorepoPullRequest measures issue 19's "a one-app pull
// request in a 5,000-app repository is checked in about a second" through
// the whole service: webhook, fetch, the kept checkout brought to the
// commit, the incremental evaluation from the base's stored record,
// storing the result, and the final status on the fake GitHub. The
// repository is benchincr's without the Helm charts: 4,500 Kustomize
// overlays on 90 bases and 500 plain apps, over 2,000 signed tags, the
// registry answering after 20 ms.
//
//	GITOPS_GATE_BENCH=1 go test -run TestServiceMonorepoPullRequest -v -timeout 20m ./web/
func TestServiceMonorepoPullRequest(t *testing.T) {
	if os.Getenv("GITOPS_GATE_BENCH") == "" {
		t.Skip("a measurement: run with GITOPS_GATE_BENCH=1 (make bench)")
	}
	g := newGate(t)
	start := time.Now()
	images, err := g.world.PushSigned(context.Background(), 2000, 40)
	if err != nil {
		t.Fatal(err)
	}
	const bases, overlays, plain = 90, 4500, 500
	overlay := func(o, img int) string {
		name, tag, _ := cutTag(images[img%len(images)])
		return fmt.Sprintf("namePrefix: o%04d-\nresources:\n- ../../bases/b%03d\nimages:\n- name: placeholder/app\n  newName: %s\n  newTag: %s\n", o, o%bases, name, tag)
	}
	files := map[string]string{}
	for b := 0; b < bases; b++ {
		files[fmt.Sprintf("bases/b%03d/kustomization.yaml", b)] = "resources:\n- deployment.yaml\n"
		files[fmt.Sprintf("bases/b%03d/deployment.yaml", b)] = deployment(fmt.Sprintf("app-%03d", b), "placeholder/app:v0")
	}
	for o := 0; o < overlays; o++ {
		files[fmt.Sprintf("overlays/o%04d/kustomization.yaml", o)] = overlay(o, o)
	}
	for p := 0; p < plain; p++ {
		files[fmt.Sprintf("plain/p%03d/deploy.yaml", p)] = deployment(fmt.Sprintf("p%03d", p), images[(overlays+p)%len(images)])
	}
	base := g.repo.Commit("5,000 apps", files)
	g.repo.SetRef("refs/heads/main", base)
	fmt.Printf("setup: 2,000 signed images and a 5,000-app commit in %v\n", time.Since(start).Round(time.Millisecond))
	g.world.Registry.SetFaults(gatetest.Faults{Latency: 20 * time.Millisecond})

	run := func(pr int, sha string) time.Duration {
		g.repo.SetRef(fmt.Sprintf("refs/pull/%d/head", pr), sha)
		sent := time.Now()
		g.send("pull_request", fmt.Sprintf("mono-%d", pr), g.payload("opened", pr, sha), secret)
		st := g.waitFinalWithin(sha, 5*time.Minute)
		if last := st[len(st)-1]; last.State != "success" {
			t.Fatalf("pull request %d: %+v", pr, last)
		}
		return st[len(st)-1].At.Sub(sent)
	}
	fmt.Printf("first evaluation (cold: no record, no checkout kept, empty verification cache): %v\n", run(1, base).Round(time.Millisecond))
	var prs []time.Duration
	for i := 0; i < 5; i++ {
		sha := g.repo.Commit(fmt.Sprintf("overlay %d", i), map[string]string{
			fmt.Sprintf("overlays/o%04d/kustomization.yaml", 7+i): overlay(7+i, 8+i),
		})
		prs = append(prs, run(2+i, sha))
	}
	fmt.Printf("one-overlay pull requests, webhook to final status, 5 one after another: p50 %v, best %v, worst %v\n",
		pct(prs, 50), pct(prs, 1), pct(prs, 100))
}

// cutTag splits host/repo:tag into host/repo and tag.
func cutTag(ref string) (name, tag string, ok bool) {
	for i := len(ref) - 1; i >= 0 && ref[i] != '/'; i-- {
		if ref[i] == ':' {
			return ref[:i], ref[i+1:], true
		}
	}
	return ref, "", false
}
