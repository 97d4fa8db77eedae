package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestDeniedAddressNotReachedThroughAKeptConnection: the transport every
// Resolver without a deny list shares keeps connections open (up to
// MaxPerRegistry a registry). A Resolver with a deny list must reach a
// denied address neither through one of them nor through a base
// transport's own TLS dialer, which would dial around the denying one.
func TestDeniedAddressNotReachedThroughAKeptConnection(t *testing.T) {
	var served atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served.Add(1) })
	srv := httptest.NewServer(h)
	defer srv.Close()
	tlsSrv := httptest.NewTLSServer(h)
	defer tlsSrv.Close()
	get := func(tr http.RoundTripper, url string) error {
		req, _ := http.NewRequest(http.MethodGet, url+"/v2/", nil)
		resp, err := tr.RoundTrip(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return err
	}
	// The legitimate variant, which leaves a kept connection behind.
	if err := get(DefaultTransport, srv.URL); err != nil {
		t.Fatal(err)
	}
	before := served.Load()
	denying, err := denyingTransport(nil, loopbackAndLinkLocal)
	if err != nil {
		t.Fatal(err)
	}
	if err := get(denying, srv.URL); !errors.Is(err, ErrDenied) {
		t.Errorf("a denied address the shared transport keeps a connection to: %v, want ErrDenied", err)
	}
	if n := served.Load() - before; n != 0 {
		t.Errorf("%d requests reached a denied address through a kept connection", n)
	}
	// A base transport that dials TLS itself (a proxying or pinning
	// dialer): the deny list still decides every dial.
	base := tlsSrv.Client().Transport.(*http.Transport).Clone()
	base.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return (&tls.Dialer{Config: base.TLSClientConfig}).DialContext(ctx, network, addr)
	}
	if err := get(base, tlsSrv.URL); err != nil {
		t.Fatal(err)
	}
	before = served.Load()
	if denying, err = denyingTransport(base, loopbackAndLinkLocal); err != nil {
		t.Fatal(err)
	}
	if err := get(denying, tlsSrv.URL); !errors.Is(err, ErrDenied) {
		t.Errorf("a base transport's own TLS dialer: %v, want ErrDenied", err)
	}
	if n := served.Load() - before; n != 0 {
		t.Errorf("%d requests reached a denied address", n)
	}
}

// TestIdleConnectionsBoundedAcrossRegistries: each registry may keep as
// many idle connections as it may have requests in flight, but a
// repository naming images on thousands of registries (a wildcard DNS
// name each) must not leave thousands of sockets open in the service: the
// shared transport bounds them in all, as ggcr's did (100).
func TestIdleConnectionsBoundedAcrossRegistries(t *testing.T) {
	ht := DefaultTransport.(*http.Transport)
	if ht.MaxIdleConnsPerHost < 64 || ht.MaxIdleConns <= 0 || ht.MaxIdleConns > 4*MaxPerRegistry {
		t.Errorf("MaxIdleConnsPerHost %d, MaxIdleConns %d: want at least the default 64 in flight per registry and a bound in all",
			ht.MaxIdleConnsPerHost, ht.MaxIdleConns)
	}
}
