package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest/fakegithub"
	"github.com/gitops-gate/gitops-gate/gate/github"
	"github.com/gitops-gate/gitops-gate/gate/service/config"
	"github.com/gitops-gate/gitops-gate/gate/store"
	"github.com/gitops-gate/gitops-gate/manifests"
)

func failingReport(n int, reason string) *gate.Report {
	rep := &gate.Report{APIVersion: gate.APIVersion}
	app := gate.AppVerdict{Name: "apps/web", Path: "apps/web"}
	for i := 0; i < n; i++ {
		app.Images = append(app.Images, gate.ImageVerdict{
			ImageRef: manifests.ImageRef{Image: fmt.Sprintf("ghcr.io/acme/web-%03d:v1", i), File: "apps/web/deploy.yaml", Line: i + 1},
			Status:   gate.StatusFail, Reason: fmt.Sprintf("%03d %s", i, reason)})
	}
	app.Images = append(app.Images, gate.ImageVerdict{ImageRef: manifests.ImageRef{Image: "ghcr.io/acme/ok:v1", File: "apps/web/ok.yaml", Line: 3}, Status: gate.StatusPass})
	rep.Apps = []gate.AppVerdict{app}
	rep.Recount()
	return rep
}

// TestCheckRunSummaryIsCut: a report whose summary would pass GitHub's
// 65,535 characters is cut with a note linking the evaluation page, the
// failed images first; the fake GitHub (which refuses longer summaries)
// accepts the check run.
func TestCheckRunSummaryIsCut(t *testing.T) {
	s := &Service{cfg: &config.Config{ExternalURL: "https://gate.example.com"}}
	s.cfg.GitHub.StatusContext = "gitops-gate"
	rep := failingReport(300, strings.Repeat("no signatures found | <b>hostile</b> ", 30))
	raw, _ := json.Marshal(rep)
	sha := "0123456789abcdef0123456789abcdef01234567"
	ev := &store.Evaluation{ID: "e1", Spec: store.Spec{Repo: "acme/gitops", SHA: sha, PR: 1, Trigger: "pull_request", InstallationID: 42},
		State: store.StateDone, Result: "fail", Report: raw}
	var run github.CheckRun
	s.output(ev, &run)
	if len(run.Summary) > github.MaxCheckText || !strings.Contains(run.Summary, "This summary was cut") ||
		!strings.Contains(run.Summary, "(https://gate.example.com/evaluations/e1)") {
		t.Fatalf("summary of %d bytes, ending %q", len(run.Summary), run.Summary[max(0, len(run.Summary)-300):])
	}
	if !strings.Contains(run.Summary, "000 no signatures found") || strings.Contains(run.Summary, "<b>") {
		t.Error("the first failure is missing or HTML is unescaped")
	}
	if run.Title != "300 of 301 images failed: apps/web" {
		t.Errorf("title %q", run.Title)
	}

	fake := fakegithub.New(t)
	key := fake.App(7, map[string]int64{"acme/gitops": 42})
	c, err := github.NewClient(github.Auth{AppID: 7, PrivateKey: key, BaseURL: fake.Server.URL + "/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	run.Repo, run.InstallationID, run.Name, run.SHA, run.Status, run.Conclusion = "acme/gitops", 42, "gitops-gate", sha, "completed", "failure"
	run.Annotations = nil
	for _, a := range annotationsOf(ev)[:50] {
		run.Annotations = append(run.Annotations, github.Annotation{Path: a.File, Line: a.Line, Level: a.Level, Title: a.Title, Message: a.Message})
	}
	if _, err := c.CreateCheckRun(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	if bad := fake.Bad(); len(bad) > 0 {
		t.Errorf("requests GitHub would refuse: %v", bad)
	}
	if n := len(annotationsOf(ev)); n != 300 || batches(n) != 6 {
		t.Errorf("%d annotations in %d batches", n, batches(n))
	}
	if batches(5000) != maxAnnotations/github.MaxAnnotationsPerRequest || batches(0) != 1 {
		t.Error("batches are not bounded")
	}
}

// TestCheckRunConclusions: denied images fail, only audit findings are
// neutral, a missing trust root or GitHub credentials need action, and any
// other error fails (fail closed).
func TestCheckRunConclusions(t *testing.T) {
	s := &Service{cfg: &config.Config{}, engines: map[string]*gate.Engine{}}
	ev := &store.Evaluation{Spec: store.Spec{Repo: "acme/gitops"}}
	pass := &gate.Report{Result: gate.StatusPass}
	audit := &gate.Report{Result: gate.StatusPass, Summary: gate.Summary{Audit: 1}}
	fail := &gate.Report{Result: gate.StatusFail, Summary: gate.Summary{Failed: 1}}
	errRep := &gate.Report{Result: gate.StatusError, Summary: gate.Summary{Errors: 1}}
	for name, c := range map[string]struct {
		rep  *gate.Report
		err  error
		want string
	}{
		"pass":             {pass, nil, "success"},
		"audit only":       {audit, nil, "neutral"},
		"denied":           {fail, nil, "failure"},
		"registry error":   {errRep, nil, "failure"},
		"no credentials":   {errRep, needsAction{errors.New("GitHub token: 401")}, "action_required"},
		"fetch error":      {errRep, errors.New("commit not found"), "failure"},
		"wrapped no creds": {errRep, fmt.Errorf("x: %w", needsAction{errors.New("t")}), "action_required"},
	} {
		if got := s.conclusion(ev, c.rep, c.err); got != c.want {
			t.Errorf("%s: %s, want %s", name, got, c.want)
		}
	}
	// The repository's engine has no trust material: images that needed
	// it are errors a person must fix.
	s.engines[settingsKey(s.cfg.Defaults)] = &gate.Engine{TrustErr: errors.New("trusted_root.json: no such file")}
	if got := s.conclusion(ev, errRep, nil); got != "action_required" {
		t.Errorf("no trust root: %s", got)
	}
	if got := s.conclusion(ev, &gate.Report{Result: gate.StatusError, Summary: gate.Summary{Errors: 1, Failed: 1}}, nil); got != "failure" {
		t.Errorf("denied and no trust root: %s, want failure", got)
	}
}
