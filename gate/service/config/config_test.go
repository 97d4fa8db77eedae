package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/manifests"
)

func TestLoadConfigStore(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, env, wantErr, wantDSN string
	}{
		{name: "default", yaml: "{}", wantDSN: ""},
		{name: "postgres", yaml: "store: {driver: postgres, dsn: 'postgres://gate@db/gate'}", wantDSN: "postgres://gate@db/gate"},
		{name: "postgres dsn from env", yaml: "store: {driver: postgres}", env: "postgres://gate:pw@db/gate", wantDSN: "postgres://gate:pw@db/gate"},
		{name: "postgres without dsn", yaml: "store: {driver: postgres}", wantErr: "store.dsn"},
		{name: "unknown driver", yaml: "store: {driver: mysql}", wantErr: `store.driver "mysql": want sqlite or postgres`},
		{name: "unknown field", yaml: "store: {driver: sqlite, dns: x}", wantErr: "store.dns: unknown key; did you mean dsn?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GITOPS_GATE_STORE_DSN", tc.env)
			c := loadYAML(t, tc.yaml, tc.wantErr)
			if c == nil {
				return
			}
			if c.Store.DSN != tc.wantDSN {
				t.Fatalf("dsn = %q, want %q", c.Store.DSN, tc.wantDSN)
			}
		})
	}
}

func TestLoadConfigLimits(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, wantErr string
		memory, file, helm  int64
		helmTimeout         time.Duration
	}{
		{name: "defaults", yaml: "{}", memory: 1 << 30, file: manifests.DefaultMaxFileSize, helm: manifests.DefaultHelmMemoryLimit, helmTimeout: manifests.DefaultHelmTimeout},
		{name: "set", yaml: "limits: {memory: 2Gi, maxFileSize: 1Mi, helmMemory: 256Mi, helmTimeout: 20s}", memory: 2 << 30, file: 1 << 20, helm: 256 << 20, helmTimeout: 20 * time.Second},
		{name: "bad size", yaml: "limits: {memory: lots}", wantErr: `limits.memory "lots": want a positive size`},
		{name: "negative size", yaml: "limits: {helmMemory: -1Mi}", wantErr: `limits.helmMemory "-1Mi"`},
		{name: "unknown field", yaml: "limits: {cpu: 2}", wantErr: "limits.cpu: unknown key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := loadYAML(t, tc.yaml, tc.wantErr)
			if c == nil {
				return
			}
			l := c.Limits
			if l.memory != tc.memory || l.maxFileSize != tc.file || l.helmMemory != tc.helm || l.HelmTimeout != tc.helmTimeout {
				t.Fatalf("limits %+v", l)
			}
		})
	}
}

func TestLoadConfigProposePins(t *testing.T) {
	for yml, wantErr := range map[string]string{
		"github: {proposePins: comment}": "",
		"github: {proposePins: off}":     "",
		"github: {proposePins: commit}":  `github.proposePins "commit": want comment or off`,
	} {
		loadYAML(t, yml, wantErr)
	}
}

// TestLoadConfigArgoCDClusters: the cluster list ApplicationSet clusters
// generators expand to comes from the configuration, each with a name and
// a server.
func TestLoadConfigArgoCDClusters(t *testing.T) {
	c := loadYAML(t, "argocd: {clusters: [{name: prod, server: https://prod.example, labels: {env: prod}}]}", "")
	if len(c.ArgoCD.Clusters) != 1 || c.ArgoCD.Clusters[0].Labels["env"] != "prod" {
		t.Errorf("clusters = %+v", c.ArgoCD.Clusters)
	}
	loadYAML(t, "argocd: {clusters: [{name: prod}]}", "argocd.clusters[0]: needs a name and a server")
	loadYAML(t, "argocd: {clusters: [{name: prod, server: s, labelz: {}}]}", "labelz")
}

// loadYAML loads a configuration file holding yml. With wantErr, the load
// must fail with an error containing it, and loadYAML returns nil.
func loadYAML(t *testing.T, yml, wantErr string) *Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	switch {
	case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
		t.Fatalf("%s: err = %v, want %q", yml, err, wantErr)
	case wantErr != "":
		return nil
	case err != nil:
		t.Fatalf("%s: %v", yml, err)
	}
	return c
}

// TestLoadConfigNamesKeys: configuration errors name the config key (not a
// Go type or a CLI flag), every one of them, and suggest the nearest key.
func TestLoadConfigNamesKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(p, []byte("repo:\n  - name: a/b\nleaseTimout: 3m\nworkers: many\nrepos:\n  - name: a/c\n    trustedRooot: x\n    requireMatch: maybe\nevaluationTimeout: soon\n"), 0o600)
	_, err := Load(p)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		p + ":1: repo: unknown key; did you mean repos?",
		":3: leaseTimout: unknown key; did you mean leaseTimeout?",
		`:4: workers: "many": want a whole number`,
		":7: repos[0].trustedRooot: unknown key; did you mean trustedRoot?",
		`:8: repos[0].requireMatch: "maybe": want true or false`,
		`:9: evaluationTimeout: "soon": want a duration such as 30s`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "config.Config") || strings.Contains(err.Error(), "--") {
		t.Errorf("the error speaks of Go types or flags:\n%v", err)
	}
	c := loadYAML(t, "repos:\n  - name: a/c\n    policies: [p/]\n    policyIgnore: [kustomization.yaml]\n", "")
	if got := c.Repos[0].PolicyIgnore; len(got) != 1 || got[0] != "kustomization.yaml" {
		t.Errorf("policyIgnore %q", got)
	}
}

// TestLoadConfigAppKey: a GitHub App with an empty or missing private key
// (the example Secret's app.pem: "") used to start with a warning and post
// no status ever; it is a configuration error naming the key.
func TestLoadConfigAppKey(t *testing.T) {
	dir := t.TempDir()
	empty, junk, good := filepath.Join(dir, "empty.pem"), filepath.Join(dir, "junk.pem"), filepath.Join(dir, "app.pem")
	os.WriteFile(empty, []byte("\n"), 0o600)
	os.WriteFile(junk, []byte("paste the key here"), 0o600)
	os.WriteFile(good, []byte("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"), 0o600)
	for _, tc := range []struct{ name, yaml, env, wantErr string }{
		{"no app", "{}", "", ""},
		{"app with key file", "github: {appID: 7, privateKeyFile: " + good + "}", "", ""},
		{"app with key in env", "github: {appID: 7}", "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n", ""},
		{"app without key", "github: {appID: 7}", "", "github.appID 7: the App's private key is missing: set github.privateKeyFile or GITOPS_GATE_GITHUB_PRIVATE_KEY"},
		{"app with empty key file", "github: {appID: 7, privateKeyFile: " + empty + "}", "", "github.privateKeyFile " + empty + " is empty"},
		{"app with missing key file", "github: {appID: 7, privateKeyFile: " + dir + "/nope.pem}", "", "github.privateKeyFile: open " + dir + "/nope.pem"},
		{"app with a key that is not PEM", "github: {appID: 7, privateKeyFile: " + junk + "}", "", "is not a PEM private key"},
		{"key without app", "github: {privateKeyFile: " + good + "}", "", "github.appID is not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GITOPS_GATE_GITHUB_PRIVATE_KEY", tc.env)
			loadYAML(t, tc.yaml, tc.wantErr)
		})
	}
}

// TestLoadConfigPlaceholderSecrets: a secret copied from an example
// ("${from GITOPS_GATE_WEBHOOK_SECRET}", "<token>", "changeme") is a secret
// everyone knows; it is refused at load, naming the key, never echoed.
func TestLoadConfigPlaceholderSecrets(t *testing.T) {
	for _, tc := range []struct{ name, yaml, env, wantErr string }{
		{"interpolation", "github: {webhookSecret: '${from GITOPS_GATE_WEBHOOK_SECRET}'}", "", "github.webhookSecret (or GITOPS_GATE_WEBHOOK_SECRET) looks like a placeholder"},
		{"shell variable", "github: {webhookSecret: $GITOPS_GATE_WEBHOOK_SECRET}", "", "github.webhookSecret"},
		{"angle brackets", "apiTokens: ['<token>']", "", "apiTokens[0]"},
		{"changeme in env", "{}", "change-me", "github.webhookSecret (or GITOPS_GATE_WEBHOOK_SECRET)"},
		{"password", "ui: {basicAuth: {username: a, password: CHANGEME}}", "", "ui.basicAuth.password"},
		{"token", "github: {token: xxxxxxxx}", "", "github.token"},
		{"generated", "github: {webhookSecret: 3f9c1e0b7a2d4c58e6f1}\napiTokens: [b64-Zk9xT2pQ]", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GITOPS_GATE_WEBHOOK_SECRET", tc.env)
			loadYAML(t, tc.yaml, tc.wantErr)
		})
	}
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("github: {webhookSecret: '<my-webhook-secret>'}"), 0o600)
	if _, err := Load(p); err == nil || strings.Contains(err.Error(), "my-webhook-secret") {
		t.Errorf("err = %v: want an error that does not repeat the value", err)
	}
}

// TestLoadConfigEmptyFile: a file with nothing but comments is every
// default, not an error.
func TestLoadConfigEmptyFile(t *testing.T) {
	for _, yml := range []string{"", "# nothing yet\n"} {
		if c := loadYAML(t, yml, ""); c == nil || c.Listen != ":8080" {
			t.Errorf("%q: %+v", yml, c)
		}
	}
}

// TestLoadConfigStrictUnknownImages: strictUnknownImages is read from the
// defaults and per repository, a repository's own value winning.
func TestLoadConfigStrictUnknownImages(t *testing.T) {
	c := loadYAML(t, "defaults: {strictUnknownImages: true}\nrepos:\n- {name: acme/a}\n- {name: acme/b, strictUnknownImages: false}\n", "")
	a, ok := c.Settings("acme/a")
	if !ok || a.StrictUnknownImages == nil || !*a.StrictUnknownImages {
		t.Errorf("acme/a: %+v", a)
	}
	b, ok := c.Settings("acme/b")
	if !ok || b.StrictUnknownImages == nil || *b.StrictUnknownImages {
		t.Errorf("acme/b: %+v", b)
	}
}

// TestLoadConfigSourcesAllow: entries are plain URLs or mappings with a
// mirror and credentials; an unknown key is an error, not ignored.
func TestLoadConfigSourcesAllow(t *testing.T) {
	c := loadYAML(t, `sources:
  allow:
  - https://github.com/acme/other
  - {url: https://charts.bitnami.com/bitnami, mirror: "http://127.0.0.1:8080/bitnami", username: u, password: p}
`, "")
	a := c.Sources.Allow
	if len(a) != 2 || a[0].URL != "https://github.com/acme/other" || a[1].Mirror != "http://127.0.0.1:8080/bitnami" || a[1].Password != "p" {
		t.Errorf("allow %+v", a)
	}
	loadYAML(t, "sources:\n  allow:\n  - {url: https://x.example, mirorr: http://127.0.0.1}\n", `unknown field "mirorr"`)
}

// TestLoadConfigCheckRuns: checkRuns (per repository or in defaults) needs
// a GitHub App; false is always allowed, and a repository inherits the
// default.
func TestLoadConfigCheckRuns(t *testing.T) {
	loadYAML(t, "github: {token: ghp_real_token_1}\nrepos: [{name: acme/gitops, checkRuns: true}]", "repos[0].checkRuns (acme/gitops): check runs need a GitHub App")
	loadYAML(t, "github: {token: ghp_real_token_1}\ndefaults: {checkRuns: true}", "defaults.checkRuns: check runs need a GitHub App")
	c := loadYAML(t, "github: {token: ghp_real_token_1}\ndefaults: {checkRuns: false}\nrepos: [{name: acme/gitops}, {name: acme/other, checkRuns: true}]", "repos[1].checkRuns")
	if c != nil {
		t.Fatal("a token with checkRuns: true loaded")
	}
	c = loadYAML(t, "defaults: {checkRuns: false}\nrepos: [{name: acme/gitops}]", "")
	if set, _ := c.Settings("acme/gitops"); set.CheckRuns == nil || *set.CheckRuns {
		t.Errorf("the default checkRuns: false was not inherited: %v", set.CheckRuns)
	}
}

func TestLoadConfigRegistryConcurrency(t *testing.T) {
	if c := loadYAML(t, "registry: {concurrency: 16}", ""); c.Registry.Concurrency != 16 {
		t.Errorf("concurrency %d", c.Registry.Concurrency)
	}
	loadYAML(t, "registry: {concurrency: -1}", "registry.concurrency: -1, want 1 to 1024")
	loadYAML(t, "registry: {concurrency: 5000}", "registry.concurrency: 5000")
}
