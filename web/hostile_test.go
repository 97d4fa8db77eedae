package web_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/gate/store"
)

// TestHostileRepository sends pull requests whose repositories attack the
// gate: an alias bomb, a symlink to /etc/passwd, a Kustomize remote base, a
// Helm dependency and a Kustomize Helm chart on internal addresses, Helm
// templates that loop (for ever, or printing without end), a 200 MB file
// and 10,000 apps. Each ends with the reason named; nothing outside the
// checkout is read; no connection reaches the internal addresses (a
// listener counts them); the heap stays under the configured ceiling; a
// benign pull request sent after them is still evaluated and the service
// keeps answering.
func TestHostileRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 200 MB file and 10,000 apps")
	}
	bomb, err := os.ReadFile("../testdata/hostile/billion-laughs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const ceiling = "1Gi"
	g := newGate(t, "limits: {memory: "+ceiling+", helmTimeout: 5s, helmMemory: 256Mi}")
	// The internal address: any connection to it is an outbound request
	// the gate must not make.
	canary, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer canary.Close()
	var outbound atomic.Int64
	go func() {
		for {
			c, err := canary.Accept()
			if err != nil {
				return
			}
			outbound.Add(1)
			c.Close()
		}
	}()
	internal := "http://" + canary.Addr().String()
	img := g.image("acme/api:v1", true)
	g.repo.SetRef("refs/heads/main", g.repo.Commit("base", map[string]string{"README.md": "gitops\n"}))

	g.repo.Symlink("apps/leak/passwd.yaml", "/etc/passwd")
	mixed := g.repo.Commit("hostile mix", map[string]string{
		"apps/bomb/bomb.yaml":             string(bomb),
		"apps/leak/kustomization.yaml":    "resources:\n- passwd.yaml\n",
		"apps/remote/kustomization.yaml":  "resources:\n- https://169.254.169.254/latest/meta-data?ref=main\n- " + internal + "/base?ref=main\n",
		"apps/inflate/kustomization.yaml": "helmCharts:\n- name: redis\n  repo: " + internal + "/charts\n  version: 1.0.0\n",
		"apps/dep/Chart.yaml":             "apiVersion: v2\nname: dep\nversion: 0.1.0\ndependencies:\n- name: redis\n  version: 1.0.0\n  repository: " + internal + "/charts\n",
		"apps/spin/Chart.yaml":            "apiVersion: v2\nname: spin\nversion: 0.1.0\n",
		"apps/spin/templates/loop.yaml":   "{{ range $i := until 100000 }}{{ range $j := until 100000 }}{{ end }}{{ end }}\n",
		"apps/flood/Chart.yaml":           "apiVersion: v2\nname: flood\nversion: 0.1.0\n",
		"apps/flood/templates/loop.yaml":  "{{ range $i := 1000000000000 }}- a line {{ $i }} of a template that never stops printing\n{{ end }}",
		"apps/ok/deploy.yaml":             deployment("ok", img),
	})
	g.repo.WriteLarge("apps/huge/huge.yaml", 200<<20)
	gone := map[string]string{"apps/bomb/bomb.yaml": "", "apps/leak/kustomization.yaml": "", "apps/leak/passwd.yaml": "", "apps/remote/kustomization.yaml": "", "apps/ok/deploy.yaml": "",
		"apps/inflate/kustomization.yaml": "", "apps/dep/Chart.yaml": "", "apps/spin/Chart.yaml": "", "apps/spin/templates/loop.yaml": "", "apps/flood/Chart.yaml": "", "apps/flood/templates/loop.yaml": ""}
	huge := g.repo.Commit("a 200 MB manifest", merge(gone, map[string]string{"apps/huge/ok.yaml": deployment("ok", img)}))
	many := map[string]string{"apps/huge/huge.yaml": "", "apps/huge/ok.yaml": ""}
	for i := 0; i < 10000; i++ {
		many[fmt.Sprintf("apps/a%05d/deploy.yaml", i)] = deployment(fmt.Sprintf("a%05d", i), img)
	}
	tenK := g.repo.Commit("10,000 apps", many)
	for p := range many {
		many[p] = ""
	}
	benign := g.repo.Commit("benign", merge(many, map[string]string{"apps/b/deploy.yaml": deployment("b", img)}))
	for pr, sha := range map[int]string{1: mixed, 2: huge, 3: tenK, 4: benign} {
		g.repo.SetRef(fmt.Sprintf("refs/pull/%d/head", pr), sha)
	}

	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	defer close(stop)

	start := time.Now()
	for pr, sha := range []string{mixed, huge, tenK, benign} {
		g.send("pull_request", fmt.Sprintf("hostile-%d", pr+1), g.payload("opened", pr+1, sha), secret)
		if os.Getenv("GITOPS_GATE_HOSTILE_SERIAL") != "" {
			g.waitFinalWithin(sha, 3*time.Minute)
			fmt.Printf("PR %d final after %v, peak heap so far %d MiB\n", pr+1, time.Since(start).Round(time.Millisecond), peak.Load()>>20)
		}
	}
	// The service answers while it works.
	if resp, err := http.Get(g.srv.URL + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz while evaluating: %v", err)
	}
	finals := map[string]string{}
	for _, sha := range []string{mixed, huge, tenK, benign} {
		st := g.waitFinalWithin(sha, 3*time.Minute)
		finals[sha] = st[len(st)-1].State + ": " + st[len(st)-1].Description
	}
	elapsed := time.Since(start)

	reports := map[string]string{}
	evs, _, _ := g.store.List(context.Background(), store.Filter{Limit: 10})
	for _, e := range evs {
		full, err := g.store.Get(context.Background(), e.ID)
		if err != nil {
			t.Fatal(err)
		}
		reports[e.Spec.SHA] = e.Result + " " + e.Error + " " + string(full.Report)
	}
	for _, r := range reports {
		if strings.Contains(r, "root:x:0:0") {
			t.Fatal("the content of /etc/passwd reached a report")
		}
	}
	expect := func(sha, what string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(reports[sha], w) {
				t.Errorf("%s: report lacks %q; final status %q; report %.3000s", what, w, finals[sha], reports[sha])
			}
		}
		if strings.HasPrefix(finals[sha], "success") {
			t.Errorf("%s: %s", what, finals[sha])
		}
	}
	expect(mixed, "hostile mix", "apps/bomb/bomb.yaml:1: document expands to more than", "symlink to /etc/passwd leads outside the repository",
		"remote Kustomize bases are not supported", "Kustomize's Helm inflator is not supported", "chart dependency redis 1.0.0: repository "+internal+"/charts is not allowed by the gate's configuration",
		"Helm chart apps/spin: templates still rendering after 5s (a template that loops?); stopped",
		// Stopped by its memory, or on a loaded machine by its deadline
		// first (manifests' tests tell the two apart).
		"Helm chart apps/flood: templates ", "; stopped: Helm rendering limit exceeded", `"status":"pass"`)
	expect(huge, "200 MB file", "apps/huge/huge.yaml: file of 209715200 bytes is too large")
	if !strings.HasPrefix(finals[benign], "success") {
		t.Errorf("benign pull request: %s", finals[benign])
	}
	fmt.Printf("hostile repositories: 4 pull requests (alias bomb + symlink to /etc/passwd + remote bases, Helm dependency and inflator on an internal address + looping and flooding Helm templates, 200 MB file, 10,000 apps, benign) all final in %v; 10,000 apps: %s; peak heap %d MiB (ceiling %s); connections to the internal address: %d\n",
		elapsed.Round(time.Millisecond), finals[tenK], peak.Load()>>20, ceiling, outbound.Load())
	if limit := uint64(g.cfg.Limits.MemoryBytes()); peak.Load() > limit {
		t.Errorf("peak heap %d MiB, over the configured ceiling of %d MiB", peak.Load()>>20, limit>>20)
	}
	if n := outbound.Load(); n != 0 {
		t.Errorf("%d connections reached the internal address", n)
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
