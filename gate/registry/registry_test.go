package registry

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
)

func testResolver(t *testing.T, o Options) *Resolver {
	t.Helper()
	if o.BaseBackoff == 0 {
		o.BaseBackoff = time.Millisecond
	}
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResolveTagDigestAndIndex(t *testing.T) {
	w := gatetest.NewWorld(t)
	ctx := context.Background()
	d, err := w.PushImage(ctx, "acme/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	r := testResolver(t, Options{})
	res, err := r.Resolve(ctx, parse(t, w.Ref("acme/app:v1")))
	if err != nil || res.Digest.DigestStr() != d.DigestStr() || len(res.Platforms) != 0 {
		t.Fatalf("tag: %+v %v", res, err)
	}
	if res, err = r.Resolve(ctx, d); err != nil || res.Digest != d {
		t.Fatalf("digest: %+v %v", res, err)
	}
	idx, platforms, err := w.PushIndex(ctx, "acme/multi:v1", 3)
	if err != nil {
		t.Fatal(err)
	}
	res, err = r.Resolve(ctx, parse(t, w.Ref("acme/multi:v1")))
	if err != nil || res.Digest.DigestStr() != idx.DigestStr() || len(res.Platforms) != 3 || res.Platforms[2].Digest != platforms[2].DigestStr() || res.Platforms[0].Platform != "linux/amd64" {
		t.Fatalf("index: %+v %v", res, err)
	}
	_, err = r.Resolve(ctx, parse(t, w.Ref("acme/app:nope")))
	var re *Error
	if !errors.As(err, &re) || !re.NotFound() {
		t.Errorf("missing tag: %v", err)
	}
	missing := d.Context().Digest("sha256:" + strings.Repeat("0", 64))
	if _, err = r.Resolve(ctx, missing); !errors.As(err, &re) || !re.NotFound() {
		t.Errorf("missing digest: %v", err)
	}
}

func TestRetriesHonourRetryAfterAndGiveUp(t *testing.T) {
	w := gatetest.NewWorld(t)
	ctx := context.Background()
	if _, err := w.PushImage(ctx, "acme/app:v1"); err != nil {
		t.Fatal(err)
	}
	ref := parse(t, w.Ref("acme/app:v1"))

	w.Registry.SetFaults(gatetest.Faults{Status: 429, FailNext: 2, RetryAfter: "1"})
	r := testResolver(t, Options{MaxBackoff: 5 * time.Second})
	start := time.Now()
	if _, err := r.Resolve(ctx, ref); err != nil {
		t.Fatalf("429 twice then success: %v", err)
	}
	if el := time.Since(start); el < 2*time.Second {
		t.Errorf("Retry-After: 1 twice should wait about 2s, waited %v", el)
	}

	w.Registry.SetFaults(gatetest.Faults{Status: 503})
	r = testResolver(t, Options{Retries: 2})
	_, err := r.Resolve(ctx, ref)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("503 always: %v", err)
	}
	st := r.Stats()[w.Registry.Host]
	if st.Retries < 2 || st.Errors < 3 {
		t.Errorf("stats %+v: want the retries counted", st)
	}
}

func TestTimeoutAndContext(t *testing.T) {
	w := gatetest.NewWorld(t)
	ctx := context.Background()
	if _, err := w.PushImage(ctx, "acme/app:v1"); err != nil {
		t.Fatal(err)
	}
	ref := parse(t, w.Ref("acme/app:v1"))
	w.Registry.SetFaults(gatetest.Faults{Latency: 500 * time.Millisecond})
	r := testResolver(t, Options{Timeout: 50 * time.Millisecond, Retries: -1})
	start := time.Now()
	if _, err := r.Resolve(ctx, ref); err == nil || time.Since(start) > 400*time.Millisecond {
		t.Errorf("slow registry: err %v after %v", err, time.Since(start))
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	r = testResolver(t, Options{})
	if _, err := r.Resolve(cctx, ref); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestNoRetryOfProtocolMismatch(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	tr := &limitedTransport{next: http.DefaultTransport, perHost: 4, timeout: time.Second, retries: 3, baseBackoff: 50 * time.Millisecond, maxBackoff: time.Second}
	req, _ := http.NewRequest(http.MethodGet, strings.Replace(srv.URL, "http://", "https://", 1)+"/v2/", nil)
	start := time.Now()
	if _, err := tr.RoundTrip(req); err == nil {
		t.Fatal("https to an http server must fail")
	}
	if el := time.Since(start); el > 40*time.Millisecond {
		t.Errorf("took %v: a protocol mismatch was retried", el)
	}
}

func TestPerRegistryConcurrencyLimit(t *testing.T) {
	var inFlight, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		inFlight.Add(-1)
	}))
	defer srv.Close()
	tr := &limitedTransport{next: http.DefaultTransport, perHost: 3, timeout: time.Second, retries: 0, baseBackoff: time.Millisecond, maxBackoff: time.Millisecond}
	done := make(chan struct{})
	for i := 0; i < 12; i++ {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2/", nil)
			if resp, err := tr.RoundTrip(req); err == nil {
				resp.Body.Close()
			}
			done <- struct{}{}
		}()
	}
	for i := 0; i < 12; i++ {
		<-done
	}
	if p := peak.Load(); p > 3 {
		t.Errorf("peak %d concurrent requests, limit 3", p)
	}
}

func parse(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestConnectionsKeptForEveryRequestInFlight: waves of requests at the
// concurrency limit reuse the connections of the wave before. ggcr's
// default transport keeps 50 idle per host, so at 64 in flight each wave
// dialled 14 new connections (TLS handshakes against a real registry).
func TestConnectionsKeptForEveryRequestInFlight(t *testing.T) {
	const perHost, waves = 64, 3
	var dialled atomic.Int64
	arrived := make(chan struct{}, perHost)
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialled.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	r := testResolver(t, Options{PerRegistry: perHost, Retries: -1})
	for w := 0; w < waves; w++ {
		done := make(chan struct{}, perHost)
		for i := 0; i < perHost; i++ {
			go func() {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2/", nil)
				if resp, err := r.t.RoundTrip(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				done <- struct{}{}
			}()
		}
		for i := 0; i < perHost; i++ {
			<-arrived // every request of the wave is in flight at once
		}
		for i := 0; i < perHost; i++ {
			release <- struct{}{}
		}
		for i := 0; i < perHost; i++ {
			<-done
		}
	}
	if n := dialled.Load(); n > perHost {
		t.Errorf("%d connections dialled for %d waves of %d requests: idle connections were dropped between waves", n, waves, perHost)
	}
}
