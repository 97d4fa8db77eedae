package trust

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
)

func TestLoadAndDescribe(t *testing.T) {
	ss, err := gatetest.New()
	if err != nil {
		t.Fatal(err)
	}
	js, _ := ss.TrustedRootJSON()
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	os.WriteFile(p, js, 0o644)
	tr, err := Load(Source{TrustedRootPath: p})
	if err != nil {
		t.Fatal(err)
	}
	d := Describe(tr)
	if len(d.Fulcio) != 1 || !strings.Contains(d.Fulcio[0].Subject, "CN=sigstore") || len(d.Rekor) != 1 || d.Rekor[0].ID != ss.Rekor.LogID || len(d.CTLogs) != 1 {
		t.Errorf("description %+v", d)
	}
	if ID(tr) == ID(nil) {
		t.Error("ids")
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(Source{}); err == nil || !strings.Contains(err.Error(), "no trust root configured") {
		t.Errorf("err = %v", err)
	}
	if _, err := Load(Source{TrustedRootPath: "/nonexistent/trusted_root.json"}); err == nil || !strings.Contains(err.Error(), "/nonexistent/trusted_root.json") {
		t.Errorf("err = %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"mediaType": "nope"}`), 0o644)
	if _, err := Load(Source{TrustedRootPath: bad}); err == nil {
		t.Error("want an error for an invalid trusted root")
	}
}
