package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
)

// command is a workflow command as the Actions runner parses it.
type command struct {
	name  string
	props map[string]string
	data  string
}

// parseCommands reads output as actions/runner's ActionCommand.TryParseV2
// and TryParse do: a line is a v2 command when it starts (after leading
// space) with "::", and a v1 command when it holds "##[" anywhere.
func parseCommands(t *testing.T, out string) []command {
	t.Helper()
	unprop := strings.NewReplacer("%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%")
	undata := strings.NewReplacer("%0D", "\r", "%0A", "\n", "%25", "%")
	var cmds []command
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		l := strings.TrimLeft(line, " \t")
		if !strings.HasPrefix(l, "::") {
			if strings.Contains(line, "##[") {
				t.Errorf("a v1 workflow command in %q", line)
			}
			continue
		}
		end := strings.Index(l[2:], "::")
		if end < 0 {
			t.Errorf("unterminated command %q", line)
			continue
		}
		info := l[2 : 2+end]
		c := command{props: map[string]string{}, data: undata.Replace(l[2+end+2:])}
		name, props, _ := strings.Cut(info, " ")
		c.name = name
		for _, p := range strings.Split(props, ",") {
			if k, v, ok := strings.Cut(p, "="); ok {
				c.props[k] = unprop.Replace(v)
			}
		}
		cmds = append(cmds, c)
	}
	return cmds
}

// TestGitHubCommandsRoundTrip: the runner reads back exactly the gate's
// commands, with the hostile values intact in their properties and
// messages, and no forged command.
func TestGitHubCommandsRoundTrip(t *testing.T) {
	rep := hostileReport()
	var b bytes.Buffer
	if err := WriteGitHub(&b, rep, GitHubOptions{Warnings: []string{"trust: 100%\nbad"}}); err != nil {
		t.Fatal(err)
	}
	cmds := parseCommands(t, b.String())
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	if got := strings.Join(names, " "); got != "warning error error warning error" {
		t.Fatalf("commands %q:\n%s", got, b.String())
	}
	if c := cmds[0]; c.data != "trust: 100%\nbad" || c.props["title"] != "gitops-gate" {
		t.Errorf("warning %+v", c)
	}
	fail := cmds[1]
	if fail.props["file"] != "apps/web/base/deployment.yaml" || fail.props["line"] != "15" ||
		fail.props["title"] != "Image not verified: registry.example.com/demo/migrate:2.1.0" ||
		!strings.Contains(fail.data, "\nExpected signer: issuer \"https://token.actions.githubusercontent.com\", subject \"https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*\"") ||
		!strings.Contains(fail.data, "\nFound signer: https://github.com/evil-fork/migrate/.github/workflows/release.yml@refs/tags/v2.1.0 (https://token.actions.githubusercontent.com)") {
		t.Errorf("failure annotation %+v", fail)
	}
	appErr := cmds[4]
	if appErr.props["file"] != "charts/broken" || appErr.props["title"] != "App not rendered: broken <img src=x onerror=alert(1)>" ||
		!strings.Contains(appErr.data, "\n::error file=x::forged\n") {
		t.Errorf("app annotation: the path and the error must survive the round trip: %+v", appErr)
	}
	imgErr := cmds[2]
	if imgErr.props["file"] != "apps/evil,dir:x%0A/p|od.yaml" || imgErr.props["line"] != "3" ||
		!strings.Contains(imgErr.data, "registry said: 500\n::warning::forged\n") || !strings.Contains(imgErr.data, "100% done") ||
		strings.ContainsRune(imgErr.data, '\u202e') || len(imgErr.data) > maxAnnotation+len("…") {
		t.Errorf("error annotation %+v", imgErr)
	}
	if cmds[3].props["line"] != "9" || cmds[3].props["file"] != "apps/evil/audit.yaml" {
		t.Errorf("audit annotation %+v", cmds[3])
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "FAIL: 5 images: 1 verified, 1 failed (web-prod), 1 errors (evil | app ::error::forged") {
		t.Errorf("summary line %q", last)
	}
}

// TestGitHubAnnotationCapNotice: past GitHub's ten annotations per level
// and step, a notice says where the rest are.
func TestGitHubAnnotationCapNotice(t *testing.T) {
	rep := &gate.Report{Apps: []gate.AppVerdict{{Name: "a"}}}
	for i := 0; i < 12; i++ {
		rep.Apps[0].Images = append(rep.Apps[0].Images, gate.ImageVerdict{Status: gate.StatusFail, Reason: "unsigned"})
	}
	rep.Recount()
	var b bytes.Buffer
	WriteGitHub(&b, rep, GitHubOptions{})
	cmds := parseCommands(t, b.String())
	if len(cmds) != 13 || cmds[12].name != "notice" || !strings.Contains(cmds[12].data, "12 errors and 0 warnings") {
		t.Errorf("%d commands:\n%s", len(cmds), b.String())
	}
}

func TestWithPathPrefix(t *testing.T) {
	rep := hostileReport()
	got := WithPathPrefix(rep, "gitops/")
	if got.Apps[0].Images[0].File != "gitops/apps/web/base/deployment.yaml" || got.Apps[0].Path != "gitops/apps/web/overlays/prod" {
		t.Errorf("%+v", got.Apps[0])
	}
	if rep.Apps[0].Images[0].File != "apps/web/base/deployment.yaml" {
		t.Errorf("the original report was changed")
	}
	if WithPathPrefix(rep, ".") != rep {
		t.Errorf("prefix . should be the identity")
	}
}

// TestAnnotationsEscapeHostileValues: the check run's annotations carry
// repository strings (file names, images, reasons) as plain values: a
// title and a path are one printable line, a message is printable text
// (newlines kept, control and bidi characters replaced) clipped to 4,000
// bytes; one annotation per failing, erroring or audit occurrence, with
// its level, and none for the rest.
func TestAnnotationsEscapeHostileValues(t *testing.T) {
	as := Annotations(hostileReport())
	if len(as) != 3 {
		t.Fatalf("%d annotations, want fail, error and audit: %+v", len(as), as)
	}
	for i, want := range []struct {
		level, file string
		line        int
	}{{"failure", "apps/web/base/deployment.yaml", 15}, {"warning", "apps/evil,dir:x%0A/p|od.yaml", 3}, {"notice", "apps/evil/audit.yaml", 9}} {
		if a := as[i]; a.Level != want.level || a.File != want.file || a.Line != want.line {
			t.Errorf("annotation %d: %s %s:%d, want %s %s:%d", i, a.Level, a.File, a.Line, want.level, want.file, want.line)
		}
	}
	for _, a := range as {
		for _, v := range []string{a.Title, a.File} {
			if strings.ContainsAny(v, "\n\r\u202e") || len(v) > 1200 {
				t.Errorf("not one printable line: %q", v)
			}
		}
		if len(a.Message) > maxAnnotation || strings.ContainsAny(a.Message, "\r\u202e\u202c") {
			t.Errorf("message of %d bytes or with control characters: %q", len(a.Message), a.Message[:min(len(a.Message), 200)])
		}
	}
	if !strings.HasPrefix(as[1].Title, "Image not checked: reg.example/a|b`c``d:<script>") || !strings.HasSuffix(as[1].Message, "…") {
		t.Errorf("title %q / message end %q", as[1].Title, as[1].Message[len(as[1].Message)-20:])
	}
}
