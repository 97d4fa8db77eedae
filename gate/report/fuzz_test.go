package report

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// FuzzWrite: whatever a manifest or a registry puts in an image name, a
// path or a reason (quotes, control bytes, invalid UTF-8, HTML), the JSON
// and SARIF outputs stay valid JSON that keeps the verdict, and the table
// and summary do not panic; the Markdown keeps its limit and the workflow
// commands are only the gate's.
func FuzzWrite(f *testing.F) {
	f.Add("ghcr.io/acme/api:v1", "apps/api/deploy.yaml", "signed by another identity", "api", 12)
	f.Add("\x00\"</script>", "a b/\u2028c.yaml", "\xff\xfe", "", 0)
	f.Fuzz(func(t *testing.T, image, file, reason, app string, line int) {
		rep := &gate.Report{APIVersion: gate.APIVersion, Apps: []gate.AppVerdict{{Name: app, Path: file, Kind: manifests.KindPlain, Images: []gate.ImageVerdict{
			{ImageRef: manifests.ImageRef{App: app, Image: image, File: file, Line: line, FieldPath: "spec.containers[0].image"}, Status: gate.StatusFail, Reason: reason},
			{ImageRef: manifests.ImageRef{App: app, Image: image + "2", File: file, Line: line}, Status: gate.StatusPass},
		}}}}
		rep.Recount()
		if rep.Result != gate.StatusFail {
			t.Fatalf("result %s with a failed image", rep.Result)
		}
		var js, sarif, table bytes.Buffer
		if err := WriteJSON(&js, rep); err != nil {
			t.Fatal(err)
		}
		var back gate.Report
		if err := json.Unmarshal(js.Bytes(), &back); err != nil {
			t.Fatalf("JSON output does not parse: %v", err)
		}
		if back.Result != gate.StatusFail || len(back.Apps) != 1 || len(back.Apps[0].Images) != 2 {
			t.Fatalf("JSON lost the verdict: %+v", back)
		}
		if err := WriteSARIF(&sarif, rep, "fuzz"); err != nil {
			t.Fatal(err)
		}
		var s struct {
			Runs []struct {
				Results []json.RawMessage `json:"results"`
			} `json:"runs"`
		}
		if err := json.Unmarshal(sarif.Bytes(), &s); err != nil {
			t.Fatalf("SARIF output does not parse: %v", err)
		}
		if len(s.Runs) != 1 || len(s.Runs[0].Results) == 0 {
			t.Fatalf("SARIF lost the failed image: %s", sarif.Bytes())
		}
		WriteTable(&table, rep)
		Summary(rep)
		if md := Markdown(rep, MarkdownOptions{Limit: 2000}); len(md) > 2000 {
			t.Fatalf("Markdown over its limit: %d bytes", len(md))
		}
		// The workflow commands: exactly the gate's one error, whatever
		// the strings hold.
		var gh bytes.Buffer
		if err := WriteGitHub(&gh, rep, GitHubOptions{}); err != nil {
			t.Fatal(err)
		}
		if cmds := parseCommands(t, gh.String()); len(cmds) != 1 || cmds[0].name != "error" {
			t.Fatalf("workflow commands %+v from:\n%s", cmds, gh.String())
		}
	})
}
