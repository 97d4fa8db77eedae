package main

import (
	"strings"
	"testing"
)

// TestCheckRegistryDeny: check reaches a local registry by default (a
// user checking against localhost:5000 expects it to work), and refuses
// addresses given to --registry-deny without connecting; link-local
// (cloud metadata) is denied by default.
func TestCheckRegistryDeny(t *testing.T) {
	w, repo, pol, _, _ := checkWorld(t)
	base := []string{"check", repo, "--policy", pol, "--trusted-root", w.TrustedRootPath, "--app", "api"}
	if _, stderr, code := run(t, base...); code != 0 {
		t.Fatalf("default, loopback registry: exit %d\n%s", code, stderr)
	}
	out, _, code := run(t, append(base, "--registry-deny", "127.0.0.0/8,::1/128")...)
	if code != exitOperational || !strings.Contains(out, "--registry-deny") {
		t.Errorf("loopback denied: exit %d\n%s", code, out)
	}
	if _, stderr, code := run(t, append(base, "--registry-deny", "not-an-address")...); code != exitUsage || !strings.Contains(stderr, "--registry-deny") {
		t.Errorf("bad flag: exit %d %s", code, stderr)
	}
	if _, _, code := run(t, append(base, "--registry-deny=")...); code != 0 {
		t.Errorf("--registry-deny= (none): exit %d", code)
	}
}
