package main

import (
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	out, stderr, code := run(t, "demo", "--repo", "../../testdata/repos/demo", "--policy", "../../testdata/policies/demo.yaml")
	if code != exitDenied {
		t.Fatalf("exit %d, want %d (the demo's verdict is FAIL): %s", code, exitDenied, stderr)
	}
	for _, want := range []string{
		"PASS    web-prod", "acme/web@refs/tags/v1.4.2", "apps/web/overlays/prod/kustomization.yaml:7",
		"signed by another identity: got subjects [https://github.com/evil-fork/migrate/",
		"no signatures found at sha256:", "FAIL: 4 images: 2 verified, 2 failed (web-prod, jobs)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
