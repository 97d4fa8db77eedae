package manifests

import (
	"context"
	"reflect"
	"sync"
	"testing"
)

// TestScanOnApp: OnApp sees every app exactly once, with its rendering when
// it was rendered and nil when it was carried over; what it adds to an entry
// is in the inventory; with Discard no rendering is kept; and the inventory
// equals the one a plain scan returns.
func TestScanOnApp(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"a/deployment.yaml": goodDeployment,
		"b/deployment.yaml": goodDeployment,
		"c/deployment.yaml": goodDeployment,
	})
	ctx := context.Background()
	open := func() *Repo {
		r, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	plain, _, err := open().Scan(ctx, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[int]int{}
	withRendering := map[string]bool{}
	inv, rendered, err := open().Scan(ctx, ScanOptions{
		Discard: true,
		Reuse: func(a App) (AppImages, bool) {
			if a.Name != "b" {
				return AppImages{}, false
			}
			for _, e := range plain.Apps {
				if e.Name == "b" {
					e.CarriedOver = true
					return e, true
				}
			}
			return AppImages{}, false
		},
		OnApp: func(i int, app *AppImages, rd *Rendered) {
			mu.Lock()
			defer mu.Unlock()
			seen[i]++
			withRendering[app.Name] = rd != nil
			if rd != nil && rd.App.Name != app.Name {
				t.Errorf("app %d: entry %s, rendering of %s", i, app.Name, rd.App.Name)
			}
			app.Warnings = append(app.Warnings, Warning{Message: "seen"})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rendered != nil {
		t.Errorf("Discard: %d renderings returned", len(rendered))
	}
	if len(seen) != len(inv.Apps) || len(inv.Apps) != 3 {
		t.Fatalf("OnApp saw %v of %d apps", seen, len(inv.Apps))
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("OnApp saw app %d %d times", i, n)
		}
	}
	if want := map[string]bool{"a": true, "b": false, "c": true}; !reflect.DeepEqual(withRendering, want) {
		t.Errorf("renderings handed to OnApp: %v, want %v", withRendering, want)
	}
	for i, a := range inv.Apps {
		if n := len(a.Warnings); n == 0 || a.Warnings[n-1].Message != "seen" {
			t.Errorf("app %s: what OnApp added is lost: %+v", a.Name, a.Warnings)
		}
		if a.Name != plain.Apps[i].Name || !reflect.DeepEqual(a.Images, plain.Apps[i].Images) {
			t.Errorf("app %d: %s %+v, plain scan %s %+v", i, a.Name, a.Images, plain.Apps[i].Name, plain.Apps[i].Images)
		}
	}
}
