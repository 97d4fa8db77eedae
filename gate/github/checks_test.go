package github_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/gatetest/fakegithub"
	"github.com/gitops-gate/gitops-gate/gate/github"
)

// corpus reads one of GitHub's payloads and edits it.
func corpus(t *testing.T, file string, edit func(p map[string]any)) *github.Delivery {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/github-webhooks/" + file)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		var p map[string]any
		json.Unmarshal(raw, &p)
		edit(p)
		raw, _ = json.Marshal(p)
	}
	return &github.Delivery{ID: "d-" + file, Event: strings.SplitN(file, ".", 2)[0], Payload: raw}
}

// TestInterpretCheckPayloads: GitHub's own check_run and check_suite
// payloads are read (the rerequested example's App timestamps, which
// go-github refuses, included): re-runs, a push's suite and a button ask
// for something, created and completed for nothing; hostile head SHAs and
// branches are malformed.
func TestInterpretCheckPayloads(t *testing.T) {
	for _, c := range []struct {
		file                 string
		ignored              bool
		sha, branch, name    string
		pr                   int
		app, installation    int64
		identifier, external string
	}{
		{file: "check_run.created.payload.json", ignored: true},
		{file: "check_run.completed.payload.json", ignored: true},
		{file: "check_suite.completed.payload.json", ignored: true},
		{file: "check_run.rerequested.payload.json", sha: "d6fde92930d4715a2b49857d24b940956b26d2d3", branch: "master", name: "randscape", app: 2, installation: 1},
		{file: "check_run.requested_action.payload.json", sha: "5bd5f196a46b8222fb7484f05faba41a73cf34bd", branch: "miniak/event-process-id", name: "API Review",
			pr: 26764, app: 25811, installation: 690857, identifier: "lgtm|26764"},
		{file: "check_suite.requested.payload.json", sha: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", branch: "master", app: 29310, installation: 957387},
		{file: "check_suite.rerequested.payload.json", sha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821", branch: "changes", pr: 2, app: 29310, installation: 957387},
	} {
		ev, err := github.Interpret(corpus(t, c.file, nil))
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if c.ignored {
			if ev.Ignore == "" {
				t.Errorf("%s: acted on (%+v)", c.file, ev)
			}
			continue
		}
		if ev.Ignore != "" || ev.SHA != c.sha || ev.Branch != c.branch || ev.PR != c.pr || ev.AppID != c.app ||
			ev.InstallationID != c.installation || ev.CheckName != c.name || ev.Identifier != c.identifier {
			t.Errorf("%s: %+v", c.file, ev)
		}
		if c.pr > 0 && ev.Ref != fmt.Sprintf("refs/pull/%d/head", c.pr) {
			t.Errorf("%s: ref %q", c.file, ev.Ref)
		}
	}
	for name, edit := range map[string]func(map[string]any){
		"path in the SHA": func(p map[string]any) { p["check_run"].(map[string]any)["head_sha"] = "zzzz../../../etc/passwd" },
		"branch leaving refs": func(p map[string]any) {
			p["check_run"].(map[string]any)["check_suite"].(map[string]any)["head_branch"] = "../../x"
		},
		"repository path": func(p map[string]any) { p["repository"].(map[string]any)["full_name"] = "acme/gitops/statuses" },
		"no check_run":    func(p map[string]any) { delete(p, "check_run") },
	} {
		if _, err := github.Interpret(corpus(t, "check_run.rerequested.payload.json", edit)); !errors.Is(err, github.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// TestCheckRunClient: as an App, a check run is created and updated on
// the paths GitHub documents; more than 50 annotations or 3 buttons in one
// request are refused before anything is sent, an over-long summary or
// title is cut to GitHub's limits, and a lost create is found again by its
// external ID. With a token, check runs are refused (only Apps can).
func TestCheckRunClient(t *testing.T) {
	fake := fakegithub.New(t)
	key := fake.App(7, map[string]int64{"acme/gitops": 42})
	c, err := github.NewClient(github.Auth{AppID: 7, PrivateKey: key, BaseURL: fake.Server.URL + "/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sha := "0123456789abcdef0123456789abcdef01234567"
	base := github.CheckRun{Repo: "acme/gitops", InstallationID: 42, Name: "gitops-gate", SHA: sha, DetailsURL: "https://gate/e/1", ExternalID: "e1"}
	if found, err := c.FindCheckRun(ctx, "acme/gitops", 42, sha, "gitops-gate", "e1"); err != nil || found != 0 {
		t.Fatalf("before create: %d %v", found, err)
	}
	id, err := c.CreateCheckRun(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if found, err := c.FindCheckRun(ctx, "acme/gitops", 42, sha, "gitops-gate", "e1"); err != nil || found != id {
		t.Fatalf("find: %d %v, want %d", found, err, id)
	}
	if found, _ := c.FindCheckRun(ctx, "acme/gitops", 42, sha, "gitops-gate", "e2"); found != 0 {
		t.Errorf("another evaluation's check run found: %d", found)
	}
	var many []github.Annotation
	for i := 0; i < 51; i++ {
		many = append(many, github.Annotation{Path: "a.yaml", Line: i + 1, Level: "failure", Title: "t", Message: "m"})
	}
	done := base
	done.ID, done.Status, done.Conclusion = id, "completed", "failure"
	done.Title, done.Summary = strings.Repeat("T", 300), strings.Repeat("s", 70000)
	done.Annotations = many
	if err := c.UpdateCheckRun(ctx, done); err == nil {
		t.Error("51 annotations in one request were sent")
	}
	done.Annotations = many[:50]
	done.Actions = []github.Action{{Label: "Propose pins", Description: "d", Identifier: "propose-pins"}}
	if err := c.UpdateCheckRun(ctx, done); err != nil {
		t.Fatal(err)
	}
	st, err := c.GetCheckRunState(ctx, "acme/gitops", 42, id)
	if err != nil || st.Status != "completed" || st.Conclusion != "failure" || st.Annotations != 50 {
		t.Errorf("state %+v %v", st, err)
	}
	runs := fake.CheckRuns()
	if len(runs) != 1 || len([]rune(runs[0].Summary)) != github.MaxCheckText || len([]rune(runs[0].Title)) != github.MaxCheckTitle {
		t.Errorf("summary of %d and title of %d characters", len([]rune(runs[0].Summary)), len([]rune(runs[0].Title)))
	}
	tooMany := done
	tooMany.Annotations = nil
	tooMany.Actions = []github.Action{{"a", "b", "c"}, {"a", "b", "d"}, {"a", "b", "e"}, {"a", "b", "f"}}
	if err := c.UpdateCheckRun(ctx, tooMany); err == nil {
		t.Error("4 buttons were sent")
	}
	tooMany.Actions = []github.Action{{Label: "x", Description: "y", Identifier: strings.Repeat("i", 21)}}
	if err := c.UpdateCheckRun(ctx, tooMany); err == nil {
		t.Error("a 21-character identifier was sent")
	}
	if bad := fake.Bad(); len(bad) > 0 {
		t.Errorf("requests GitHub would refuse: %v", bad)
	}

	tok, _ := github.NewClient(github.Auth{Token: "ghp_test", BaseURL: fake.Server.URL + "/"}, nil)
	if _, err := tok.CreateCheckRun(ctx, base); !errors.Is(err, github.ErrNotApp) {
		t.Errorf("token create: %v, want ErrNotApp", err)
	}
}

// TestFakeRefusesWhatGitHubRefuses: the fake GitHub holds the gate to
// GitHub's limits: a token cannot create check runs, and a request with
// 51 annotations, a summary over 65,535 characters, a title over 255, or a
// conclusion without completed is refused.
func TestFakeRefusesWhatGitHubRefuses(t *testing.T) {
	fake := fakegithub.New(t)
	fake.App(7, map[string]int64{"acme/gitops": 42})
	sha := "0123456789abcdef0123456789abcdef01234567"
	post := func(auth string, body map[string]any) int {
		b, _ := json.Marshal(body)
		req, _ := newJSONRequest("POST", fake.Server.URL+"/repos/acme/gitops/check-runs", b)
		req.Header.Set("Authorization", auth)
		resp, err := doRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	ok := map[string]any{"name": "gitops-gate", "head_sha": sha}
	if code := post("token ghs_installation_42", ok); code != 201 {
		t.Fatalf("a valid create: %d", code)
	}
	ann := func(n int) []any {
		var out []any
		for i := 0; i < n; i++ {
			out = append(out, map[string]any{"path": "a", "start_line": 1, "end_line": 1, "annotation_level": "failure", "message": "m"})
		}
		return out
	}
	for name, c := range map[string]struct {
		auth string
		body map[string]any
	}{
		"a personal token":       {"token ghp_test", ok},
		"another installation":   {"token ghs_installation_43", ok},
		"51 annotations":         {"token ghs_installation_42", map[string]any{"name": "g", "head_sha": sha, "output": map[string]any{"title": "t", "summary": "s", "annotations": ann(51)}}},
		"a long summary":         {"token ghs_installation_42", map[string]any{"name": "g", "head_sha": sha, "output": map[string]any{"title": "t", "summary": strings.Repeat("é", 65536)}}},
		"a long title":           {"token ghs_installation_42", map[string]any{"name": "g", "head_sha": sha, "output": map[string]any{"title": strings.Repeat("t", 256), "summary": "s"}}},
		"conclusion, not done":   {"token ghs_installation_42", map[string]any{"name": "g", "head_sha": sha, "conclusion": "success"}},
		"annotation level":       {"token ghs_installation_42", map[string]any{"name": "g", "head_sha": sha, "output": map[string]any{"title": "t", "summary": "s", "annotations": []any{map[string]any{"path": "a", "start_line": 1, "end_line": 1, "annotation_level": "error", "message": "m"}}}}},
		"a 21-character button":  {"token ghs_installation_42", map[string]any{"name": "g", "head_sha": sha, "actions": []any{map[string]any{"label": "l", "description": "d", "identifier": strings.Repeat("i", 21)}}}},
		"a short head SHA":       {"token ghs_installation_42", map[string]any{"name": "g", "head_sha": "abc"}},
		"output without summary": {"token ghs_installation_42", map[string]any{"name": "g", "head_sha": sha, "output": map[string]any{"title": "t"}}},
	} {
		if code := post(c.auth, c.body); code < 400 {
			t.Errorf("%s: %d, want refused", name, code)
		}
	}
	if n := len(fake.CheckRuns()); n != 1 {
		t.Errorf("%d check runs, want only the valid one", n)
	}
}

func newJSONRequest(method, url string, body []byte) (*http.Request, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, err
}

func doRequest(req *http.Request) (int, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
