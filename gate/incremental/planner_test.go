package incremental_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/incremental"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// fakeCheckout answers InputHash from a map; a missing path is an error.
type fakeCheckout map[string]string

func (f fakeCheckout) InputHash(in incremental.Input) (string, error) {
	h, ok := f[string(in.Kind)+":"+in.Path]
	if !ok {
		return "", errors.New("unreadable")
	}
	return h, nil
}

func record(apps ...manifests.AppImages) *incremental.Record {
	return incremental.NewRecord(fp, &manifests.Inventory{APIVersion: manifests.InventoryAPIVersion, Apps: apps}, nil)
}

func entry(app manifests.App, inputs ...incremental.Input) manifests.AppImages {
	return manifests.AppImages{Name: app.Name, Path: app.Path, Kind: app.Kind, Images: []manifests.ImageRef{{App: app.Name, Image: "registry.example/" + app.Name + ":1"}},
		Source: &app, Inputs: &manifests.InputSet{Inputs: inputs}}
}

// TestPlannerDecisions: what is carried over and what is not, app by app.
func TestPlannerDecisions(t *testing.T) {
	a := manifests.App{Name: "a", Path: "apps/a", Kind: manifests.KindPlain}
	b := manifests.App{Name: "b", Path: "apps/b", Kind: manifests.KindPlain}
	c := manifests.App{Name: "c", Path: "apps/c", Kind: manifests.KindPlain}
	in := func(p, h string) incremental.Input { return incremental.Input{Path: p, Hash: h} }
	dir := func(p, h string) incremental.Input {
		return incremental.Input{Path: p, Kind: manifests.InputDir, Hash: h}
	}
	errored := entry(c, in("apps/c/d.yaml", "1"))
	errored.Error = "boom"
	base := record(
		entry(a, in("apps/a/d.yaml", "1"), dir("apps/a", "L1")),
		entry(b, in("apps/b/d.yaml", "1"), in("apps/b/absent.yaml", "")),
		errored,
	)
	checkout := fakeCheckout{"dir:apps/a": "L1", ":apps/a/d.yaml": "1", ":apps/b/d.yaml": "1", ":apps/b/absent.yaml": "", ":apps/c/d.yaml": "1"}
	p := incremental.NewPlanner(incremental.Options{Base: base, Fingerprint: fp})
	if r := p.FullReason(); r != "" {
		t.Fatalf("full render: %s", r)
	}
	e, ok := p.Reuse(a, checkout)
	if !ok || !e.CarriedOver || e.Source == nil || e.Inputs == nil || len(e.Images) != 1 {
		t.Errorf("unchanged app a: %+v, %v", e, ok)
	}
	if _, ok := p.Reuse(b, checkout); !ok {
		t.Error("unchanged app b (an absent input still absent) not carried over")
	}
	if _, ok := p.Reuse(c, checkout); ok {
		t.Error("an app that had an error was carried over")
	}
	for name, cp := range map[string]fakeCheckout{
		"content changed":    {"dir:apps/a": "L1", ":apps/a/d.yaml": "2"},
		"listing changed":    {"dir:apps/a": "L2", ":apps/a/d.yaml": "1"},
		"input unreadable":   {"dir:apps/a": "L1"},
		"absent file exists": {":apps/b/d.yaml": "1", ":apps/b/absent.yaml": "3"},
	} {
		app := a
		if strings.HasPrefix(name, "absent") {
			app = b
		}
		if _, ok := incremental.NewPlanner(incremental.Options{Base: base, Fingerprint: fp}).Reuse(app, cp); ok {
			t.Errorf("%s: carried over", name)
		}
	}
	changed := a
	changed.Namespace = "other"
	if _, ok := p.Reuse(changed, checkout); ok {
		t.Error("an app whose definition changed was carried over")
	}
	failed := a
	failed.Err = errors.New("discovery error")
	if _, ok := p.Reuse(failed, checkout); ok {
		t.Error("an app with a discovery error was carried over")
	}
	if r, c := p.Counts(); r != 3 || c != 2 {
		t.Errorf("counts: %d rendered, %d carried over; want 3, 2", r, c)
	}

	// Two base apps of one definition: neither is used.
	dup := record(entry(a, in("apps/a/d.yaml", "1")), entry(a, in("apps/a/d.yaml", "1")))
	if _, ok := incremental.NewPlanner(incremental.Options{Base: dup, Fingerprint: fp}).Reuse(a, checkout); ok {
		t.Error("an app of a duplicated definition was carried over")
	}
	// An app recorded with no input at all is not known to depend on nothing.
	empty := record(entry(a))
	if _, ok := incremental.NewPlanner(incremental.Options{Base: empty, Fingerprint: fp}).Reuse(a, checkout); ok {
		t.Error("an app with an empty input set was carried over")
	}
	// Always-render apps.
	always := entry(a, in("apps/a/d.yaml", "1"))
	always.Inputs.Always = "its files come from elsewhere"
	if rec := record(always); rec.Apps[0].Always == "" {
		t.Error("always-render reason not recorded")
	} else if _, ok := incremental.NewPlanner(incremental.Options{Base: rec, Fingerprint: fp}).Reuse(a, checkout); ok {
		t.Error("an always-render app was carried over")
	}
}

// TestPlannerFullRenders: no base, --full, another format or another
// fingerprint render everything, each saying why.
func TestPlannerFullRenders(t *testing.T) {
	a := manifests.App{Name: "a", Path: "apps/a", Kind: manifests.KindPlain}
	base := record(entry(a, incremental.Input{Path: "apps/a/d.yaml", Hash: "1"}))
	checkout := fakeCheckout{":apps/a/d.yaml": "1"}
	old := *base
	old.Version = incremental.FormatVersion - 1
	for _, c := range []struct {
		o    incremental.Options
		want string
	}{
		{incremental.Options{Fingerprint: fp}, "no earlier evaluation"},
		{incremental.Options{Base: base, Fingerprint: fp, Full: true}, "a full render was asked for"},
		{incremental.Options{Base: &old, Fingerprint: fp}, "recorded in format"},
		{incremental.Options{Base: base, Fingerprint: incremental.Fingerprint{Gate: "other", Policies: "p", Rendering: "r"}}, "the gate's version changed"},
		{incremental.Options{Base: base, Fingerprint: incremental.Fingerprint{Gate: "test", Policies: "q", Rendering: "s"}}, "the policies, the rendering settings changed"},
	} {
		p := incremental.NewPlanner(c.o)
		if !strings.Contains(p.FullReason(), c.want) {
			t.Errorf("full reason %q, want %q", p.FullReason(), c.want)
		}
		if _, ok := p.Reuse(a, checkout); ok {
			t.Errorf("%s: carried over", c.want)
		}
	}
	// The record survives its encoding.
	data, err := incremental.Encode(base)
	if err != nil {
		t.Fatal(err)
	}
	back, err := incremental.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := incremental.NewPlanner(incremental.Options{Base: back, Fingerprint: fp}).Reuse(a, checkout); !ok {
		t.Error("a decoded record does not carry its app over")
	}
	if _, err := incremental.Decode([]byte("not gzip")); err == nil {
		t.Error("garbage decoded as a record")
	}
}
