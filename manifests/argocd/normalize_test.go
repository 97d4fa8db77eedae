package argocd

import "testing"

// TestNormalizeRepoURL: spellings Argo CD treats as one repository compare
// equal; another port is another server and never matches an allow-list
// entry for the default one.
func TestNormalizeRepoURL(t *testing.T) {
	same := [][2]string{
		{"https://GitHub.com/acme/apps.git", "https://github.com/acme/apps/"},
		{"git@github.com:acme/apps.git", "ssh://github.com/acme/apps"},
		{"oci://ghcr.io/acme/charts", "ghcr.io/acme/charts"},
		{"oci://127.0.0.1:5000/charts", "127.0.0.1:5000/charts"},
	}
	for _, c := range same {
		if a, b := NormalizeRepoURL(c[0]), NormalizeRepoURL(c[1]); a != b {
			t.Errorf("%s → %s, %s → %s: want equal", c[0], a, c[1], b)
		}
	}
	differ := [][2]string{
		{"https://git.example:8443/acme/apps", "https://git.example/acme/apps"},
		{"oci://registry.example:5000/charts", "registry.example/charts"},
		{"https://github.com/acme/apps", "https://github.com/acme/apps-fork"},
	}
	for _, c := range differ {
		if NormalizeRepoURL(c[0]) == NormalizeRepoURL(c[1]) {
			t.Errorf("%s and %s compare equal", c[0], c[1])
		}
	}
}
