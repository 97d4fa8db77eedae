package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stats are the requests one registry has served the gate.
type Stats struct {
	Requests int64 // HTTP requests sent, retries included
	Errors   int64 // requests that failed or answered 429/5xx
	Retries  int64
}

// limitedTransport limits, times out, retries and counts requests per host.
type limitedTransport struct {
	next        http.RoundTripper
	perHost     int
	timeout     time.Duration
	retries     int
	baseBackoff time.Duration
	maxBackoff  time.Duration
	maxBody     int64
	observe     func(host string, status int, err error)
	deny        []netip.Prefix

	mu    sync.Mutex
	sems  map[string]chan struct{}
	stats map[string]*hostStats
}

type hostStats struct{ requests, errors, retries atomic.Int64 }

func (t *limitedTransport) host(h string) (chan struct{}, *hostStats) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sems == nil {
		t.sems, t.stats = map[string]chan struct{}{}, map[string]*hostStats{}
	}
	s, ok := t.sems[h]
	if !ok {
		s = make(chan struct{}, t.perHost)
		t.sems[h] = s
		t.stats[h] = &hostStats{}
	}
	return s, t.stats[h]
}

func (t *limitedTransport) snapshot() map[string]Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]Stats{}
	for h, s := range t.stats {
		out[h] = Stats{Requests: s.requests.Load(), Errors: s.errors.Load(), Retries: s.retries.Load()}
	}
	return out
}

// transientErr reports failures another try may cure: resets, refusals,
// timeouts, cut bodies. A TLS or protocol mismatch is an answer: go-
// containerregistry probes https before http for local registries, and
// retrying that probe would only add delay.
func transientErr(err error) bool {
	var rh tls.RecordHeaderError
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	switch {
	case errors.As(err, &rh), errors.As(err, &cv), errors.As(err, &ua), errors.As(err, &hn):
		return false
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"), errors.Is(err, ErrResponseTooLarge), errors.Is(err, ErrDenied):
		return false
	}
	return true
}

// retryable reports responses worth another try: rate limits and server
// errors. 501 Not Implemented is an answer, not a fault.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout ||
		(status >= 500 && status != http.StatusNotImplemented)
}

func (t *limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := checkHost(t.deny, req.URL.Host); err != nil {
		return nil, err
	}
	sem, st := t.host(req.URL.Host)
	idempotent := req.Method == http.MethodGet || req.Method == http.MethodHead
	var lastErr error
	for attempt := 0; ; attempt++ {
		select {
		case sem <- struct{}{}:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		resp, err := t.once(req)
		<-sem
		st.requests.Add(1)
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		if t.observe != nil {
			t.observe(req.URL.Host, status, err)
		}
		if err == nil && !retryable(status) {
			return resp, nil
		}
		st.errors.Add(1)
		if !idempotent || attempt >= t.retries || req.Context().Err() != nil || (err != nil && !transientErr(err)) {
			if err != nil {
				return nil, err
			}
			return resp, nil
		}
		wait := t.backoff(attempt, resp)
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			lastErr = fmt.Errorf("%s %s: %s", req.Method, req.URL.Host, resp.Status)
		} else {
			lastErr = err
		}
		st.retries.Add(1)
		select {
		case <-time.After(wait):
		case <-req.Context().Done():
			return nil, errors.Join(req.Context().Err(), lastErr)
		}
	}
}

// once sends one attempt bounded by the per-request timeout. The timeout
// covers reading the body too: it is released when the body is closed.
func (t *limitedTransport) once(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	r := req.Clone(ctx)
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		cancel()
		if ctx.Err() == context.DeadlineExceeded && req.Context().Err() == nil {
			return nil, fmt.Errorf("%s %s: no answer within %v: %w", req.Method, req.URL.Host, t.timeout, err)
		}
		return nil, err
	}
	if t.maxBody > 0 && resp.ContentLength > t.maxBody {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("%s %s%s: %d-byte response: %w (%d bytes)", req.Method, req.URL.Host, req.URL.Path, resp.ContentLength, ErrResponseTooLarge, t.maxBody)
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	if t.maxBody > 0 {
		resp.Body = &limitedBody{ReadCloser: resp.Body, left: t.maxBody, what: req.Method + " " + req.URL.Host + req.URL.Path, max: t.maxBody}
	}
	return resp, nil
}

// ErrResponseTooLarge is a registry answer past Options.MaxResponseBytes.
var ErrResponseTooLarge = errors.New("larger than the gate's limit")

// limitedBody fails a read past the limit (a body without Content-Length,
// or one longer than announced) instead of buffering it.
type limitedBody struct {
	io.ReadCloser
	left, max int64
	what      string
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte more tells a body of exactly max bytes from a longer one.
		var one [1]byte
		n, err := l.ReadCloser.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%s: response %w (%d bytes)", l.what, ErrResponseTooLarge, l.max)
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.ReadCloser.Read(p)
	l.left -= int64(n)
	return n, err
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// backoff doubles from baseBackoff with jitter, capped, and honours a
// Retry-After of seconds when the registry sends one (within the cap).
func (t *limitedTransport) backoff(attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			d := time.Duration(s) * time.Second
			if d > t.maxBackoff {
				d = t.maxBackoff
			}
			return d
		}
	}
	d := t.baseBackoff << attempt
	if d > t.maxBackoff {
		d = t.maxBackoff
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
