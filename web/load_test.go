package web_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/web"
)

// rss is the process's resident set from /proc, in bytes.
func rss(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc: ", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// zeros is an endless body that costs the sender no memory.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func bogusWebhook(url string, size int64, i int) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, url+"/webhooks/github", io.LimitReader(zeros{}, size))
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("bogus-%d", i))
	req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
	return req
}

// TestBogusBodyBurstStaysUnderCeiling: 60 unauthenticated 24 MB bodies
// at once (1.4 GB; they took the process from 122 MB to 1.72 GB against
// limits.memory 1Gi) keep the resident set under the configured ceiling:
// unauthenticated bytes in flight are bounded by server.webhookInFlight.
// Every one is refused (bad signature, or busy).
func TestBogusBodyBurstStaysUnderCeiling(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 1.4 GB over loopback")
	}
	const inFlight = 32 << 20
	h := web.New(web.Options{WebhookSecret: []byte(secret), WebhookInFlight: inFlight})
	srv := httptest.NewUnstartedServer(h)
	srv.Config = web.NewHTTPServer(h, web.ServerLimits{ReadTimeout: time.Minute, WriteTimeout: 11 * time.Minute, IdleTimeout: time.Minute})
	srv.Start()
	defer srv.Close()

	runtime.GC()
	debug.FreeOSMemory()
	base := rss(t)
	// The configured ceiling, as serve applies limits.memory.
	ceiling := base + 256<<20
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(ceiling))
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r := rss(t); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.DefaultClient.Do(bogusWebhook(srv.URL, 24<<20, i))
			code := 0 // the server answered before reading it all, and closed
			if err == nil {
				code = resp.StatusCode
				resp.Body.Close()
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	t.Logf("RSS %d MiB before, peak %d MiB, ceiling %d MiB; answers %v", base>>20, peak.Load()>>20, ceiling>>20, codes)
	if peak.Load() >= ceiling {
		t.Errorf("peak RSS %d MiB over the ceiling %d MiB", peak.Load()>>20, ceiling>>20)
	}
	if codes[http.StatusAccepted] > 0 || codes[http.StatusUnauthorized] == 0 {
		t.Errorf("answers %v: want every bogus body refused, some after reading them", codes)
	}
	// Over GitHub's 25 MB: refused from the Content-Length.
	resp, err := http.DefaultClient.Do(bogusWebhook(srv.URL, 26<<20, 99))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("26 MB body: %d, want 413", resp.StatusCode)
		}
	}
}

// TestSlowBodiesHoldBoundedConnections: 100 connections trickling a body
// byte at a time (1,000 such were all held) are capped at
// server.maxConnections open at once, each dropped after the read
// timeout, and a legitimate request is served once they are gone.
func TestSlowBodiesHoldBoundedConnections(t *testing.T) {
	const maxConns, readTimeout = 20, 1500 * time.Millisecond
	h := web.New(web.Options{WebhookSecret: []byte(secret)})
	ln, err := web.Listen("127.0.0.1:0", maxConns)
	if err != nil {
		t.Fatal(err)
	}
	srv := web.NewHTTPServer(h, web.ServerLimits{ReadTimeout: readTimeout, WriteTimeout: 11 * time.Minute, IdleTimeout: time.Second, MaxConnections: maxConns})
	var mu sync.Mutex
	opened := map[net.Conn]time.Time{}
	var open, peak int
	var longest time.Duration
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateNew:
			opened[c] = time.Now()
			open++
			peak = max(peak, open)
		case http.StateClosed, http.StateHijacked:
			longest = max(longest, time.Since(opened[c]))
			delete(opened, c)
			open--
		}
	}
	go srv.Serve(ln)
	defer srv.Close()
	addr := ln.Addr().String()

	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /webhooks/github HTTP/1.1\r\nHost: gate\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: slow-%d\r\nX-Hub-Signature-256: sha256=%s\r\nContent-Length: 100000\r\n\r\n", i, strings.Repeat("0", 64))
			for range 200 { // 60 s at most
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := c.Write([]byte{'x'}); err != nil {
					return
				}
				// Has the server given up on us?
				c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				if _, err := bufio.NewReader(c).ReadByte(); err == nil || !isTimeout(err) {
					return
				}
			}
		}()
	}
	// The legitimate request waits its turn behind the slow ones.
	client := &http.Client{Timeout: 30 * time.Second}
	time.Sleep(200 * time.Millisecond)
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("a legitimate request: %v", err)
	}
	resp.Body.Close()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("peak %d open connections, longest held %v", peak, longest)
	// The listener frees a slot when a connection is closed, just before
	// the server reports it closed: the next one can be counted open in
	// between.
	if peak > maxConns+1 {
		t.Errorf("%d connections open at once, want at most %d", peak, maxConns)
	}
	if longest > readTimeout+time.Second {
		t.Errorf("a slow connection was held %v, past the read timeout %v", longest, readTimeout)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
