package gatetest

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Faults make the registry misbehave the way real registries do. The zero
// value is a healthy registry. Faults apply to /v2/ API requests only.
type Faults struct {
	// Latency is added to every request.
	Latency time.Duration
	// Status, when non-zero, answers that many of the next requests
	// (FailNext; 0 means every request) with this HTTP status.
	Status   int
	FailNext int
	// RetryAfter is sent with Status (e.g. "1" for 429 Too Many Requests).
	RetryAfter string
	// DropConnection closes the connection after the headers of a
	// successful response, mid-body.
	DropConnection bool
	// LieManifests serves every manifest with one byte changed while
	// keeping the Docker-Content-Digest of the real one: content that does
	// not match the digest it claims.
	LieManifests bool
	// OversizeBlobs, when non-zero, answers blob GETs (signature layers,
	// bundles) with that many bytes.
	OversizeBlobs int64
	// NoReferrersAPI answers the OCI 1.1 referrers API with 404, as GHCR
	// and other registries without it do: clients then read the
	// sha256-<hex> fallback tag.
	NoReferrersAPI bool
}

// Registry is an in-process OCI registry (go-containerregistry's, with OCI
// 1.1 referrers) behind a fault-injecting, request-counting front.
type Registry struct {
	Server *httptest.Server
	// Host is host:port, the registry part of image references.
	Host string

	// Log, when set, receives every /v2/ request as "METHOD path".
	Log func(string)

	mu       sync.Mutex
	faults   Faults
	failed   int
	requests atomic.Int64
}

// NewRegistry starts a registry on loopback. Close it with Close.
func NewRegistry() *Registry {
	r := &Registry{}
	backend := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true))
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.serve(backend, w, req)
	}))
	r.Host = strings.TrimPrefix(r.Server.URL, "http://")
	return r
}

// Close stops the registry.
func (r *Registry) Close() { r.Server.Close() }

// SetFaults replaces the registry's faults.
func (r *Registry) SetFaults(f Faults) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults, r.failed = f, 0
}

// Requests is the number of /v2/ requests served (or failed) so far.
func (r *Registry) Requests() int64 { return r.requests.Load() }

// ResetRequests sets the request counter to zero.
func (r *Registry) ResetRequests() { r.requests.Store(0) }

func (r *Registry) serve(backend http.Handler, w http.ResponseWriter, req *http.Request) {
	if !strings.HasPrefix(req.URL.Path, "/v2/") {
		backend.ServeHTTP(w, req)
		return
	}
	r.requests.Add(1)
	if r.Log != nil {
		r.Log(req.Method + " " + req.URL.Path)
	}
	r.mu.Lock()
	f := r.faults
	fail := f.Status != 0 && (f.FailNext == 0 || r.failed < f.FailNext)
	if fail {
		r.failed++
	}
	r.mu.Unlock()
	if f.Latency > 0 {
		select {
		case <-time.After(f.Latency):
		case <-req.Context().Done():
			return
		}
	}
	if fail {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		io.WriteString(w, `{"errors":[{"code":"UNAVAILABLE","message":"injected fault `+strconv.Itoa(f.Status)+`"}]}`)
		return
	}
	if f.NoReferrersAPI && strings.Contains(req.URL.Path, "/referrers/") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"errors":[{"code":"NOT_FOUND","message":"no referrers API"}]}`)
		return
	}
	if f.LieManifests && req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/manifests/") {
		rec := httptest.NewRecorder()
		backend.ServeHTTP(rec, req)
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK && len(body) > 1 && body[len(body)-1] == '}' {
			body = append(body[:len(body)-1:len(body)-1], ' ', '}')
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		w.Write(body)
		return
	}
	if f.OversizeBlobs > 0 && req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/") {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(f.OversizeBlobs, 10))
		w.WriteHeader(http.StatusOK)
		io.CopyN(w, zeros{}, f.OversizeBlobs)
		return
	}
	if f.DropConnection && req.Method == http.MethodGet {
		rec := httptest.NewRecorder()
		backend.ServeHTTP(rec, req)
		hj, ok := w.(http.Hijacker)
		if !ok || rec.Body.Len() < 2 {
			backend.ServeHTTP(w, req)
			return
		}
		conn, buf, err := hj.Hijack()
		if err != nil {
			return
		}
		// Promise the whole body, send half of it, hang up.
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: " + rec.Header().Get("Content-Type") +
			"\r\nDocker-Content-Digest: " + rec.Header().Get("Docker-Content-Digest") +
			"\r\nContent-Length: " + strconv.Itoa(rec.Body.Len()) + "\r\n\r\n")
		buf.Write(rec.Body.Bytes()[:rec.Body.Len()/2])
		buf.Flush()
		conn.Close()
		return
	}
	backend.ServeHTTP(w, req)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
