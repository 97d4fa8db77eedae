package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrDenied marks a registry address the configuration denies.
var ErrDenied = errors.New("registry address denied")

// denied reports whether addr is in one of the prefixes.
func denied(deny []netip.Prefix, addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range deny {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// checkHost refuses a request whose host is a literal address in deny,
// before any connection: the error is the same whether or not anything
// listens there, so it maps no ports.
func checkHost(deny []netip.Prefix, host string) error {
	if len(deny) == 0 {
		return nil
	}
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if a, err := netip.ParseAddr(h); err == nil && denied(deny, a) {
		return fmt.Errorf("%w: %s is denied (registries.deny, --registry-deny)", ErrDenied, host)
	}
	if h == "localhost" || len(h) > 10 && h[len(h)-10:] == ".localhost" {
		if denied(deny, netip.MustParseAddr("127.0.0.1")) {
			return fmt.Errorf("%w: %s is denied (registries.deny, --registry-deny)", ErrDenied, host)
		}
	}
	return nil
}

// denyingTransport is base with a dialer that refuses denied addresses as
// they are dialled, after DNS: a name that resolves to a denied address
// (or is rebound to one) is refused as well.
func denyingTransport(base http.RoundTripper, deny []netip.Prefix) (http.RoundTripper, error) {
	if base == nil {
		base = DefaultTransport
	}
	ht, ok := base.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("registry: a deny list needs an *http.Transport, got %T", base)
	}
	ht = ht.Clone()
	d := &net.Dialer{
		Timeout:   30 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: cannot check %s", ErrDenied, address)
			}
			if denied(deny, ap.Addr()) {
				return fmt.Errorf("%w: %s is denied (registries.deny, --registry-deny)", ErrDenied, ap.Addr())
			}
			return nil
		},
	}
	ht.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	// A base's own TLS dialer would dial around the denying one: TLS is
	// then the transport's, over DialContext, with the base's
	// TLSClientConfig. (The clone starts with no kept connections, so none
	// dialled without the deny list is reused.)
	ht.DialTLSContext, ht.DialTLS = nil, nil
	return ht, nil
}
