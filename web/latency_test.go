package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/gate/store"
)

// TestServiceLatencyAndThroughput measures what a pull request author
// waits for: webhook to pending status, and to the final status, for a
// 20-app repository, over 100 deliveries; then a burst of 200 deliveries.
// It prints its figures and runs only with GITOPS_GATE_BENCH=1 (make bench).
func TestServiceLatencyAndThroughput(t *testing.T) {
	if os.Getenv("GITOPS_GATE_BENCH") == "" {
		t.Skip("a measurement: run with GITOPS_GATE_BENCH=1 (make bench)")
	}
	g := newGate(t)
	files := map[string]string{}
	for i := 0; i < 20; i++ {
		img := g.image(fmt.Sprintf("acme/app-%02d:v1", i), true)
		files[fmt.Sprintf("apps/app-%02d/deploy.yaml", i)] = deployment(fmt.Sprintf("app-%02d", i), img)
	}
	g.repo.Commit("twenty apps", files)

	const n = 100
	var toPending, toFinal []time.Duration
	for i := 0; i < n; i++ {
		sha := g.repo.Commit(fmt.Sprintf("change %d", i), map[string]string{"README.md": fmt.Sprintf("change %d\n", i)})
		pr := 1000 + i
		g.repo.SetRef(fmt.Sprintf("refs/pull/%d/head", pr), sha)
		sent := time.Now()
		g.send("pull_request", fmt.Sprintf("lat-%d", i), g.payload("opened", pr, sha), secret)
		st := g.waitFinal(sha)
		toPending = append(toPending, st[0].At.Sub(sent))
		toFinal = append(toFinal, st[len(st)-1].At.Sub(sent))
		if st[len(st)-1].State != "success" {
			t.Fatalf("delivery %d: %+v", i, st[len(st)-1])
		}
	}
	fmt.Printf("20-app repo, %d deliveries one after another: webhook->pending p50 %v p99 %v; webhook->final p50 %v p99 %v\n",
		n, pct(toPending, 50), pct(toPending, 99), pct(toFinal, 50), pct(toFinal, 99))

	const burst = 200
	shas := make([]string, burst)
	for i := range shas {
		shas[i] = g.repo.Commit(fmt.Sprintf("burst %d", i), map[string]string{"README.md": fmt.Sprintf("burst %d\n", i)})
		g.repo.SetRef(fmt.Sprintf("refs/pull/%d/head", 5000+i), shas[i])
	}
	start := time.Now()
	for i, sha := range shas {
		g.send("pull_request", fmt.Sprintf("burst-%d", i), g.payload("opened", 5000+i, sha), secret)
	}
	accepted := time.Since(start)
	for _, sha := range shas {
		g.waitFinal(sha)
	}
	all := time.Since(start)
	fmt.Printf("burst of %d deliveries (20-app repo, 2 workers): all accepted in %v (%.0f deliveries/s), all final statuses in %v (%.1f evaluations/s)\n",
		burst, accepted.Round(time.Millisecond), float64(burst)/accepted.Seconds(), all.Round(time.Millisecond), float64(burst)/all.Seconds())

	// Reads: 8 clients for 5 s on the pages a pull request links to, the
	// JSON API and the list, over the 300 evaluations now stored.
	list, _, err := g.store.List(context.Background(), store.Filter{Limit: 500})
	if err != nil || len(list) == 0 {
		t.Fatalf("list: %v", err)
	}
	for _, target := range []struct{ name, path string }{
		{"evaluation page (HTML)", "/evaluations/%s"},
		{"evaluation (JSON API)", "/api/v1/evaluations/%s"},
		{"evaluations list page", "/"},
	} {
		var n, bad atomic.Int64
		var lat []time.Duration
		var mu sync.Mutex
		stop := time.Now().Add(5 * time.Second)
		var wg sync.WaitGroup
		for c := 0; c < 8; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				for i := c; time.Now().Before(stop); i++ {
					path := target.path
					if strings.Contains(path, "%s") {
						path = fmt.Sprintf(path, list[i%len(list)].ID)
					}
					t0 := time.Now()
					resp, err := http.Get(g.srv.URL + path)
					if err != nil || resp.StatusCode != http.StatusOK {
						bad.Add(1)
					}
					if resp != nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					d := time.Since(t0)
					n.Add(1)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			}(c)
		}
		wg.Wait()
		if bad.Load() > 0 {
			t.Errorf("%s: %d of %d requests failed", target.name, bad.Load(), n.Load())
		}
		fmt.Printf("reads, %s: %d requests in 5 s by 8 clients (%.0f req/s), p50 %v p99 %v\n",
			target.name, n.Load(), float64(n.Load())/5, pct(lat, 50), pct(lat, 99))
	}
}

func pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return s[i-1].Round(time.Millisecond)
}
