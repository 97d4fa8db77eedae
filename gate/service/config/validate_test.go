package config

import (
	"net/netip"
	"testing"
)

func TestLoadConfigGitHubAttestations(t *testing.T) {
	c := loadYAML(t, `
repos:
- name: acme/gitops
  attestations: github
  githubAttestations: {repos: [acme/app], trustedRoot: /etc/gh.jsonl, signerWorkflow: acme/app/.github/workflows/release.yml, sourceRef: refs/heads/main, denySelfHostedRunners: true}
`, "")
	if r, _ := c.Settings("acme/gitops"); r.GitHubAttestations.Rule() == nil || r.GitHubAttestations.TrustedRoot != "/etc/gh.jsonl" {
		t.Errorf("settings: %+v", r)
	}
	for yml, wantErr := range map[string]string{
		"repos: [{name: acme/gitops, attestations: gitlab}]":                                              `repos[0].attestations "gitlab": want github or off`,
		"repos: [{name: acme/gitops, githubAttestations: {owner: acme}}]":                                 "repos[0].githubAttestations is set but repos[0].attestations is not github",
		"defaults: {attestations: github, githubAttestations: {sourceRef: refs/heads/main}}":              "defaults.githubAttestations: name the workflow that must have signed",
		"repos: [{name: acme/gitops, attestations: github, githubAttestations: {signerRepoo: acme/app}}]": "repos[0].githubAttestations.signerRepoo: unknown key; did you mean signerRepo?",
	} {
		loadYAML(t, yml, wantErr)
	}
}

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
