package imageref

import (
	"regexp"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics, and what it accepts is normalised for good:
// the normalised forms parse back to the same reference. Agreement: the
// registry client's reference (what is resolved and verified) names the
// registry and repository that were matched, and every spelling in Forms
// is the same pulled image.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"nginx", "nginx:1.25", "docker.io/library/nginx:1.25", "ghcr.io/acme/api@sha256:" + strings.Repeat("a", 64),
		"localhost:5000/x/y:z@sha256:" + strings.Repeat("0", 64), "Foo/bar", "127.0.0.1:5000/a", "a/b/c/d:e", ":tag", "@sha256:", "x@sha256:abc",
		"localhost/acme/app", "[::1]:5000/acme/app:v1", "index.docker.io/nginx:1", "docker.io/library/x", "host:1/x",
		"GHCR.IO:443/acme/app:1", "LOCALHOST:5000/x", "registry-1.docker.io/nginx:1", "Index.Docker.Io/acme/app"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		info, err := Parse(s)
		if err != nil {
			return
		}
		if info.Registry == "" || info.Path == "" || (info.Tag == "" && info.Digest == "") {
			t.Fatalf("Parse(%q) = %+v: incomplete", s, info)
		}
		for _, form := range []string{info.String(), info.WithTag(), info.PinnedWithTag("sha256:" + strings.Repeat("b", 64))} {
			again, err := Parse(form)
			if err != nil {
				t.Fatalf("Parse(%q) ok, but its form %q does not parse: %v", s, form, err)
			}
			if again.Registry != info.Registry || again.Path != info.Path {
				t.Fatalf("Parse(%q) = %s/%s, its form %q = %s/%s", s, info.Registry, info.Path, form, again.Registry, again.Path)
			}
		}
		ref, err := info.Reference()
		if err != nil {
			t.Fatalf("Parse(%q) ok, but no registry reference: %v", s, err)
		}
		reg, path := info.canonical()
		if r2, p2 := (Info{Registry: ref.Context().RegistryStr(), Path: ref.Context().RepositoryStr()}).canonical(); r2 != reg || p2 != path {
			t.Fatalf("Parse(%q) matched as %s/%s, resolved at %s/%s", s, reg, path, ref.Context().RegistryStr(), ref.Context().RepositoryStr())
		}
		if want := info.Digest; want != "" && ref.Identifier() != want || want == "" && ref.Identifier() != info.Tag {
			t.Fatalf("Parse(%q): resolves %s, want digest %q or tag %q", s, ref.Identifier(), info.Digest, info.Tag)
		}
		// Kyverno's spelling is always a form: the gate applies every rule
		// Kyverno applies, and skips nothing Kyverno does not skip.
		if forms := info.Forms(); len(forms) == 0 || forms[0] != info.String() {
			t.Fatalf("Parse(%q): Forms %v do not start with Kyverno's %s", s, forms, info.String())
		}
		for _, form := range info.Forms() {
			again, err := Parse(form)
			if err != nil {
				t.Fatalf("Parse(%q): its spelling %q does not parse: %v", s, form, err)
			}
			r2, p2 := again.canonical()
			if r2 != reg || p2 != path {
				t.Fatalf("Parse(%q): its spelling %q is another image (%s/%s, want %s/%s)", s, form, r2, p2, reg, path)
			}
		}
	})
}

// FuzzMatch checks the wildcard matcher against a regular expression
// oracle: '*' any run, '?' any one byte, everything else literal.
func FuzzMatch(f *testing.F) {
	for _, c := range [][2]string{{"ghcr.io/acme/*", "ghcr.io/acme/api:v1"}, {"*", ""}, {"a?c", "abc"}, {"*a*a*a*a*b", strings.Repeat("a", 40)},
		{"https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*", "https://github.com/acme/api/.github/workflows/release.yml@refs/tags/v1"}} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 64 || len(s) > 256 {
			return // the oracle's regexp compilation dominates otherwise
		}
		var re strings.Builder
		re.WriteString(`(?s)\A`)
		for i := 0; i < len(pattern); i++ {
			switch pattern[i] {
			case '*':
				re.WriteString(`[\x00-\xff]*`)
			case '?':
				re.WriteString(`[\x00-\xff]`)
			default:
				re.WriteString(regexp.QuoteMeta(string(pattern[i : i+1])))
			}
		}
		re.WriteString(`\z`)
		// Byte-wise oracle: match on the Latin-1 view so multi-byte UTF-8
		// is compared byte by byte, as Match does.
		want := regexp.MustCompile(latin1(re.String())).MatchString(latin1(s))
		if got := Match(pattern, s); got != want {
			t.Fatalf("Match(%q, %q) = %v, want %v", pattern, s, got, want)
		}
		if !Match(s, s) {
			t.Fatalf("Match(%q, itself) = false", s)
		}
	})
}

// latin1 maps every byte to the rune of the same value, so a regexp over
// the result matches bytes.
func latin1(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}
