package service

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/store"
)

// TestHalfConfiguredAccessControlIsRefused: a basic auth missing one half
// (a password alone left every page open) and a user header without the
// proxies it may come from refuse to start, naming what is missing.
func TestHalfConfiguredAccessControlIsRefused(t *testing.T) {
	t.Setenv("GITOPS_GATE_UI_PASSWORD", "")
	for yml, wantErr := range map[string]string{
		"ui: {basicAuth: {username: admin}}":                                       "password is missing",
		"ui: {basicAuth: {password: s3cret}}":                                      "username is missing (ui.basicAuth.username)",
		"ui: {trustedUserHeader: X-Forwarded-User}":                                "set ui.trustedProxies",
		"ui: {trustedUserHeader: X-User, trustedProxies: [not-an-ip]}":             `ui.trustedProxies[0] "not-an-ip"`,
		"ui: {basicAuth: {username: admin, password: s3cret}}":                     "",
		"ui: {trustedUserHeader: X-User, trustedProxies: [10.0.0.1, 10.1.0.0/16]}": "",
		"server: {writeTimeout: 5m}":                                               "longer than the longest ?wait=",
		"server: {webhookMaxBody: 30Mi}":                                           "at most 25Mi",
		"registries: {deny: [nonsense]}":                                           `registries.deny[0] "nonsense"`,
	} {
		loadYAML(t, yml, wantErr)
	}
	t.Setenv("GITOPS_GATE_UI_PASSWORD", "from-env")
	loadYAML(t, "{}", "a password is set (GITOPS_GATE_UI_PASSWORD) but the username is missing")
	if c := loadYAML(t, "ui: {basicAuth: {username: admin}}", ""); c.UI.BasicAuth.Password != "from-env" {
		t.Errorf("password %q", c.UI.BasicAuth.Password)
	}
}

// TestRegistryDenyDefault: unset, registries.deny is loopback and
// link-local; [] denies nothing; a list replaces the default.
func TestRegistryDenyDefault(t *testing.T) {
	t.Setenv("GITOPS_GATE_UI_PASSWORD", "")
	c := loadYAML(t, "{}", "")
	contains := func(c *Config, a string) bool {
		for _, p := range c.RegistryDeny() {
			if p.Contains(netip.MustParseAddr(a)) {
				return true
			}
		}
		return false
	}
	for _, a := range []string{"127.0.0.1", "127.5.6.7", "::1", "169.254.169.254", "fe80::1"} {
		if !contains(c, a) {
			t.Errorf("default deny lacks %s", a)
		}
	}
	if contains(c, "10.0.0.1") {
		t.Error("private addresses are not denied by default (registries live there)")
	}
	if c := loadYAML(t, "registries: {deny: []}", ""); len(c.RegistryDeny()) != 0 {
		t.Errorf("[]: %v", c.RegistryDeny())
	}
	if c := loadYAML(t, "registries: {deny: [10.0.0.0/8]}", ""); !contains(c, "10.1.2.3") || contains(c, "127.0.0.1") {
		t.Errorf("a list replaces the default: %v", c.RegistryDeny())
	}
}

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
