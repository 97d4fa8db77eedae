// Package imageref is the gate's one image-reference normaliser: the same
// parse decides which policy rules match an image and which registry,
// repository and manifest are resolved and verified. Nothing else in the
// gate parses an image reference.
//
// Normalisation follows Kyverno's GetImageInfo (kyverno/kyverno
// pkg/utils/image/infos.go, v1.17 to v1.19): a reference whose first path
// component has no '.' or ':', is not "localhost" and is lower case gets the
// default registry docker.io; a reference with neither tag nor digest gets
// the tag "latest". Kyverno adds no "library/": nginx is docker.io/nginx.
// The string Kyverno matches imageReferences against (String) is
// registry/path@digest when a digest is present (the tag is dropped) and
// registry/path:tag otherwise.
//
// The registry the gate connects to is exactly the registry that parse
// names (Reference): "localhost/acme/app" is the registry localhost, never
// Docker Hub's repository localhost/acme/app, which is what
// go-containerregistry's own parser would make of it. The container runtime
// (containerd's ParseNormalizedNamed) reads these names the same way.
//
// One image has several spellings (nginx, docker.io/library/nginx,
// index.docker.io/nginx:1@sha256:…, GHCR.IO:443/acme/app for
// ghcr.io/acme/app) that Kyverno matches as different strings. Forms lists every spelling of the pulled image, so a caller can
// apply a rule whenever any spelling matches it: the runtime pulls the same
// content whichever spelling a manifest uses.
//
// Patterns use Kyverno's wildcards: '*' matches any run of characters,
// including '/', and '?' matches exactly one; the whole string must match.
package imageref

import (
	"fmt"
	"slices"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
)

// DefaultRegistry is the registry Kyverno adds to references without one.
const DefaultRegistry = "docker.io"

// Info is a parsed, normalised image reference.
type Info struct {
	Registry string // docker.io, ghcr.io, localhost, 127.0.0.1:5000, [::1]:5000
	Path     string // nginx, library/nginx, acme/app: as written, as Kyverno keeps it
	Tag      string // set unless the reference has only a digest
	Digest   string // sha256:...
	// tagDefaulted is set when the reference had neither tag nor digest.
	tagDefaulted bool
}

// Parse normalises image the way Kyverno does.
func Parse(image string) (Info, error) {
	full := addDefaultRegistry(image)
	ref, err := reference.Parse(full)
	if err != nil {
		return Info{}, fmt.Errorf("bad image reference %q: %w", image, err)
	}
	named, ok := ref.(reference.Named)
	if !ok {
		return Info{}, fmt.Errorf("bad image reference %q: no repository", image)
	}
	var info Info
	info.Registry = reference.Domain(named)
	info.Path = reference.Path(named)
	if info.Registry == "" {
		return Info{}, fmt.Errorf("bad image reference %q: no registry", image)
	}
	if t, ok := ref.(reference.Tagged); ok {
		info.Tag = t.Tag()
	}
	if d, ok := ref.(reference.Digested); ok {
		info.Digest = d.Digest().String()
	}
	if info.Tag == "" && info.Digest == "" {
		info.Tag, info.tagDefaulted = "latest", true
	}
	// The registry must also be one the registry client can address; a
	// name it cannot is refused here rather than parsed another way there.
	if _, err := name.NewRegistry(info.Registry); err != nil {
		return Info{}, fmt.Errorf("bad image reference %q: registry %q: %w", image, info.Registry, err)
	}
	return info, nil
}

// addDefaultRegistry is Kyverno's rule for "has this reference a registry".
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
// registry/path:tag@digest, the default registry added.
func (i Info) PinnedWithTag(digest string) string {
	s := i.Repository()
	if i.Tag != "" {
		s += ":" + i.Tag
	}
	return s + "@" + digest
}

// dockerHubHosts are the names of Docker Hub's registry: docker.io (the
// name containerd maps to the API host), index.docker.io (its legacy name,
// go-containerregistry's default) and registry-1.docker.io (the API host
// itself, a valid registry name of its own).
var dockerHubHosts = []string{DefaultRegistry, "index.docker.io", "registry-1.docker.io"}

// canonicalRegistry is the one spelling of the registry a host names: host
// names are case-insensitive (DNS, TLS), 443 is the port HTTPS connects to
// anyway, and Docker Hub has several names. "GHCR.IO:443" is ghcr.io,
// "Index.Docker.Io" and "registry-1.docker.io" are docker.io.
func canonicalRegistry(host string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ":443")
	if slices.Contains(dockerHubHosts, host) {
		return DefaultRegistry
	}
	return host
}

// canonical is the registry and path the runtime pulls, in one spelling:
// the registry as canonicalRegistry spells it, and Docker Hub's
// single-component repositories under library/ (containerd's
// ParseNormalizedNamed).
func (i Info) canonical() (registry, path string) {
	registry, path = canonicalRegistry(i.Registry), i.Path
	if registry == DefaultRegistry && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	return registry, path
}

// Forms are the spellings of the pulled image a pattern may be written
// against, Kyverno's String first: with a digest, the reference with the
// digest and, when a tag is written too, with the tag; each for the
// registry and path as written and for every other spelling of the same
// registry: the host in lower case and without the default port :443
// (LOCALHOST:5000, GHCR.IO:443), and on Docker Hub each of its names
// (docker.io, index.docker.io, registry-1.docker.io), with and without
// library/ for an official image. A rule that matches any of them covers
// the image: a rule written for ghcr.io/acme/* covers GHCR.IO/acme/app,
// which pulls the same content, though Kyverno's string match would not
// apply it (the gate says so in its reason).
func (i Info) Forms() []string {
	repos := []string{i.Repository()}
	add := func(rp string) {
		if !slices.Contains(repos, rp) {
			repos = append(repos, rp)
		}
	}
	reg, path := i.canonical()
	if reg == DefaultRegistry {
		short := path
		if rest, ok := strings.CutPrefix(path, "library/"); ok && !strings.Contains(rest, "/") {
			short = rest
		}
		for _, r := range dockerHubHosts {
			for _, p := range []string{path, short} {
				add(r + "/" + p)
			}
		}
	} else if again, err := Parse(reg + "/" + path); err == nil && again.Registry == reg {
		// Only a spelling that still names this registry: "Foo/bar" is
		// the registry Foo, but "foo/bar" is Docker Hub's foo/bar.
		add(reg + "/" + path)
	}
	var out []string
	for _, r := range repos {
		if i.Digest != "" {
			out = append(out, r+"@"+i.Digest)
		}
		if i.Tag != "" {
			out = append(out, r+":"+i.Tag)
		}
	}
	return out
}

// Reference is the registry client's reference for exactly this parse:
// built from its registry and path, never parsed again (go-containerregistry
// would read "localhost/acme/app" as a Docker Hub repository). A reference
// with a digest is the digest; the tag, if written too, is not resolved.
func (i Info) Reference() (name.Reference, error) {
	repo, err := i.Repo()
	if err != nil {
		return nil, err
	}
	if i.Digest != "" {
		return repo.Digest(i.Digest), nil
	}
	return repo.Tag(i.Tag), nil
}

// TagReference is the tag of a reference written with both a tag and a
// digest, for telling the reader that the tag moved; ok is false without a
// written tag.
func (i Info) TagReference() (name.Tag, bool) {
	if i.Tag == "" || i.tagDefaulted {
		return name.Tag{}, false
	}
	repo, err := i.Repo()
	if err != nil {
		return name.Tag{}, false
	}
	return repo.Tag(i.Tag), true
}

// Repo is the registry client's repository for this parse. The host is
// lower-cased: it is the same server in any case (DNS), and the client
// treats only the lower-case "localhost" as a plain-HTTP local registry.
func (i Info) Repo() (name.Repository, error) {
	reg, err := name.NewRegistry(strings.ToLower(i.Registry))
	if err != nil {
		return name.Repository{}, fmt.Errorf("registry %q: %w", i.Registry, err)
	}
	return reg.Repo(i.Path), nil
}

// ParseRepository normalises a repository name (a policy's signature
// repository) with the same rules as Parse: "localhost/sigs" is the
// registry localhost.
func ParseRepository(repo string) (name.Repository, error) {
	if strings.ContainsAny(repo, "@") {
		return name.Repository{}, fmt.Errorf("repository %q: want a repository without tag or digest", repo)
	}
	info, err := Parse(repo)
	if err != nil {
		return name.Repository{}, err
	}
	if !info.tagDefaulted {
		return name.Repository{}, fmt.Errorf("repository %q: want a repository without tag or digest", repo)
	}
	return info.Repo()
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

// MatchAnyForm reports whether any pattern matches any of forms.
func MatchAnyForm(patterns, forms []string) bool {
	for _, f := range forms {
		if MatchAny(patterns, f) {
			return true
		}
	}
	return false
}

// MatchEveryForm reports whether every one of forms matches a pattern.
func MatchEveryForm(patterns, forms []string) bool {
	for _, f := range forms {
		if !MatchAny(patterns, f) {
			return false
		}
	}
	return len(forms) > 0
}
