package imageref

import "testing"

// Cases from Kyverno's normaliser (pkg/utils/image/infos.go and its tests)
// and the verify-images documentation.
func TestParse(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"nginx", "docker.io/library/nginx:latest"},
		{"nginx:1.25", "docker.io/library/nginx:1.25"},
		{"library/nginx", "docker.io/library/nginx:latest"},
		{"bitnami/nginx:1.25", "docker.io/bitnami/nginx:1.25"},
		{"docker.io/nginx", "docker.io/library/nginx:latest"},
		{"ghcr.io/kyverno/test-verify-image:signed", "ghcr.io/kyverno/test-verify-image:signed"},
		{"localhost/app", "localhost/library/app:latest"}, // Kyverno adds library/ whatever the registry
		{"UPPER/case", "UPPER/library/case:latest"},       // an upper-case first component is a registry
		{"localhost:5000/acme/app:v1", "localhost:5000/acme/app:v1"},
		{"127.0.0.1:5000/acme/app", "127.0.0.1:5000/acme/app:latest"},
		{"ghcr.io/acme/app:v1@sha256:6a1c5b0e6f4a2b5cbb2c7f0b3b0e8d2f6e9c4f1d7a3b2c1d0e9f8a7b6c5d4e3f", "ghcr.io/acme/app@sha256:6a1c5b0e6f4a2b5cbb2c7f0b3b0e8d2f6e9c4f1d7a3b2c1d0e9f8a7b6c5d4e3f"},
		{"ghcr.io/acme/app@sha256:6a1c5b0e6f4a2b5cbb2c7f0b3b0e8d2f6e9c4f1d7a3b2c1d0e9f8a7b6c5d4e3f", "ghcr.io/acme/app@sha256:6a1c5b0e6f4a2b5cbb2c7f0b3b0e8d2f6e9c4f1d7a3b2c1d0e9f8a7b6c5d4e3f"},
		{"gcr.io/project/nested/path/app:1", "gcr.io/project/nested/path/app:1"},
	} {
		info, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if got := info.String(); got != c.want {
			t.Errorf("Parse(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, bad := range []string{"", "nginx:", "a b", "ghcr.io/acme/app@sha256:short"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q): want an error", bad)
		}
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		// The docs idiom: every tag and digest of a repository.
		{"ghcr.io/kyverno/test-verify-image*", "ghcr.io/kyverno/test-verify-image:signed", true},
		{"ghcr.io/kyverno/test-verify-image*", "ghcr.io/kyverno/test-verify-image@sha256:abc", true},
		// '*' crosses '/': nested repositories match.
		{"ghcr.io/acme/*", "ghcr.io/acme/team/app:v1", true},
		{"*", "docker.io/library/nginx:latest", true},
		// Patterns are matched against the normalised string.
		{"nginx:*", "docker.io/library/nginx:1.25", false},
		{"docker.io/library/nginx:*", "docker.io/library/nginx:1.25", true},
		{"docker.io/nginx*", "docker.io/library/nginx:1.25", false},
		// '?' is exactly one character; the whole string must match.
		{"ghcr.io/acme/app:v?", "ghcr.io/acme/app:v1", true},
		{"ghcr.io/acme/app:v?", "ghcr.io/acme/app:v10", false},
		{"ghcr.io/acme/app", "ghcr.io/acme/app:v1", false},
		{"https://github.com/acme/*", "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1", true},
		{"*@refs/tags/*", "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main", false},
		{"", "", true},
		{"", "x", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
	} {
		if got := Match(c.pattern, c.s); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestMatchIsNotExponential(t *testing.T) {
	s := ""
	for i := 0; i < 2000; i++ {
		s += "a"
	}
	if Match("*a*a*a*a*a*a*a*a*a*a*b", s) {
		t.Fatal("matched")
	}
}
