package manifests

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func appList(apps []App) string {
	var b strings.Builder
	for _, a := range apps {
		fmt.Fprintf(&b, "%s %s %s\n", a.Name, a.Path, a.Kind)
	}
	return b.String()
}

// TestKustomizeEntryCacheAcrossRepositories: the cache is process-wide and
// keyed by content; the same kustomization in another repository, another
// directory, resolves its entries against its own directory: what one
// repository's discovery parsed never changes which directories another's
// treats as bases (and so which are apps of their own).
func TestKustomizeEntryCacheAcrossRepositories(t *testing.T) {
	const k = "resources:\n- ../base\n- extra.yaml\n"
	const dep = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: {containers: [{name: c, image: nginx:1}]}}}\n"
	first := writeTree(t, map[string]string{
		"overlays/prod/kustomization.yaml": k,
		"overlays/prod/extra.yaml":         dep,
		"overlays/base/kustomization.yaml": "resources: [d.yaml]\n",
		"overlays/base/d.yaml":             dep,
	})
	second := writeTree(t, map[string]string{
		"apps/web/kustomization.yaml": k, // its ../base is a plain app here, and does not exist as such
		"apps/web/extra.yaml":         dep,
		"apps/basis/d.yaml":           dep,
		"base/d.yaml":                 dep,
	})
	discover := func(dir string) string {
		r, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		apps, err := r.Discover(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return appList(apps)
	}
	if got, want := discover(first), "overlays/prod overlays/prod kustomize\n"; got != want {
		t.Errorf("first repository: apps\n%s\nwant\n%s", got, want)
	}
	// Its kustomization's entries are now cached; here ../base is not there.
	if got, want := discover(second), "apps/basis apps/basis plain\napps/web apps/web kustomize\nbase base plain\n"; got != want {
		t.Errorf("second repository: apps\n%s\nwant\n%s", got, want)
	}
}
