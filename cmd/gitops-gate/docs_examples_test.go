package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	yaml "go.yaml.in/yaml/v3"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/policy/convert"
	"github.com/gitops-gate/gitops-gate/gate/service/config"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// The examples a user copies (README.md, docs/, every command's --help) are
// run here: a command line must parse, and those that verify run against
// the test registry and Sigstore, where a signer of acme's release workflow
// must pass; a configuration or policy example must load; a JSON example
// must be what the code writes.

// docBlock is one fenced code block of a document.
type docBlock struct {
	file, lang, text string
	line             int
}

func docBlocks(t *testing.T) []docBlock {
	t.Helper()
	files, _ := filepath.Glob("../../docs/*.md")
	files = append(files, "../../README.md")
	var out []docBlock
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i++ {
			l := strings.TrimSpace(lines[i])
			if !strings.HasPrefix(l, "```") {
				continue
			}
			indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " "))]
			blk := docBlock{file: strings.TrimPrefix(f, "../../"), lang: strings.TrimPrefix(l, "```"), line: i + 1}
			var body []string
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
				body = append(body, strings.TrimPrefix(lines[i], indent))
			}
			blk.text = strings.Join(body, "\n") + "\n"
			out = append(out, blk)
		}
	}
	return out
}

// commandLines returns the gitops-gate command lines of a shell text, with
// continuations joined and what comes before the command (cd, variables)
// removed. gitops-gate is a command only where a command starts: a word
// after kubectl is a name.
func commandLines(text string) []string {
	text = strings.ReplaceAll(text, "\\\n", " ")
	var out []string
	for _, l := range strings.Split(text, "\n") {
		words := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "$ "))
		start := true
	words:
		for i, w := range words {
			switch {
			case w == "&&" || w == ";" || w == "|":
				start = true
			case start && (w == "gitops-gate" || w == "bin/gitops-gate" || w == "./bin/gitops-gate"):
				out = append(out, strings.Join(words[i:], " "))
				break words
			case start && strings.Contains(w, "=") && !strings.HasPrefix(w, "-"):
				// an environment assignment before the command
			default:
				start = false
			}
		}
	}
	return out
}

// shellWords splits a command line as sh would, without expansions, and
// stops at a comment, a redirection or a pipe.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				t.Fatalf("unbalanced quote in %q", line)
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			j := strings.IndexByte(line[i+1:], '"')
			if j < 0 {
				t.Fatalf("unbalanced quote in %q", line)
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case !inWord && (c == '#' || c == '>' || c == '|'):
			return words
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// helpExamples are the command lines of every command's Example.
func helpExamples(cmd *cobra.Command) map[string][]string {
	out := map[string][]string{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Example != "" {
			out[c.CommandPath()+" --help"] = commandLines(c.Example)
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(cmd)
	return out
}

// The SAN a release of acme's would carry, and the issuer of GitHub's tokens.
var acmeRelease = gatetest.IdentityFor("acme/web", "refs/tags/v1.4.2")

// TestIdentityExamplesAcceptAcmeReleases: every --identity written in the
// docs, the help and the error hint must accept a signer of acme's release
// workflow when its regexp must match the whole subject (^(?:RE)$).
func TestIdentityExamplesAcceptAcmeReleases(t *testing.T) {
	var ids []string
	identity := regexp.MustCompile(`https://token\.actions\.githubusercontent\.com=[^'"\s]+`)
	for _, b := range docBlocks(t) {
		ids = append(ids, identity.FindAllString(b.text, -1)...)
	}
	for _, lines := range helpExamples(newRootCmd()) {
		for _, l := range lines {
			ids = append(ids, identity.FindAllString(l, -1)...)
		}
	}
	_, err := policy.Native([]string{"no-equals-sign"}, nil)
	if err == nil {
		t.Fatal("an identity without = was accepted")
	}
	ids = append(ids, identity.FindAllString(err.Error(), -1)...)
	if len(ids) < 3 {
		t.Fatalf("found %d identity examples, want those of the docs, the help and the error hint", len(ids))
	}
	for _, id := range ids {
		issuer, re, _ := strings.Cut(id, "=")
		if issuer != acmeRelease.Issuer {
			t.Errorf("%s: issuer %q", id, issuer)
		}
		whole, err := regexp.Compile("^(?:" + re + ")$")
		if err != nil {
			t.Errorf("%s: %v", id, err)
			continue
		}
		if !whole.MatchString(acmeRelease.SAN()) {
			t.Errorf("%s rejects acme's release %s", id, acmeRelease.SAN())
		}
		if whole.MatchString(gatetest.IdentityFor("evil/acme", "refs/tags/v1").SAN()) || whole.MatchString("https://github.com/acme/web/.github/workflows/ci.yml@refs/heads/main") {
			t.Errorf("%s accepts a signer that is not acme's release workflow", id)
		}
	}
}

// TestCommandExamples runs every gitops-gate command line of the docs and
// the help. Each must name a command and parse; those that read a
// repository run on a test repository whose signed image comes from acme's
// release workflow (the test registry and Sigstore), with the example's
// trust (--tuf, a trusted_root.json) replaced by the test Sigstore's.
func TestCommandExamples(t *testing.T) {
	w, repo, pol, signed, _ := checkWorld(t)
	gh := githubWorld(t, w, signed) // GitHub's attestations API, for --attestations github
	examples := map[string][]string{}
	for _, b := range docBlocks(t) {
		if b.lang == "sh" || b.lang == "bash" || b.lang == "" {
			if lines := commandLines(b.text); len(lines) > 0 {
				examples[b.file+":"+strconv.Itoa(b.line)] = lines
			}
		}
	}
	for where, lines := range helpExamples(newRootCmd()) {
		if len(lines) == 0 {
			t.Errorf("%s: Example has no gitops-gate command line", where)
		}
		examples[where] = lines
	}
	ran := 0
	for where, lines := range examples {
		for _, line := range lines {
			words := shellWords(t, line)[1:]
			root := newRootCmd()
			cmd, rest, err := root.Find(words)
			if err != nil || cmd == root {
				t.Errorf("%s: %q: no such command (%v)", where, line, err)
				continue
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Errorf("%s: %q: %v", where, line, err)
				continue
			}
			if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
				t.Errorf("%s: %q: %v", where, line, err)
				continue
			}
			name := strings.TrimPrefix(cmd.CommandPath(), "gitops-gate ")
			switch name {
			case "check", "images", "render", "policy lint", "policy convert", "pin":
			default:
				continue // serve, demo, presync: they run elsewhere in the tests
			}
			args := strings.Fields(name)
			for i := 0; i < len(rest); i++ {
				a := rest[i]
				switch {
				case a == "--tuf":
					args = append(args, "--trusted-root", w.TrustedRootPath)
				case a == "--trusted-root":
					args = append(args, a, w.TrustedRootPath)
					i++
				case a == "--policy":
					args = append(args, a, pol)
					i++
				case a == "--app":
					args = append(args, a, "api")
					i++
				case a == "--key":
					i++ // the test repository is signed keyless
				case a == "--sarif-file" || a == "--json-file":
					// Written to a temporary directory, not the source tree.
					args = append(args, a, filepath.Join(t.TempDir(), filepath.Base(rest[i+1])))
					i++
				case strings.HasPrefix(a, "-"):
					args = append(args, a)
					if f := cmd.Flags().Lookup(strings.TrimLeft(a, "-")); f != nil && f.Value.Type() != "bool" && !strings.Contains(a, "=") {
						args = append(args, rest[i+1])
						i++
					} else if f == nil && len(a) == 2 {
						args = append(args, rest[i+1])
						i++
					}
				case name == "policy lint" || name == "policy convert":
					args = append(args, pol)
				default:
					args = append(args, filepath.Join(t.TempDir(), "repo"))
					os.CopyFS(args[len(args)-1], os.DirFS(repo))
				}
			}
			if slices.Contains(args, "--attestations") || slices.Contains(args, "--signer-repo") || slices.Contains(args, "--signer-workflow") {
				args = append(args, "--github-api-url", gh.Server.URL)
			}
			out, stderr, code := run(t, args...)
			ran++
			if code == exitUsage {
				t.Errorf("%s: %q (run as %v): a usage or configuration error: %s", where, line, args, stderr)
				continue
			}
			if name == "check" && !slices.Contains(args, "-o") && !regexp.MustCompile(`(?m)^PASS\s+\S+\s+`+regexp.QuoteMeta(signed)).MatchString(out) {
				t.Errorf("%s: %q does not pass an image signed by acme's release workflow:\n%s\n%s", where, line, out, stderr)
			}
		}
	}
	if ran < 10 {
		t.Errorf("ran %d examples; the docs have more", ran)
	}
}

// TestYAMLExamples: every YAML example parses; the service's configuration
// loads as `serve --config` loads it; a policy loads as --policy loads it;
// a repository's .gitops-gate.yaml loads as discovery loads it.
func TestYAMLExamples(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	t.Setenv("GITOPS_GATE_GITHUB_PRIVATE_KEY", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
	configs := 0
	for _, b := range docBlocks(t) {
		if b.lang != "yaml" {
			continue
		}
		where := b.file + ":" + strconv.Itoa(b.line)
		dec := yaml.NewDecoder(strings.NewReader(b.text))
		var docs []map[string]any
		for {
			var m map[string]any
			err := dec.Decode(&m)
			if err != nil {
				if err.Error() != "EOF" {
					t.Errorf("%s: not YAML: %v", where, err)
				}
				break
			}
			docs = append(docs, m)
		}
		if len(docs) != 1 {
			continue
		}
		m := docs[0]
		switch {
		case m["kind"] == "ImageValidatingPolicy" && !ivpolLoaderMerged():
			// Until the gate loads IVPOL (gate/policy/ivpol), an IVPOL
			// example must at least pass the IVPOL lints.
			if f, err := convert.Lint(where, []byte(b.text)); err != nil || len(f) > 0 {
				t.Errorf("%s: the ImageValidatingPolicy fails the lints: %v %v", where, err, f)
			}
		case m["kind"] == "ClusterPolicy" || m["kind"] == "Policy" || m["kind"] == "ImageValidatingPolicy":
			if _, err := policy.Parse(where, []byte(b.text)); err != nil {
				t.Errorf("%s: the policy does not load: %v", where, err)
			}
		case m["apiVersion"] == nil && (m["github"] != nil || m["repos"] != nil || m["listen"] != nil || m["store"] != nil):
			configs++
			p := filepath.Join(t.TempDir(), "config.yaml")
			os.WriteFile(p, []byte(b.text), 0o600)
			if _, err := config.Load(p); err != nil {
				t.Errorf("%s: the configuration does not load: %v", where, err)
			}
		case m["apiVersion"] == nil && m["apps"] != nil:
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, ".gitops-gate.yaml"), []byte(b.text), 0o644)
			repo, err := manifests.Open(dir, manifests.Options{})
			if err == nil {
				_, err = repo.Discover(t.Context())
			}
			if err != nil && strings.Contains(err.Error(), ".gitops-gate.yaml") && !strings.Contains(err.Error(), "no such file") && !strings.Contains(err.Error(), "does not exist") {
				t.Errorf("%s: the .gitops-gate.yaml does not load: %v", where, err)
			}
		}
	}
	if configs < 3 {
		t.Errorf("found %d configuration examples (README, configuration.md, github.md)", configs)
	}
}

// TestJSONExamples: the JSON documents of docs/output.md are what the code
// writes: decoded into the output types and encoded again, nothing is lost
// or added (a field the code omits, such as an empty "error", is a drift).
func TestJSONExamples(t *testing.T) {
	n := 0
	for _, b := range docBlocks(t) {
		if b.lang != "json" || b.file != "docs/output.md" {
			continue
		}
		where := b.file + ":" + strconv.Itoa(b.line)
		var doc any
		if err := json.Unmarshal([]byte(b.text), &doc); err != nil {
			t.Errorf("%s: not JSON: %v", where, err)
			continue
		}
		var typed any = &manifests.Inventory{}
		if strings.Contains(b.text, `"result"`) {
			typed = &gate.Report{}
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(b.text)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(typed); err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		again, _ := json.Marshal(typed)
		var round any
		json.Unmarshal(again, &round)
		if !reflect.DeepEqual(doc, round) {
			t.Errorf("%s: the example is not what the code writes:\ndocumented: %s\nwritten:    %s", where, compact(b.text), again)
		}
		n++
	}
	if n < 2 {
		t.Errorf("found %d JSON examples in docs/output.md", n)
	}
}

func compact(s string) string {
	var b bytes.Buffer
	json.Compact(&b, []byte(s))
	return b.String()
}

// TestReadmeDemoTable: the README's table is what `demo` prints, but for
// what changes on every run (the registry's port, the digests) and the
// columns' padding.
func TestReadmeDemoTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```\nSTATUS ")
	if !ok {
		t.Fatal("README.md has no demo table")
	}
	documented, _, _ := strings.Cut("STATUS "+rest, "```")
	out, _, _ := run(t, "demo", "--repo", "../../testdata/repos/demo", "--policy", "../../testdata/policies/demo.yaml")
	_, printed, ok := strings.Cut(out, "\nSTATUS ")
	if !ok {
		t.Fatalf("demo printed no table:\n%s", out)
	}
	normalize := func(s string) string {
		for re, with := range map[*regexp.Regexp]string{
			regexp.MustCompile(`127\.0\.0\.1:\d+`): "REGISTRY",
			regexp.MustCompile(`\b[0-9a-f]{64}\b`): "DIGEST",
			regexp.MustCompile(`\b[0-9a-f]{12}\b`): "SHORT",
			regexp.MustCompile(`[ \t]+`):           " ",
		} {
			s = re.ReplaceAllString(s, with)
		}
		return strings.TrimSpace(strings.ReplaceAll(s, " \n", "\n"))
	}
	if got, want := normalize("STATUS "+printed), normalize(documented); got != want {
		t.Errorf("README.md's demo table is not what demo prints:\nREADME:\n%s\ndemo:\n%s", want, got)
	}
}

// TestRenderPinRefusalNamesWhatIsMissing: run by hand as docs/argocd.md
// suggests, outside Argo CD, the refusal used to read "refusing to render
// at :"; it names the app and the variables that were not set.
func TestRenderPinRefusalNamesWhatIsMissing(t *testing.T) {
	w, repo, pol, _, _ := checkWorld(t)
	t.Setenv("ARGOCD_APP_NAME", "")
	t.Setenv("ARGOCD_APP_REVISION", "")
	t.Setenv("ARGOCD_APP_SOURCE_PATH", "worker")
	_, stderr, code := run(t, "render", "--pin", filepath.Join(repo, "worker"), "--policy", pol, "--trusted-root", w.TrustedRootPath)
	want := "refusing to render app worker (ARGOCD_APP_NAME not set) at the working tree (ARGOCD_APP_REVISION not set):"
	if code != exitDenied || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant %q", code, stderr, want)
	}
	t.Setenv("ARGOCD_APP_NAME", "worker-prod")
	t.Setenv("ARGOCD_APP_REVISION", "0123abc")
	if _, stderr, _ := run(t, "render", "--pin", filepath.Join(repo, "worker"), "--policy", pol, "--trusted-root", w.TrustedRootPath); !strings.Contains(stderr, "refusing to render worker-prod at 0123abc:") {
		t.Errorf("in Argo CD: %s", stderr)
	}
}

// ivpolLoaderMerged says whether the gate's ImageValidatingPolicy loader
// (issue 16 items 1-5, gate/policy/ivpol) is in the tree: from then on an
// IVPOL example must load, not only pass the lints.
func ivpolLoaderMerged() bool {
	_, err := os.Stat("../../gate/policy/ivpol")
	return err == nil
}

// TestDocsConvertExample: docs/policies.md shows the seed's policy as
// ClusterPolicy and as ImageValidatingPolicy, one block after the other;
// the first is testdata/policies/demo.yaml, the second what
// `policy convert` prints for it.
func TestDocsConvertExample(t *testing.T) {
	var blocks []docBlock
	for _, b := range docBlocks(t) {
		if b.file == "docs/policies.md" && b.lang == "yaml" {
			blocks = append(blocks, b)
		}
	}
	seed, err := os.ReadFile("../../testdata/policies/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, _, code := run(t, "policy", "convert", "../../testdata/policies/demo.yaml")
	if code != exitOK {
		t.Fatalf("policy convert: exit %d", code)
	}
	for i, b := range blocks {
		if !strings.HasPrefix(b.text, "# Converted by gitops-gate policy convert") {
			continue
		}
		if b.text != out {
			t.Errorf("%s:%d is not what policy convert prints:\n%s", b.file, b.line, out)
		}
		if i == 0 || !strings.HasSuffix(string(seed), blocks[i-1].text) {
			t.Errorf("the block before %s:%d is not testdata/policies/demo.yaml", b.file, b.line)
		}
		return
	}
	t.Error("docs/policies.md has no converted policy")
}
