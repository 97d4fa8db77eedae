package manifests

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeCharts is a ChartFetcher over charts written in a directory.
type fakeCharts struct {
	root  string
	mu    sync.Mutex
	calls []string
}

func (f *fakeCharts) FetchChart(_ context.Context, repoURL, chart, version string) (FetchedChart, error) {
	f.mu.Lock()
	f.calls = append(f.calls, repoURL+" "+chart+" "+version)
	f.mu.Unlock()
	if chart != "db" {
		return FetchedChart{}, errors.New("no such chart")
	}
	return FetchedChart{Dir: filepath.Join(f.root, "db"), Version: "3.1.0", Digest: "sha256:abc"}, nil
}

// TestChartDependenciesFetched: a dependency that is not vendored comes
// through the ChartFetcher when its repository is allowed — at the
// version Chart.lock pins — in process and in the Helm sandbox; the app
// names what it resolved to. Not allowed, it is an error naming the
// repository and nothing is fetched.
func TestChartDependenciesFetched(t *testing.T) {
	const repo = "https://charts.example.com"
	charts := &fakeCharts{root: writeTree(t, map[string]string{
		"db/Chart.yaml":         "apiVersion: v2\nname: db\nversion: 3.1.0\n",
		"db/values.yaml":        "image: registry.example/db:3\n",
		"db/templates/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: db}\nspec:\n  containers:\n  - name: db\n    image: {{ .Values.image }}\n",
	})}
	dir := writeTree(t, map[string]string{
		"app/Chart.yaml":  "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: db\n  version: ^3.0.0\n  repository: " + repo + "\n",
		"app/Chart.lock":  "dependencies:\n- name: db\n  version: 3.1.0\n  repository: " + repo + "\n",
		"app/values.yaml": "db:\n  image: registry.example/db:pinned\n",
	})
	for name, sandbox := range map[string]*HelmSandbox{"in process": nil, "sandbox": testSandbox(time.Minute, 0)} {
		charts.calls = nil
		a := appByName(t, scan(t, dir, Options{AllowSources: []string{repo}, Charts: charts, HelmSandbox: sandbox}), "app")
		if a.Error != "" || strings.Join(imagesOf(a), " ") != "registry.example/db:pinned" {
			t.Errorf("%s: %+v", name, a)
		}
		if len(a.Dependencies) != 1 || a.Dependencies[0].Version != "3.1.0" || a.Dependencies[0].Digest != "sha256:abc" {
			t.Errorf("%s: dependencies %+v", name, a.Dependencies)
		}
		if strings.Join(charts.calls, ",") != repo+" db 3.1.0" {
			t.Errorf("%s: fetched %v, want the locked version", name, charts.calls)
		}
		if sandbox != nil {
			sandbox.Close()
		}
	}
	charts.calls = nil
	a := appByName(t, scan(t, dir, Options{Charts: charts}), "app")
	if !strings.Contains(a.Error, "repository "+repo+" is not allowed") || len(charts.calls) != 0 {
		t.Errorf("not allowed: %q, fetched %v", a.Error, charts.calls)
	}
}
