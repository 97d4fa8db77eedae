package service

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

// loadYAML loads a configuration file holding yml. With wantErr, the load
// must fail with an error containing it, and loadYAML returns nil.
func loadYAML(t *testing.T, yml, wantErr string) *Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
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
	_, err := LoadConfig(p)
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
	if strings.Contains(err.Error(), "service.Config") || strings.Contains(err.Error(), "--") {
		t.Errorf("the error speaks of Go types or flags:\n%v", err)
	}
	c := loadYAML(t, "repos:\n  - name: a/c\n    policies: [p/]\n    policyIgnore: [kustomization.yaml]\n", "")
	if got := c.Repos[0].PolicyIgnore; len(got) != 1 || got[0] != "kustomization.yaml" {
		t.Errorf("policyIgnore %q", got)
	}
}
