package imageref

import (
	"strings"
	"testing"
)

// Cases from Kyverno's normaliser (kyverno/kyverno pkg/utils/image/
// infos.go and infos_test.go Test_GetImageInfo: "nginx" is
// docker.io/nginx:latest, no library/ is added) and the verify-images
// documentation.
func TestParse(t *testing.T) {
	const dg = "sha256:6a1c5b0e6f4a2b5cbb2c7f0b3b0e8d2f6e9c4f1d7a3b2c1d0e9f8a7b6c5d4e3f"
	for _, c := range []struct{ in, want string }{
		{"nginx", "docker.io/nginx:latest"},
		{"nginx:1.25", "docker.io/nginx:1.25"},
		{"library/nginx", "docker.io/library/nginx:latest"},
		{"bitnami/nginx:1.25", "docker.io/bitnami/nginx:1.25"},
		{"docker.io/nginx", "docker.io/nginx:latest"},
		{"docker.io/library/nginx", "docker.io/library/nginx:latest"},
		{"index.docker.io/nginx", "index.docker.io/nginx:latest"},
		{"ghcr.io/kyverno/test-verify-image:signed", "ghcr.io/kyverno/test-verify-image:signed"},
		{"localhost/app", "localhost/app:latest"},
		{"localhost/acme/app", "localhost/acme/app:latest"},
		{"UPPER/case", "UPPER/case:latest"}, // an upper-case first component is a registry
		{"localhost:5000/acme/app:v1", "localhost:5000/acme/app:v1"},
		{"127.0.0.1:5000/acme/app", "127.0.0.1:5000/acme/app:latest"},
		{"[::1]:5000/acme/app:v1", "[::1]:5000/acme/app:v1"},
		{"registry.example:8443/team/app", "registry.example:8443/team/app:latest"},
		{"ghcr.io/acme/app:v1@" + dg, "ghcr.io/acme/app@" + dg},
		{"ghcr.io/acme/app@" + dg, "ghcr.io/acme/app@" + dg},
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
		{"*", "docker.io/nginx:latest", true},
		// Patterns are matched against the normalised string.
		{"nginx:*", "docker.io/nginx:1.25", false},
		{"docker.io/nginx:*", "docker.io/nginx:1.25", true},
		{"docker.io/library/nginx*", "docker.io/nginx:1.25", false},
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

// The parse that matches is the parse that is resolved: the registry the
// client connects to and the repository it asks for are exactly what
// Parse named. go-containerregistry's own parser reads "localhost/acme/app"
// as Docker Hub's localhost/acme/app; the gate never does.
func TestReferenceIsTheSameParse(t *testing.T) {
	const dg = "sha256:6a1c5b0e6f4a2b5cbb2c7f0b3b0e8d2f6e9c4f1d7a3b2c1d0e9f8a7b6c5d4e3f"
	for _, c := range []struct {
		in, registry, repo, id string
	}{
		{"localhost/acme/app", "localhost", "acme/app", "latest"},
		{"localhost/app:v1", "localhost", "app", "v1"},
		{"localhost:5000/acme/app:v1", "localhost:5000", "acme/app", "v1"},
		{"registry.example:8443/team/app", "registry.example:8443", "team/app", "latest"},
		{"[::1]:5000/acme/app:v1", "[::1]:5000", "acme/app", "v1"},
		{"127.0.0.1:5000/acme/app@" + dg, "127.0.0.1:5000", "acme/app", dg},
		// Docker Hub: the client's name for it, and library/ for official images.
		{"nginx", "index.docker.io", "library/nginx", "latest"},
		{"docker.io/library/nginx:1.25", "index.docker.io", "library/nginx", "1.25"},
		{"index.docker.io/nginx:1.25", "index.docker.io", "library/nginx", "1.25"},
		{"bitnami/nginx", "index.docker.io", "bitnami/nginx", "latest"},
		// A tag and a digest: the digest is what is resolved and verified.
		{"ghcr.io/acme/app:v1@" + dg, "ghcr.io", "acme/app", dg},
	} {
		info, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		ref, err := info.Reference()
		if err != nil {
			t.Errorf("%q: Reference: %v", c.in, err)
			continue
		}
		if ref.Context().RegistryStr() != c.registry || ref.Context().RepositoryStr() != c.repo || ref.Identifier() != c.id {
			t.Errorf("%q resolves at %s / %s / %s, want %s / %s / %s", c.in,
				ref.Context().RegistryStr(), ref.Context().RepositoryStr(), ref.Identifier(), c.registry, c.repo, c.id)
		}
		// The registry matched is the registry connected to (docker.io is
		// the client's index.docker.io: one host).
		if matched := strings.Replace(info.Registry, "index.docker.io", "docker.io", 1); matched != strings.Replace(ref.Context().RegistryStr(), "index.docker.io", "docker.io", 1) {
			t.Errorf("%q: matched as registry %s, resolved at %s", c.in, info.Registry, ref.Context().RegistryStr())
		}
	}
	if repo, err := ParseRepository("localhost/sigs"); err != nil || repo.RegistryStr() != "localhost" || repo.RepositoryStr() != "sigs" {
		t.Errorf("ParseRepository(localhost/sigs) = %v, %v", repo, err)
	}
	for _, bad := range []string{"ghcr.io/acme/sigs:v1", "ghcr.io/acme/sigs@" + dg, ""} {
		if _, err := ParseRepository(bad); err == nil {
			t.Errorf("ParseRepository(%q): want an error", bad)
		}
	}
}

// Every spelling of the pulled image is a form, Kyverno's first; the
// runtime pulls the same content whichever spelling a manifest uses.
func TestForms(t *testing.T) {
	const dg = "sha256:6a1c5b0e6f4a2b5cbb2c7f0b3b0e8d2f6e9c4f1d7a3b2c1d0e9f8a7b6c5d4e3f"
	for in, want := range map[string]string{
		"nginx":                            "docker.io/nginx:latest docker.io/library/nginx:latest index.docker.io/library/nginx:latest index.docker.io/nginx:latest registry-1.docker.io/library/nginx:latest registry-1.docker.io/nginx:latest",
		"docker.io/library/nginx:1":        "docker.io/library/nginx:1 docker.io/nginx:1 index.docker.io/library/nginx:1 index.docker.io/nginx:1 registry-1.docker.io/library/nginx:1 registry-1.docker.io/nginx:1",
		"index.docker.io/nginx:1":          "index.docker.io/nginx:1 docker.io/library/nginx:1 docker.io/nginx:1 index.docker.io/library/nginx:1 registry-1.docker.io/library/nginx:1 registry-1.docker.io/nginx:1",
		"acme/app:1":                       "docker.io/acme/app:1 index.docker.io/acme/app:1 registry-1.docker.io/acme/app:1",
		"docker.io/library/acme/app:1":     "docker.io/library/acme/app:1 index.docker.io/library/acme/app:1 registry-1.docker.io/library/acme/app:1",
		"localhost/app":                    "localhost/app:latest",
		"ghcr.io/acme/app@" + dg:           "ghcr.io/acme/app@" + dg,
		"ghcr.io/acme/app:v1@" + dg:        "ghcr.io/acme/app@" + dg + " ghcr.io/acme/app:v1",
		"[::1]:5000/acme/app:v1":           "[::1]:5000/acme/app:v1",
		"registry.example:8443/team/app:1": "registry.example:8443/team/app:1",
		"GHCR.IO:443/acme/app:1":           "GHCR.IO:443/acme/app:1 ghcr.io/acme/app:1",
		"LOCALHOST:5000/app:1":             "LOCALHOST:5000/app:1 localhost:5000/app:1",
		"Foo/bar:1":                        "Foo/bar:1",
	} {
		info, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got := strings.Join(info.Forms(), " "); got != want {
			t.Errorf("Forms(%q) = %s\nwant %s", in, got, want)
		}
		if info.Forms()[0] != info.String() {
			t.Errorf("Forms(%q)[0] is not Kyverno's String()", in)
		}
	}
}

// A registry spelled in another case or with its default HTTPS port (GHCR.IO, ghcr.io:443, INDEX.DOCKER.IO, registry-1.docker.io) pulls the same image but no form matches a rule written for ghcr.io / docker.io.
//
// The runtime connects to the host as written; DNS and TLS names are
// case-insensitive and :443 is the port https uses anyway, so each of these
// pulls what the lower-case, port-less name pulls. A rule that covers the
// image under one spelling must cover it under all (the promise of Forms),
// or the reference must be refused. (Docker.io itself is left out: the
// runtime maps only the exact name docker.io to registry-1.docker.io, while
// index.docker.io serves the registry API under any case.)
func TestRegistrySpellingsOfOneHostShareRules(t *testing.T) {
	for _, c := range []struct{ image, pattern string }{
		{"GHCR.IO/acme/app:1", "ghcr.io/acme/*"},
		{"Ghcr.io/acme/app:1", "ghcr.io/acme/*"},
		{"ghcr.io:443/acme/app:1", "ghcr.io/acme/*"},
		{"GHCR.IO:443/acme/app:1", "ghcr.io/acme/*"},
		{"INDEX.DOCKER.IO/acme/app:1", "docker.io/acme/*"},
		{"Index.Docker.Io/nginx:1", "docker.io/nginx*"},
		// Docker Hub's registry API host: what containerd connects to for
		// docker.io, and a valid registry name of its own.
		{"registry-1.docker.io/library/nginx:1", "docker.io/library/nginx*"},
		{"registry-1.docker.io/acme/app:1", "docker.io/acme/*"},
		// And the other way round: a rule written for another spelling.
		{"ghcr.io/acme/app:1", "ghcr.io/acme/*"},
		{"nginx:1", "registry-1.docker.io/library/nginx*"},
		{"localhost:5000/acme/app:1", "localhost:5000/*"},
	} {
		info, err := Parse(c.image)
		if err != nil {
			continue // refusing the spelling is safe too
		}
		if !MatchAnyForm([]string{c.pattern}, info.Forms()) {
			t.Errorf("%s: forms %v: none matches %q, so the rule does not cover the image it pulls", c.image, info.Forms(), c.pattern)
		}
	}
}
