package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		{name: "unknown field", yaml: "store: {driver: sqlite, dns: x}", wantErr: "field dns not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "config.yaml")
			os.WriteFile(p, []byte(tc.yaml), 0o600)
			t.Setenv("GITOPS_GATE_STORE_DSN", tc.env)
			c, err := LoadConfig(p)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Store.DSN != tc.wantDSN {
				t.Fatalf("dsn = %q, want %q", c.Store.DSN, tc.wantDSN)
			}
		})
	}
}
