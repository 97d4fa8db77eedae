package imageref

import "testing"

// ATTACK: a registry spelled in another case or with its default HTTPS port (GHCR.IO, ghcr.io:443, INDEX.DOCKER.IO, registry-1.docker.io) pulls the same image but no form matches a rule written for ghcr.io / docker.io.
//
// The runtime connects to the host as written; DNS and TLS names are
// case-insensitive and :443 is the port https uses anyway, so each of these
// pulls what the lower-case, port-less name pulls. A rule that covers the
// image under one spelling must cover it under all (the promise of Forms),
// or the reference must be refused. (Docker.io itself is left out: the
// runtime maps only the exact name docker.io to registry-1.docker.io, while
// index.docker.io serves the registry API under any case.)
func TestAttackRegistrySpellingsOfOneHost(t *testing.T) {
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
