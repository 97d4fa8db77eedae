package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/service/config"
)

// loadYAML loads yml as the service's configuration file, and fails the
// test unless the error contains wantErr ("": no error).
func loadYAML(t *testing.T, yml, wantErr string) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(p)
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
