// Package imageref parses image references and matches them against
// patterns exactly as Kyverno does, so that the gate's verdicts predict what
// Kyverno will decide at admission.
//
// Normalisation follows Kyverno's GetImageInfo: a reference whose first path
// component has no '.' or ':' and is not "localhost" gets the default
// registry docker.io; a single-component path gets "library/"; a reference
// with neither tag nor digest gets the tag "latest". The string matched
// against imageReferences patterns is registry/path@digest when a digest is
// present (the tag is then dropped) and registry/path:tag otherwise.
//
// Patterns use Kyverno's wildcards: '*' matches any run of characters,
// including '/', and '?' matches exactly one; the whole string must match.
package imageref

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// DefaultRegistry is the registry Kyverno adds to references without one.
const DefaultRegistry = "docker.io"

// Info is a parsed, normalised image reference.
type Info struct {
	Registry string // docker.io, ghcr.io, 127.0.0.1:5000
	Path     string // library/nginx, acme/app
	Tag      string // set unless the reference has only a digest
	Digest   string // sha256:...
	// pathAsWritten is the path before "library/" is added: Kyverno's
	// mutateDigest writes it that way (docker.io/nginx:1.25@sha256:...).
	pathAsWritten string
}

// Parse normalises image the way Kyverno does.
func Parse(image string) (Info, error) {
	full := addDefaultRegistry(image)
	ref, err := reference.Parse(full)
	if err != nil {
		return Info{}, fmt.Errorf("bad image reference %q: %w", image, err)
	}
	var info Info
	named, ok := ref.(reference.Named)
	if !ok {
		return Info{}, fmt.Errorf("bad image reference %q: no repository", image)
	}
	info.Registry = reference.Domain(named)
	info.Path = reference.Path(named)
	if t, ok := ref.(reference.Tagged); ok {
		info.Tag = t.Tag()
	}
	if d, ok := ref.(reference.Digested); ok {
		info.Digest = d.Digest().String()
	}
	if info.Tag == "" && info.Digest == "" {
		info.Tag = "latest"
	}
	info.pathAsWritten = info.Path
	if !strings.Contains(info.Path, "/") {
		info.Path = "library/" + info.Path
	}
	return info, nil
}

func addDefaultRegistry(name string) string {
	i := strings.IndexRune(name, '/')
	if i == -1 || (!strings.ContainsAny(name[:i], ".:") && name[:i] != "localhost" && strings.ToLower(name[:i]) == name[:i]) {
		return DefaultRegistry + "/" + name
	}
	return name
}

// Repository is registry/path.
func (i Info) Repository() string { return i.Registry + "/" + i.Path }

// String is the form Kyverno matches patterns against.
func (i Info) String() string {
	if i.Digest != "" {
		return i.Repository() + "@" + i.Digest
	}
	return i.Repository() + ":" + i.Tag
}

// WithTag is registry/path:tag (the tag even when a digest is present).
func (i Info) WithTag() string {
	if i.Tag == "" {
		return i.Repository()
	}
	return i.Repository() + ":" + i.Tag
}

// PinnedWithTag is what Kyverno's mutateDigest writes for this reference:
// registry/path:tag@digest, the default registry added, "library/" not.
func (i Info) PinnedWithTag(digest string) string {
	s := i.Registry + "/" + i.pathAsWritten
	if i.Tag != "" {
		s += ":" + i.Tag
	}
	return s + "@" + digest
}

// Match reports whether s matches the Kyverno wildcard pattern.
func Match(pattern, s string) bool {
	// Iterative glob with backtracking to the last '*': linear in practice
	// and never exponential, whatever the pattern.
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(s) {
		switch {
		// '*' first: a '*' in s must not be taken as the literal match of
		// the pattern's '*' (which would drop the backtracking point).
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[n]):
			p++
			n++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// MatchAny reports whether s matches any of the patterns.
func MatchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if Match(p, s) {
			return true
		}
	}
	return false
}
