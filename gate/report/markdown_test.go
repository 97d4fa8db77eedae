package report

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/verify"
	"github.com/gitops-gate/gitops-gate/manifests"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// hostileReport is a report whose every string from a repository or a
// registry tries to break out of its place: Markdown table pipes, newlines,
// HTML, links, workflow commands (both syntaxes), %-escapes, bidi controls
// and a very long reason.
func hostileReport() *gate.Report {
	long := strings.Repeat("very long reason | <b>x</b> %0A ", 200)
	ref := func(app, image, file string, line int) manifests.ImageRef {
		return manifests.ImageRef{App: app, Image: image, File: file, Line: line, FieldPath: "spec.containers[0].image",
			Resource: manifests.ResourceID{APIVersion: "v1", Kind: "Pod", Name: "p"}}
	}
	rep := &gate.Report{APIVersion: gate.APIVersion, Apps: []gate.AppVerdict{
		{Name: "web-prod", Path: "apps/web/overlays/prod", Kind: manifests.KindKustomize, Images: []gate.ImageVerdict{
			{ImageRef: ref("web-prod", "registry.example.com/demo/migrate:2.1.0", "apps/web/base/deployment.yaml", 15),
				Digest: "sha256:365fb1b87915aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Status: gate.StatusFail,
				Rule:   "acme-release-signed/images-signed-by-release-workflow",
				Reason: `signed by another identity: got subjects [https://github.com/evil-fork/migrate/.github/workflows/release.yml@refs/tags/v2.1.0] with issuer https://token.actions.githubusercontent.com (want issuer "https://token.actions.githubusercontent.com", subject "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*")`},
			{ImageRef: ref("web-prod", "registry.example.com/demo/web:1.4.2", "apps/web/overlays/prod/kustomization.yaml", 7),
				Digest: "sha256:4cd1061fcd3dbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Status: gate.StatusPass,
				Signer: &verify.Signer{Issuer: "https://token.actions.githubusercontent.com", Subject: "https://github.com/acme/web/.github/workflows/release.yml@refs/tags/v1.4.2",
					GitHubWorkflowRepository: "acme/web", GitHubWorkflowRef: "refs/tags/v1.4.2"}},
		}},
		{Name: "evil | app\n::error::forged\r\n##[error]forged v1", Path: "apps/evil,dir:x%0A", Kind: manifests.KindPlain, Images: []gate.ImageVerdict{
			{ImageRef: ref("evil", "reg.example/a|b`c``d:<script>alert(1)</script>", "apps/evil,dir:x%0A/p|od.yaml", 3),
				Status: gate.StatusError, Reason: "registry said: 500\n::warning::forged\n<details><summary>x</summary> [click](javascript:alert(1)) **bold** www.evil.example 100% done ::set-output name=x::y \u202eevil\u202c " + long},
			{ImageRef: ref("evil", "reg.example/audit:1", "apps/evil/audit.yaml", 9), Status: gate.StatusAudit,
				Reason: "no signatures found (want issuer \"a\", subject \"^https://github\\.com/(acme|foo)/.*$\"); 2 verified, 3 required: x (want 3 of 4 attestors of attestors[1])"},
			{ImageRef: ref("evil", "reg.example/any:1", "apps/evil/any.yaml", 0), Status: gate.StatusUnmatched},
		}},
		{Name: "broken <img src=x onerror=alert(1)>", Path: "charts/broken", Kind: manifests.KindHelm,
			Error: "charts/broken/templates/x.yaml:3: parse error | pipe\n::error file=x::forged\n</details>", Images: []gate.ImageVerdict{}},
	}}
	rep.Recount()
	return rep
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./gate/report -run %s -update rewrites it):\n%s", path, t.Name(), got)
	}
}

func TestMarkdownGolden(t *testing.T) {
	golden(t, "hostile.md.golden", Markdown(hostileReport(), MarkdownOptions{}))
}

func TestGitHubGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteGitHub(&b, hostileReport(), GitHubOptions{Warnings: []string{"no trust root configured: 100% of keyless images\nwill be errors"}}); err != nil {
		t.Fatal(err)
	}
	golden(t, "hostile.github.golden", b.String())
}

func TestTitle(t *testing.T) {
	rep := hostileReport()
	if got, want := Title(rep), "1 of 5 images failed: web-prod; 1 could not be checked; 1 of 3 apps could not be rendered: broken <img src=x onerror=alert(1)>"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	for _, c := range []struct {
		statuses []gate.Status
		apps     int
		want     string
	}{
		{[]gate.Status{gate.StatusPass, gate.StatusPass}, 2, "All 2 images verified"},
		{[]gate.Status{gate.StatusPass, gate.StatusAudit, gate.StatusUnmatched}, 2, "3 images passed: 1 verified, 1 audit findings, 1 unmatched (no rule applies)"},
		{nil, 1, "No images found in 1 apps"},
		{[]gate.Status{gate.StatusError, gate.StatusPass}, 5, "1 of 2 images could not be checked: app0"},
		{[]gate.Status{gate.StatusFail, gate.StatusFail, gate.StatusFail, gate.StatusFail, gate.StatusPass}, 5, "4 of 5 images failed: app0, app1, app2, and 1 more"},
	} {
		rep := &gate.Report{}
		for i := 0; i < c.apps; i++ {
			rep.Apps = append(rep.Apps, gate.AppVerdict{Name: fmt.Sprintf("app%d", i)})
		}
		for i, st := range c.statuses {
			a := &rep.Apps[i%c.apps]
			a.Images = append(a.Images, gate.ImageVerdict{Status: st})
		}
		rep.Recount()
		if got := Title(rep); got != c.want {
			t.Errorf("%v: title %q, want %q", c.statuses, got, c.want)
		}
	}
}

// cells splits a GFM table row at its unescaped pipes, as GitHub does.
func cells(row string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row):
			cur.WriteByte(row[i])
			cur.WriteByte(row[i+1])
			i++
		case row[i] == '|':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(row[i])
		}
	}
	return append(out, cur.String())
}

// TestMarkdownEscapesHostileStrings: however hostile the values, every
// table row keeps its columns, no HTML but the gate's own <details> gets
// through, no value makes a link, and no line is a workflow command.
func TestMarkdownEscapesHostileStrings(t *testing.T) {
	md := Markdown(hostileReport(), MarkdownOptions{})
	rawHTML := regexp.MustCompile(`(^|[^\\])<`)
	for i, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "::") || strings.Contains(line, "##[") {
			t.Errorf("line %d could be a workflow command: %q", i+1, line)
		}
		if line == "<details>" || line == "</details>" || strings.HasPrefix(line, "<summary>") {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if rawHTML.MatchString(line) || strings.Contains(line, "](") && !strings.Contains(line, "gitops-gate check") {
				t.Errorf("line %d has raw HTML or a link: %q", i+1, line)
			}
			continue
		}
		c := cells(line)
		want := map[int]bool{10: true, 8: true, 5: true} // 8, 6 and 3 columns, plus the outer pipes
		if !want[len(c)] {
			t.Errorf("line %d has %d cells: %q", i+1, len(c)-2, line)
		}
		for _, cell := range c {
			// Outside code spans, "<" is always escaped; a link needs "[".
			text := regexp.MustCompile("`+[^`]*`+").ReplaceAllString(cell, "")
			if rawHTML.MatchString(text) || regexp.MustCompile(`(^|[^\\])\[`).MatchString(text) {
				t.Errorf("line %d: cell %q has raw HTML or a link", i+1, cell)
			}
		}
	}
	if strings.Count(md, "<details>") != 1 || strings.Count(md, "</details>") != 1 {
		t.Errorf("the hostile </details> was not escaped:\n%s", md)
	}
	if !strings.Contains(md, "very long reason") || !strings.Contains(md, "…") {
		t.Errorf("the long reason is not clipped")
	}
}

// TestMarkdownCut: a summary over the limit is cut on a row boundary:
// passed rows go first, the failures and unrendered apps stay, the details
// are closed, and a note with the link says how many images are missing.
func TestMarkdownCut(t *testing.T) {
	rep := &gate.Report{}
	var bad, good []gate.ImageVerdict
	for i := 0; i < 5; i++ {
		bad = append(bad, gate.ImageVerdict{ImageRef: manifests.ImageRef{Image: fmt.Sprintf("reg.example/bad%d:1", i), File: "a.yaml", Line: i + 1}, Status: gate.StatusFail, Reason: "unsigned"})
	}
	for i := 0; i < 3000; i++ {
		good = append(good, gate.ImageVerdict{ImageRef: manifests.ImageRef{Image: fmt.Sprintf("reg.example/good%d:1", i), File: "b.yaml", Line: i + 1}, Status: gate.StatusPass,
			Signer: &verify.Signer{Subject: "https://github.com/acme/x/.github/workflows/release.yml@refs/tags/v1"}})
	}
	rep.Apps = []gate.AppVerdict{{Name: "a", Images: bad}, {Name: "b", Images: good}, {Name: "c", Path: "c", Error: "cannot render"}}
	rep.Recount()
	md := Markdown(rep, MarkdownOptions{ReportURL: "https://gate.example/evaluations/42"})
	if len(md) > GitHubTextLimit {
		t.Fatalf("%d bytes, over the limit", len(md))
	}
	for _, want := range []string{"bad4:1", "cannot render", "</details>", "This summary was cut", "images are not shown", "(https://gate.example/evaluations/42)"} {
		if !strings.Contains(md, want) {
			t.Errorf("the cut summary lacks %q", want)
		}
	}
	if strings.Contains(md, "good2999") {
		t.Errorf("the last passed image should have been cut")
	}
	m := regexp.MustCompile(`: (\d+) of 3005 images are not shown`).FindStringSubmatch(md)
	shown := strings.Count(md, "| ✅ pass |")
	if m == nil || fmt.Sprint(3000-shown) != m[1] {
		t.Errorf("note %v, but %d passed rows shown", m, shown)
	}

	// Failures alone over a small limit: cut at a row, the note last.
	var many []gate.ImageVerdict
	for i := 0; i < 6; i++ {
		many = append(many, bad...)
	}
	rep.Apps = []gate.AppVerdict{{Name: "a", Images: many}}
	rep.Recount()
	md = Markdown(rep, MarkdownOptions{Limit: 1200, ReportURL: "javascript:alert(1)"})
	if len(md) > 1200 || !strings.HasSuffix(md, "Run `gitops-gate check -o json` for the full report.\n") || strings.Contains(md, "javascript") {
		t.Errorf("%d bytes:\n%s", len(md), md)
	}
	lines := strings.Split(strings.TrimSuffix(md, "\n"), "\n")
	if before := lines[len(lines)-4]; !strings.HasPrefix(before, "| ") || !strings.HasSuffix(before, " |") {
		t.Errorf("not cut on a row boundary: %q", before)
	}
	// A limit below the note itself still holds.
	if md := Markdown(rep, MarkdownOptions{Limit: 50}); len(md) > 50 {
		t.Errorf("%d bytes over a limit of 50", len(md))
	}
}
