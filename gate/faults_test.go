package gate_test

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/registry"
)

// TestFaultMatrix evaluates signed, unsigned and wrongly signed images
// against every registry fault the fixture can inject. An image may pass
// only if it is genuinely signed by the trusted identity; whatever the
// gate could not check ends in error with a reason. It prints the table.
func TestFaultMatrix(t *testing.T) {
	e := newEnv(t)
	pols := e.policy(acmePolicy, true)
	var refs []string
	signed := map[string]bool{}
	for i := 0; i < 16; i++ {
		d := e.push(fmt.Sprintf("acme/svc-%02d:v1", i))
		ref := e.w.Ref(fmt.Sprintf("acme/svc-%02d:v1", i))
		switch {
		case i < 8:
			e.sign(d, gatetest.SignOptions{})
			signed[ref] = true
		case i < 12:
			e.sign(d, gatetest.SignOptions{Identity: gatetest.IdentityFor("evil/fork", "refs/heads/main")})
		}
		refs = append(refs, ref)
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	defer registry.DefaultTransport.(*http.Transport).CloseIdleConnections()

	for _, c := range []struct {
		name    string
		faults  gatetest.Faults
		timeout time.Duration
		// allError: no signed image can be genuinely verified under this fault.
		allError bool
	}{
		{name: "none", faults: gatetest.Faults{}},
		{name: "5xx burst (6 x 503)", faults: gatetest.Faults{Status: 503, FailNext: 6}},
		{name: "429 with Retry-After: 1 (3x)", faults: gatetest.Faults{Status: 429, FailNext: 3, RetryAfter: "1"}},
		{name: "500 on every request", faults: gatetest.Faults{Status: 500}, allError: true},
		{name: "connection dropped mid-body", faults: gatetest.Faults{DropConnection: true}, allError: true},
		{name: "slower than the timeout", faults: gatetest.Faults{Latency: 400 * time.Millisecond}, timeout: 100 * time.Millisecond, allError: true},
		// The verdict is over the digest the registry announced and every
		// signature binds that digest, so altered manifest bytes change
		// nothing; by-digest fetches are checked by go-containerregistry.
		{name: "manifest bytes do not match the digest", faults: gatetest.Faults{LieManifests: true}},
		{name: "64 MiB signature layer (limit 32 MiB)", faults: gatetest.Faults{OversizeBlobs: 64 << 20}, allError: true},
	} {
		e.w.Registry.SetFaults(c.faults)
		e.ropts.Timeout, e.ropts.Retries = 2*time.Second, 3
		if c.timeout > 0 {
			e.ropts.Timeout, e.ropts.Retries = c.timeout, 1
		}
		rep := e.evaluate(pols, refs)
		var passed, failed, errored, falsePass int
		for _, v := range rep.Apps[0].Images {
			switch v.Status {
			case gate.StatusPass:
				passed++
				if !signed[v.Image] {
					falsePass++
					t.Errorf("%s: %s passed without a trusted signature", c.name, v.Image)
				}
				if c.allError {
					t.Errorf("%s: %s passed though the registry could not be read", c.name, v.Image)
				}
			case gate.StatusFail:
				failed++
				if signed[v.Image] {
					// A signed image the gate could not read must be an
					// error (retry later), not a verdict against it.
					t.Errorf("%s: signed %s failed: %s", c.name, v.Image, v.Reason)
				}
			case gate.StatusError:
				errored++
				if v.Reason == "" {
					t.Errorf("%s: %s errored without a reason", c.name, v.Image)
				}
			default:
				t.Errorf("%s: %s: %s", c.name, v.Image, v.Status)
			}
		}
		if c.name == "none" && (passed != 8 || failed != 8) {
			t.Errorf("healthy registry: %d passed, %d failed, want 8 and 8", passed, failed)
		}
		if errored > 0 && rep.Result == gate.StatusPass {
			t.Errorf("%s: evaluation passed with %d errors", c.name, errored)
		}
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		fmt.Printf("fault %-40s images %2d  passed %2d  failed %2d  errored %2d  false passes %d  heap %3d MiB\n",
			c.name, len(refs), passed, failed, errored, falsePass, ms.HeapInuse>>20)
		if ms.HeapInuse > 256<<20 {
			t.Errorf("%s: heap %d MiB", c.name, ms.HeapInuse>>20)
		}
		if c.name == "64 MiB signature layer (limit 32 MiB)" {
			for _, v := range rep.Apps[0].Images {
				if signed[v.Image] && !strings.Contains(v.Reason, "limit") {
					t.Errorf("oversize: %s: %q, want the limit named", v.Image, v.Reason)
				}
			}
		}
	}
	e.w.Registry.SetFaults(gatetest.Faults{})
}
