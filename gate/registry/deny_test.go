package registry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
)

var loopbackAndLinkLocal = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("169.254.0.0/16")}

// TestDenyListConnectsNowhere: a repository names images on loopback
// addresses (the gate's own ports, by number, or through a name that
// resolves there). With those addresses denied the gate connects to none
// of them and the error is the same whether anything listens or not; with
// the registry allowed (nothing denied) it resolves as before.
func TestDenyListConnectsNowhere(t *testing.T) {
	canary, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer canary.Close()
	var conns atomic.Int64
	go func() {
		for {
			c, err := canary.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(canary.Addr().String())
	ctx := context.Background()
	r := testResolver(t, Options{Deny: loopbackAndLinkLocal, Retries: -1})
	var msgs []string
	for _, ref := range []string{"127.0.0.1:" + port + "/acme/app:v1", "127.0.0.9:1/acme/app:v1", "localhost:" + port + "/acme/app:v1", "169.254.169.254/latest:v1"} {
		_, err := r.Resolve(ctx, parse(t, ref))
		if !errors.Is(err, ErrDenied) {
			t.Errorf("%s: %v, want ErrDenied", ref, err)
			continue
		}
		msgs = append(msgs, err.Error())
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections reached the loopback canary", n)
	}
	for _, m := range msgs {
		if strings.Contains(m, "refused") || strings.Contains(m, "timeout") {
			t.Errorf("the error says whether the port is open: %s", m)
		}
	}
	// A name that resolves to a denied address is refused at the dial.
	tr, err := denyingTransport(nil, loopbackAndLinkLocal)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://localhost:"+port+"/v2/", nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, ErrDenied) {
		t.Errorf("a name resolving to loopback: %v, want ErrDenied", err)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections reached the loopback canary", n)
	}
	// The legitimate variant: the test registry, explicitly allowed.
	w := gatetest.NewWorld(t)
	if _, err := w.PushImage(ctx, "acme/app:v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := testResolver(t, Options{}).Resolve(ctx, parse(t, w.Ref("acme/app:v1"))); err != nil {
		t.Errorf("allowed registry: %v", err)
	}
	if _, err := testResolver(t, Options{Deny: loopbackAndLinkLocal}).Resolve(ctx, parse(t, w.Ref("acme/app:v1"))); !errors.Is(err, ErrDenied) {
		t.Errorf("the same registry denied: %v", err)
	}
}
