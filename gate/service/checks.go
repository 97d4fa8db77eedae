package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/github"
	"github.com/gitops-gate/gitops-gate/gate/report"
	"github.com/gitops-gate/gitops-gate/gate/service/config"
	"github.com/gitops-gate/gitops-gate/gate/store"
)

// Check runs. As a GitHub App, and unless a repository sets checkRuns:
// false, a webhook evaluation reports as one check run per commit and gate
// name (github.statusContext) instead of commit statuses: created queued at
// intake, in_progress when a worker starts, completed with the Markdown
// summary and the first 50 annotations, then one update per further 50.
// Each step is a job of the outbox, ordered per commit like statuses, and
// derived from the stored evaluation when it is posted; a step retried
// after its answer was lost asks GitHub what it already holds first
// (FindCheckRun, the annotation count), so nothing is posted twice.

const (
	// pinsAction is the identifier of the "Propose pins" button
	// (GitHub: at most 20 characters).
	pinsAction = "propose-pins"
	// maxAnnotations bounds one check run's annotations (20 requests);
	// the summary and the evaluation page list every finding.
	maxAnnotations = 1000
)

// needsAction marks an evaluation error that a person must fix (missing
// credentials or trust material): the check run concludes action_required.
type needsAction struct{ err error }

func (e needsAction) Error() string { return e.err.Error() }
func (e needsAction) Unwrap() error { return e.err }

// checkRuns says whether repo's webhook evaluations report as check runs:
// only a GitHub App can create them, and a repository may keep statuses.
func (s *Service) checkRuns(repo string) bool {
	if s.o.GitHub == nil || s.o.GitHub.AppID() == 0 {
		return false
	}
	set, ok := s.cfg.Settings(repo)
	if !ok {
		set = s.cfg.Defaults
	}
	return set.CheckRuns == nil || *set.CheckRuns
}

func (s *Service) checkStep(spec *store.Spec, evalID, op string) store.CheckRun {
	return store.CheckRun{Repo: spec.Repo, SHA: spec.SHA, Name: s.cfg.GitHub.StatusContext, EvaluationID: evalID,
		InstallationID: spec.InstallationID, Op: op, DetailsURL: s.target(evalID)}
}

// pendingChecks creates the check run of a new webhook evaluation.
func (s *Service) pendingChecks(spec *store.Spec) func(string) []store.CheckRun {
	if !spec.FromWebhook() || !s.checkRuns(spec.Repo) {
		return nil
	}
	return func(id string) []store.CheckRun { return []store.CheckRun{s.checkStep(spec, id, store.CheckCreate)} }
}

// supersededChecks cancels the check run of a superseded evaluation.
func (s *Service) supersededChecks(repo string) func(*store.Evaluation, string) []store.CheckRun {
	if !s.checkRuns(repo) {
		return nil
	}
	return func(old *store.Evaluation, newID string) []store.CheckRun {
		if !old.Spec.FromWebhook() {
			return nil
		}
		c := s.checkStep(&old.Spec, old.ID, store.CheckCancel)
		c.Conclusion, c.SupersededBy = "cancelled", newID
		return []store.CheckRun{c}
	}
}

// startChecks moves the check run to in_progress.
func (s *Service) startChecks(ev *store.Evaluation) []store.CheckRun {
	if !ev.Spec.FromWebhook() || !s.checkRuns(ev.Spec.Repo) {
		return nil
	}
	return []store.CheckRun{s.checkStep(&ev.Spec, ev.ID, store.CheckStart)}
}

// finalChecks completes the check run, then appends the annotations past
// the first batch, one step per batch.
func (s *Service) finalChecks(ev *store.Evaluation, rep *gate.Report, evalErr error) []store.CheckRun {
	if !ev.Spec.FromWebhook() || !s.checkRuns(ev.Spec.Repo) {
		return nil
	}
	done := s.checkStep(&ev.Spec, ev.ID, store.CheckComplete)
	done.Conclusion = s.conclusion(ev, rep, evalErr)
	if evalErr == nil && s.offersPins(ev, rep) {
		done.Actions = []string{pinsAction}
	}
	out := []store.CheckRun{done}
	if evalErr == nil {
		for b := 1; b < batches(len(report.Annotations(rep))); b++ {
			c := s.checkStep(&ev.Spec, ev.ID, store.CheckAnnotate)
			c.Batch = b
			out = append(out, c)
		}
	}
	return out
}

// batches is how many requests carry n annotations (at least the one
// that completes the check run).
func batches(n int) int {
	n = min(n, maxAnnotations)
	return max(1, (n+github.MaxAnnotationsPerRequest-1)/github.MaxAnnotationsPerRequest)
}

// conclusion is the check run's verdict: failure for denied images (and
// for any error a person need not act on: fail closed), neutral when only
// audit findings remain, action_required when credentials or trust
// material are missing.
func (s *Service) conclusion(ev *store.Evaluation, rep *gate.Report, evalErr error) string {
	var na needsAction
	switch {
	case evalErr != nil && errors.As(evalErr, &na):
		return "action_required"
	case evalErr != nil:
		return "failure"
	case rep.Result == gate.StatusPass && rep.Summary.Audit > 0:
		return "neutral"
	case rep.Result == gate.StatusPass:
		return "success"
	case rep.Result == gate.StatusError && rep.Summary.Failed == 0:
		if eng, err := s.engineFor(ev.Spec.Repo); err == nil && eng.TrustErr != nil {
			return "action_required"
		}
	}
	return "failure"
}

// offersPinsButton says whether the evaluation's check run may offer the
// "Propose pins" button: check runs of a pull request, with pins proposed
// on demand (github.proposePins unset; "comment" writes the comment
// anyway, "off" never).
func (s *Service) offersPinsButton(ev *store.Evaluation) bool {
	return s.cfg.GitHub.ProposePins == "" && s.checkRuns(ev.Spec.Repo) && ev.Spec.Trigger == store.TriggerPullRequest &&
		ev.Spec.PR > 0 && len(ev.Spec.Apps) == 0
}

// offersPins says whether the completed check run shows the button: every
// image passed and some still use a tag.
func (s *Service) offersPins(ev *store.Evaluation, rep *gate.Report) bool {
	return s.offersPinsButton(ev) && rep.Result == gate.StatusPass && rep.ProposedPins != nil
}

// checkJob posts one check-run step, retrying as statuses are retried.
func (s *Service) checkJob(ctx context.Context, job *store.Job) {
	if s.o.GitHub == nil || job.Check == nil {
		s.st.Complete(ctx, job, s.owner)
		return
	}
	c := job.Check
	outcome, err := s.postCheck(ctx, job)
	var re *github.RetryError
	switch {
	case err == nil:
		s.st.Complete(ctx, job, s.owner)
		s.log.Info("check run", "repo", c.Repo, "sha", c.SHA, "step", c.Op, "batch", c.Batch, "evaluation", c.EvaluationID, "outcome", outcome)
	case ctx.Err() != nil:
		// Shutting down: the lease expires and the step runs again,
		// asking GitHub first what it already holds.
		return
	case errors.As(err, &re) && job.Attempts < maxStatusAttempts:
		next := retryAt(job.Attempts, re)
		s.log.Warn("check run step not posted; will retry", "repo", c.Repo, "sha", c.SHA, "step", c.Op, "attempt", job.Attempts, "at", next, "err", err)
		s.st.Retry(ctx, job, s.owner, next, err.Error())
		outcome = "retry"
	default:
		s.log.Error("check run step not posted; giving up", "repo", c.Repo, "sha", c.SHA, "step", c.Op, "err", err)
		s.st.Fail(ctx, job, s.owner, err.Error())
		outcome = "failed"
	}
	if m := s.o.Metrics; m != nil && checkSteps[c.Op] {
		m.CheckRunSteps.WithLabelValues(c.Op, outcome).Inc()
	}
}

// checkSteps are the step label values (a job's op comes from the store).
var checkSteps = map[string]bool{store.CheckCreate: true, store.CheckStart: true, store.CheckComplete: true, store.CheckAnnotate: true, store.CheckCancel: true}

// postCheck sends step job.Check and says how: posted, or already-posted
// (an earlier attempt's request was applied).
func (s *Service) postCheck(ctx context.Context, job *store.Job) (string, error) {
	c, gc := job.Check, s.o.GitHub
	ev, err := s.st.Get(ctx, c.EvaluationID)
	if err != nil {
		return "", fmt.Errorf("evaluation %s of a check run: %w", c.EvaluationID, err)
	}
	id := ev.CheckRunID
	if id == 0 && (c.Op != store.CheckCreate || job.Attempts > 1) {
		// An earlier attempt may have created the check run and died
		// before recording it (or the create step gave up).
		if id, err = gc.FindCheckRun(ctx, c.Repo, c.InstallationID, c.SHA, c.Name, c.EvaluationID); err != nil {
			return "", err
		}
		if id != 0 {
			if err := s.st.SetCheckRunID(ctx, c.EvaluationID, id); err != nil {
				return "", err
			}
		}
	}
	run, err := s.checkContent(ev, c)
	if err != nil {
		return "", err
	}
	if id == 0 {
		// Create it in this step's state: a later step whose create
		// never happened still reports.
		id, err = gc.CreateCheckRun(ctx, run)
		if refused(err) && len(run.Annotations) > 0 {
			id, err = gc.CreateCheckRun(ctx, withoutAnnotations(run, err))
		}
		if err != nil {
			return "", err
		}
		return "posted", s.st.SetCheckRunID(ctx, c.EvaluationID, id)
	}
	if c.Op == store.CheckCreate {
		return "already-posted", nil // created by an earlier attempt
	}
	if job.Attempts > 1 {
		st, err := gc.GetCheckRunState(ctx, c.Repo, c.InstallationID, id)
		if err != nil {
			return "", err
		}
		if applied(st, c, ev) {
			return "already-posted", nil
		}
	}
	run.ID = id
	err = gc.UpdateCheckRun(ctx, run)
	if refused(err) && len(run.Annotations) > 0 {
		// GitHub refused a value from the repository (a path it does not
		// take): the verdict must still be shown, so the step goes again
		// without its annotations; the summary lists every finding.
		s.log.Warn("check run annotations refused; posting the step without them", "repo", c.Repo, "sha", c.SHA, "step", c.Op, "batch", c.Batch, "err", err)
		if c.Op == store.CheckAnnotate {
			return "posted", nil
		}
		err = gc.UpdateCheckRun(ctx, withoutAnnotations(run, err))
	}
	return "posted", err
}

// refused says whether GitHub refused a request for good (a 4xx other
// than a rate limit), as opposed to an error worth retrying.
func refused(err error) bool {
	var re *github.RetryError
	return err != nil && !errors.As(err, &re) && !errors.Is(err, github.ErrNotApp)
}

func withoutAnnotations(run github.CheckRun, _ error) github.CheckRun {
	run.Annotations = nil
	// why is not quoted: GitHub's message may echo the repository's value.
	run.Text = strings.TrimSpace(run.Text + "\n\nGitHub refused this check run's annotations; the summary above lists every finding.")
	return run
}

// applied says whether GitHub already holds what step c sets: a status it
// reached, or the annotations up to the end of c's batch (GitHub appends
// annotations, so a batch sent twice would show twice).
func applied(st github.CheckRunState, c *store.CheckRun, ev *store.Evaluation) bool {
	switch c.Op {
	case store.CheckStart:
		return st.Status == "in_progress" || st.Status == "completed"
	case store.CheckCancel:
		return st.Status == "completed"
	case store.CheckComplete, store.CheckAnnotate:
		upTo := min(len(annotationsOf(ev)), (c.Batch+1)*github.MaxAnnotationsPerRequest)
		return (c.Op == store.CheckAnnotate || st.Status == "completed") && st.Annotations >= upTo
	}
	return false
}

// reportOf is the evaluation's stored report.
func reportOf(ev *store.Evaluation) *gate.Report {
	var rep gate.Report
	if len(ev.Report) > 0 {
		json.Unmarshal(ev.Report, &rep)
	}
	return &rep
}

// annotationsOf are the check run's annotations, capped.
func annotationsOf(ev *store.Evaluation) []report.Annotation {
	if ev.Error != "" {
		return nil
	}
	a := report.Annotations(reportOf(ev))
	return a[:min(len(a), maxAnnotations)]
}

// checkContent is what step c sets on the check run.
func (s *Service) checkContent(ev *store.Evaluation, c *store.CheckRun) (github.CheckRun, error) {
	run := github.CheckRun{Repo: c.Repo, InstallationID: c.InstallationID, Name: c.Name, SHA: c.SHA, DetailsURL: c.DetailsURL, ExternalID: c.EvaluationID}
	switch c.Op {
	case store.CheckCreate:
		run.Status = "queued"
	case store.CheckStart:
		run.Status = "in_progress"
	case store.CheckCancel:
		run.Status, run.Conclusion = "completed", c.Conclusion
		run.Title = "Superseded by a newer commit: not evaluated"
		run.Summary = report.ErrorMarkdown(run.Title, "A newer commit of the pull request is evaluated instead.",
			report.MarkdownOptions{ReportURL: s.target(c.SupersededBy)})
	case store.CheckComplete, store.CheckAnnotate:
		if ev.Result == "" && ev.Error == "" {
			return run, fmt.Errorf("evaluation %s is %s: no verdict to report", ev.ID, ev.State)
		}
		s.output(ev, &run)
		all := annotationsOf(ev)
		lo := min(c.Batch*github.MaxAnnotationsPerRequest, len(all))
		hi := min(lo+github.MaxAnnotationsPerRequest, len(all))
		for _, a := range all[lo:hi] {
			run.Annotations = append(run.Annotations, github.Annotation{Path: a.File, Line: a.Line, Level: a.Level, Title: a.Title, Message: a.Message})
		}
		if c.Op == store.CheckComplete {
			run.Status, run.Conclusion = "completed", c.Conclusion
			for _, id := range c.Actions {
				if id == pinsAction {
					run.Actions = append(run.Actions, github.Action{Label: "Propose pins", Description: "Comment the diff that pins each tag", Identifier: pinsAction})
				}
			}
		}
	default:
		return run, fmt.Errorf("unknown check run step %q", c.Op)
	}
	return run, nil
}

// output is the title, summary and text of a finished evaluation: the
// Markdown summary of `check -o markdown`, cut to GitHub's limit with a
// link to the evaluation page.
func (s *Service) output(ev *store.Evaluation, run *github.CheckRun) {
	mo := report.MarkdownOptions{Limit: github.MaxCheckText, ReportURL: s.target(ev.ID)}
	if ev.Error != "" {
		run.Title = github.Truncate("Could not check: "+ev.Error, github.MaxCheckTitle)
		run.Summary = report.ErrorMarkdown("Could not check this commit", ev.Error, mo)
		return
	}
	rep := reportOf(ev)
	run.Title = github.Truncate(report.Title(rep), github.MaxCheckTitle)
	run.Summary = report.Markdown(rep, mo)
	if n := len(report.Annotations(rep)); n > maxAnnotations {
		run.Text = fmt.Sprintf("The first %d of %d findings are annotated on the files; the summary above and [the evaluation](%s) list them all.",
			maxAnnotations, n, s.target(ev.ID))
	}
}

// checkIntake decides what a check_run or check_suite delivery asks for:
// a re-run (a new evaluation of the commit: tags resolved again, the
// verification cache still used), an evaluation of a push to a configured
// branch, or the pins comment of an evaluation. It returns the spec to
// evaluate, or the comment to queue, or why nothing is done.
func (s *Service) checkIntake(ctx context.Context, ev *github.Event, set config.RepoSettings) (spec *store.Spec, commentFor, ignore string, err error) {
	if !s.checkRuns(ev.Repo) {
		return nil, "", "repository " + ev.Repo + " reports with commit statuses, not check runs", nil
	}
	if ev.AppID != s.o.GitHub.AppID() {
		return nil, "", fmt.Sprintf("%s of another GitHub App (%d)", ev.Kind, ev.AppID), nil
	}
	if ev.Kind == "check_run" && ev.CheckName != s.cfg.GitHub.StatusContext {
		return nil, "", "check run " + clipName(ev.CheckName) + " is not the gate's", nil
	}
	if ev.Kind == "check_run" && ev.Action == "requested_action" {
		return s.pinsRequest(ctx, ev)
	}
	if ev.Kind == "check_run" && ev.PR == 0 && ev.ExternalID != "" {
		// A fork's pull request is not in the payload (GitHub lists only
		// this repository's): the evaluation the check run reports knows it.
		if e, err := s.st.Get(ctx, ev.ExternalID); err == nil && strings.EqualFold(e.Spec.Repo, ev.Repo) && e.Spec.SHA == ev.SHA &&
			e.Spec.Trigger == store.TriggerPullRequest && e.Spec.PR > 0 {
			ev.PR, ev.Ref = e.Spec.PR, e.Spec.Ref
		}
	}
	spec = &store.Spec{Repo: ev.Repo, SHA: ev.SHA, InstallationID: ev.InstallationID}
	switch {
	case ev.Action == "rerequested" && ev.PR > 0:
		spec.Trigger, spec.PR, spec.Ref = store.TriggerPullRequest, ev.PR, ev.Ref
	case ev.Branch != "" && contains(set.Branches, ev.Branch):
		spec.Trigger, spec.Ref = store.TriggerPush, "refs/heads/"+ev.Branch
	case ev.Action == "requested":
		return nil, "", "check suite of " + clipName(ev.Branch) + ": pushes to it are not evaluated (not in the repository's branches); pull requests are evaluated from pull_request events", nil
	default:
		return nil, "", "re-run of a commit that is neither a pull request's nor on a configured branch", nil
	}
	return spec, "", "", nil
}

// pinsRequest answers the "Propose pins" button: the pins comment of the
// evaluation the check run reports (its external_id), when that
// evaluation is of this repository and commit and offered the button.
func (s *Service) pinsRequest(ctx context.Context, ev *github.Event) (*store.Spec, string, string, error) {
	if ev.Identifier != pinsAction {
		return nil, "", "button " + clipName(ev.Identifier) + " is not one the gate offers", nil
	}
	e, err := s.st.Get(ctx, ev.ExternalID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", "the check run's evaluation " + clipName(ev.ExternalID) + " is not known (pruned?)", nil
	}
	if err != nil {
		return nil, "", "", err
	}
	if !strings.EqualFold(e.Spec.Repo, ev.Repo) || e.Spec.SHA != ev.SHA || e.Spec.PR <= 0 {
		return nil, "", "the check run's evaluation is of another repository, commit or no pull request", nil
	}
	if !e.Done() || !s.offersPins(e, reportOf(e)) {
		return nil, "", "evaluation " + e.ID + " has no pins to propose", nil
	}
	return nil, e.ID, "", nil
}

func clipName(s string) string { return github.Truncate(strings.ToValidUTF8(s, "?"), 80) }
