package web_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/gate/store"
)

const billionLaughs = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`

// TestHostileRepository sends pull requests whose repositories attack the
// gate: an alias bomb, a symlink to /etc/passwd, a Kustomize remote base on
// an internal address, a 200 MB file and 10,000 apps. Each ends with the
// reason named; nothing outside the checkout is read; a benign pull request
// sent after them is still evaluated and the service keeps answering.
func TestHostileRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 200 MB file and 10,000 apps")
	}
	g := newGate(t)
	img := g.image("acme/api:v1", true)
	g.repo.SetRef("refs/heads/main", g.repo.Commit("base", map[string]string{"README.md": "gitops\n"}))

	g.repo.Symlink("apps/leak/passwd.yaml", "/etc/passwd")
	mixed := g.repo.Commit("hostile mix", map[string]string{
		"apps/bomb/bomb.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n  " + strings.ReplaceAll(billionLaughs, "\n", "\n  "),
		"apps/leak/kustomization.yaml":   "resources:\n- passwd.yaml\n",
		"apps/remote/kustomization.yaml": "resources:\n- https://169.254.169.254/latest/meta-data?ref=main\n",
		"apps/ok/deploy.yaml":            deployment("ok", img),
	})
	g.repo.WriteLarge("apps/huge/huge.yaml", 200<<20)
	gone := map[string]string{"apps/bomb/bomb.yaml": "", "apps/leak/kustomization.yaml": "", "apps/leak/passwd.yaml": "", "apps/remote/kustomization.yaml": "", "apps/ok/deploy.yaml": ""}
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
				t.Errorf("%s: report lacks %q; final status %q", what, w, finals[sha])
			}
		}
		if strings.HasPrefix(finals[sha], "success") {
			t.Errorf("%s: %s", what, finals[sha])
		}
	}
	expect(mixed, "hostile mix", "apps/bomb/bomb.yaml:1: document expands to more than", "symlink to /etc/passwd leads outside the repository",
		"remote Kustomize bases are not supported", `"status":"pass"`)
	expect(huge, "200 MB file", "apps/huge/huge.yaml: file of 209715200 bytes is too large")
	if !strings.HasPrefix(finals[benign], "success") {
		t.Errorf("benign pull request: %s", finals[benign])
	}
	fmt.Printf("hostile repositories: 4 pull requests (alias bomb + symlink to /etc/passwd + remote base on 169.254.169.254, 200 MB file, 10,000 apps, benign) all final in %v; 10,000 apps: %s; peak heap %d MiB\n",
		elapsed.Round(time.Millisecond), finals[tenK], peak.Load()>>20)
	if peak.Load() > 1<<30 {
		t.Errorf("peak heap %d MiB, want under 1 GiB", peak.Load()>>20)
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
