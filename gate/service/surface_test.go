package service

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/store"
)

// TestCloneURLFromTheGitHubHost: without a configured cloneURL, the API's
// evaluation fetches from the configured GitHub: github.com, or the
// GitHub Enterprise Server of github.baseURL, never github.com then.
func TestCloneURLFromTheGitHubHost(t *testing.T) {
	t.Setenv("GITOPS_GATE_UI_PASSWORD", "")
	pol, _ := filepath.Abs("../../testdata/policies/demo.yaml")
	for base, want := range map[string]string{
		"":                                "https://github.com/acme/gitops.git",
		"https://api.github.com/":         "https://github.com/acme/gitops.git",
		"https://ghe.example.com/api/v3/": "https://ghe.example.com/acme/gitops.git",
	} {
		c := loadYAML(t, "dataDir: "+t.TempDir()+"\ngithub: {baseURL: '"+base+"'}\nrepos: [{name: acme/gitops, policies: ["+pol+"]}]\n", "")
		st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		s, err := New(Options{Config: c, Store: st})
		if err != nil {
			t.Fatal(err)
		}
		sha := strings.Repeat("a", 40)
		id, err := s.Submit(context.Background(), Request{Repo: "acme/gitops", Revision: sha})
		if err != nil {
			t.Fatal(err)
		}
		ev, _ := st.Get(context.Background(), id)
		if ev.Spec.CloneURL != want {
			t.Errorf("baseURL %q: clone URL %s, want %s", base, ev.Spec.CloneURL, want)
		}
		if _, err := s.Submit(context.Background(), Request{Repo: "acme/gitops", Revision: sha, CloneURL: "https://evil.example.com/acme/gitops.git"}); err == nil {
			t.Errorf("baseURL %q: a cloneUrl elsewhere was accepted", base)
		}
		if _, err := s.Submit(context.Background(), Request{Repo: "acme/gitops", Revision: sha, CloneURL: strings.TrimSuffix(want, ".git")}); err != nil {
			t.Errorf("baseURL %q: repeating the gate's own clone URL: %v", base, err)
		}
	}
}

// TestSameRepoURL: an API caller's cloneUrl is compared with the gate's
// by host and path, across the forms Argo CD Applications use.
func TestSameRepoURL(t *testing.T) {
	gate := "https://github.com/acme/gitops.git"
	for u, want := range map[string]bool{
		"https://github.com/acme/gitops":         true,
		"https://GitHub.com/acme/gitops.git/":    true,
		"git@github.com:acme/gitops.git":         true,
		"ssh://git@github.com/acme/gitops.git":   true,
		"https://github.com/acme/gitops-evil":    false,
		"https://evil.example.com/acme/gitops":   false,
		"http://127.0.0.1:18082/acme/gitops.git": false,
		"/acme/gitops":                           false,
		"file:///acme/gitops":                    false,
		"https://github.com/Acme/GitOps":         true, // GitHub names are case-insensitive
	} {
		if got := sameRepoURL(u, gate); got != want {
			t.Errorf("%s: %v, want %v", u, got, want)
		}
	}
}

// TestRegistryMetricLabelsBounded: a repository naming 500 registry hosts
// adds no series: only registries named in policies are label values,
// the rest are "other".
func TestRegistryMetricLabelsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, nil)
	pol, _ := filepath.Abs("../../testdata/policies/demo.yaml")
	set, err := policy.Load(pol)
	if err != nil {
		t.Fatal(err)
	}
	hosts := policyRegistries(set)
	m.knowRegistries(append(hosts, "ghcr.io"))
	m.observeRegistry("ghcr.io", 200, nil)
	for i := range 500 {
		m.observeRegistry("127.0.0."+strings.Repeat("1", i%3+1)+":"+string(rune('0'+i%10))+"000"+string(rune('a'+i%26)), 500, nil)
	}
	families, _ := reg.Gather()
	labels := map[string]bool{}
	for _, f := range families {
		if f.GetName() != "gitops_gate_registry_requests_total" && f.GetName() != "gitops_gate_registry_errors_total" {
			continue
		}
		for _, mt := range f.Metric {
			for _, l := range mt.Label {
				if l.GetName() == "registry" {
					labels[l.GetValue()] = true
				}
			}
		}
	}
	if len(labels) != 2 || !labels["ghcr.io"] || !labels["other"] {
		t.Errorf("registry labels %v, want ghcr.io and other", labels)
	}
}
