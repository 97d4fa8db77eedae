package github

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// GitHub's limits on a check run (REST "Create a check run").
const (
	// MaxAnnotationsPerRequest is how many annotations one create or
	// update may carry; more are appended by further updates.
	MaxAnnotationsPerRequest = 50
	// MaxCheckText bounds output.summary and output.text, in characters.
	MaxCheckText = 65535
	// MaxCheckTitle bounds output.title and an annotation's title.
	MaxCheckTitle = 255
	// MaxAnnotationMessage bounds an annotation's message (64 KB).
	MaxAnnotationMessage = 64 << 10
	// Button limits: label and identifier 20 characters, description 40,
	// at most 3 buttons.
	MaxActionLabel, MaxActionIdentifier, MaxActionDescription, MaxActions = 20, 20, 40, 3
)

// ErrNotApp marks a check-run call made with a token: only a GitHub App
// can create or update check runs.
var ErrNotApp = errors.New("check runs need a GitHub App (github.appID); a token can only post commit statuses")

// Annotation marks one line of a file in a check run.
type Annotation struct {
	Path  string
	Line  int
	Level string // notice, warning or failure
	Title string
	// Message is plain text (GitHub does not render Markdown in it).
	Message string
}

// Action is a button on a completed check run; pressing it sends a
// check_run requested_action webhook with Identifier.
type Action struct {
	Label, Description, Identifier string
}

// CheckRun is what the gate sets on a check run: create it (ID 0) or
// update it.
type CheckRun struct {
	Repo           string // owner/name
	InstallationID int64
	ID             int64
	Name           string
	SHA            string
	DetailsURL     string
	ExternalID     string
	Status         string // queued, in_progress or completed
	Conclusion     string // with completed
	// Title and Summary (Markdown) are the output; none is sent when
	// Title is empty. Text is more Markdown under the summary.
	Title, Summary, Text string
	Annotations          []Annotation
	Actions              []Action
}

// CheckRunState is what GitHub holds of a check run: enough to tell
// whether a step was already applied.
type CheckRunState struct {
	Status      string
	Conclusion  string
	Annotations int
}

func (c *Client) checks(repo string, installationID int64) (*gh.Client, string, string, error) {
	if c.apps == nil {
		return nil, "", "", ErrNotApp
	}
	if err := CheckRepo("repository", repo); err != nil {
		return nil, "", "", err
	}
	client, err := c.api(installationID)
	if err != nil {
		return nil, "", "", err
	}
	owner, name, _ := strings.Cut(repo, "/")
	return client, owner, name, nil
}

// output builds the request's output within GitHub's limits: a caller
// that passes more is a bug, refused before anything is sent.
func (cr CheckRun) output() (*gh.CheckRunOutput, error) {
	if len(cr.Annotations) > MaxAnnotationsPerRequest {
		return nil, fmt.Errorf("%d annotations in one request: GitHub takes at most %d", len(cr.Annotations), MaxAnnotationsPerRequest)
	}
	if cr.Title == "" {
		if len(cr.Annotations) > 0 {
			return nil, errors.New("annotations need an output title and summary")
		}
		return nil, nil
	}
	out := &gh.CheckRunOutput{Title: gh.String(Truncate(cr.Title, MaxCheckTitle)), Summary: gh.String(Truncate(cr.Summary, MaxCheckText))}
	if cr.Text != "" {
		out.Text = gh.String(Truncate(cr.Text, MaxCheckText))
	}
	for _, a := range cr.Annotations {
		line := max(a.Line, 1)
		out.Annotations = append(out.Annotations, &gh.CheckRunAnnotation{
			Path: gh.String(a.Path), StartLine: gh.Int(line), EndLine: gh.Int(line), AnnotationLevel: gh.String(a.Level),
			Title: gh.String(Truncate(a.Title, MaxCheckTitle)), Message: gh.String(truncateBytes(a.Message, MaxAnnotationMessage)),
		})
	}
	return out, nil
}

func (cr CheckRun) actions() ([]*gh.CheckRunAction, error) {
	if len(cr.Actions) > MaxActions {
		return nil, fmt.Errorf("%d buttons: GitHub shows at most %d", len(cr.Actions), MaxActions)
	}
	var out []*gh.CheckRunAction
	for _, a := range cr.Actions {
		if n := len([]rune(a.Identifier)); n == 0 || n > MaxActionIdentifier {
			return nil, fmt.Errorf("button identifier %q: want 1 to %d characters", a.Identifier, MaxActionIdentifier)
		}
		out = append(out, &gh.CheckRunAction{Label: Truncate(a.Label, MaxActionLabel), Description: Truncate(a.Description, MaxActionDescription), Identifier: a.Identifier})
	}
	return out, nil
}

// CreateCheckRun creates a check run and returns its ID. A rate limit or
// server error returns a *RetryError.
func (c *Client) CreateCheckRun(ctx context.Context, cr CheckRun) (int64, error) {
	client, owner, repo, err := c.checks(cr.Repo, cr.InstallationID)
	if err != nil {
		return 0, err
	}
	if err := CheckSHA("commit", cr.SHA); err != nil {
		return 0, err
	}
	out, err := cr.output()
	if err != nil {
		return 0, err
	}
	acts, err := cr.actions()
	if err != nil {
		return 0, err
	}
	opts := gh.CreateCheckRunOptions{Name: cr.Name, HeadSHA: cr.SHA, DetailsURL: optional(cr.DetailsURL), ExternalID: optional(cr.ExternalID),
		Status: optional(cr.Status), Output: out, Actions: acts}
	now := gh.Timestamp{Time: time.Now()}
	if cr.Status == "in_progress" || cr.Status == "completed" {
		opts.StartedAt = &now
	}
	if cr.Status == "completed" {
		opts.Conclusion, opts.CompletedAt = optional(cr.Conclusion), &now
	}
	run, _, err := client.Checks.CreateCheckRun(ctx, owner, repo, opts)
	if err != nil {
		return 0, classify(err)
	}
	if run.GetID() == 0 {
		return 0, fmt.Errorf("check run %s on %s@%s: GitHub answered without an ID", cr.Name, cr.Repo, cr.SHA)
	}
	return run.GetID(), nil
}

// UpdateCheckRun updates check run cr.ID. Annotations are appended to
// those the check run has (GitHub's rule), so an update with annotations
// must be sent once: see CheckRunState.
func (c *Client) UpdateCheckRun(ctx context.Context, cr CheckRun) error {
	client, owner, repo, err := c.checks(cr.Repo, cr.InstallationID)
	if err != nil {
		return err
	}
	if cr.ID <= 0 {
		return fmt.Errorf("check run %s on %s: no check run ID", cr.Name, cr.Repo)
	}
	out, err := cr.output()
	if err != nil {
		return err
	}
	acts, err := cr.actions()
	if err != nil {
		return err
	}
	opts := gh.UpdateCheckRunOptions{Name: cr.Name, DetailsURL: optional(cr.DetailsURL), ExternalID: optional(cr.ExternalID),
		Status: optional(cr.Status), Output: out, Actions: acts}
	if cr.Status == "completed" {
		opts.Conclusion, opts.CompletedAt = optional(cr.Conclusion), &gh.Timestamp{Time: time.Now()}
	}
	_, _, err = client.Checks.UpdateCheckRun(ctx, owner, repo, cr.ID, opts)
	return classify(err)
}

// GetCheckRunState reads a check run's status, conclusion and number of
// annotations.
func (c *Client) GetCheckRunState(ctx context.Context, repo string, installationID, id int64) (CheckRunState, error) {
	client, owner, name, err := c.checks(repo, installationID)
	if err != nil {
		return CheckRunState{}, err
	}
	run, _, err := client.Checks.GetCheckRun(ctx, owner, name, id)
	if err != nil {
		return CheckRunState{}, classify(err)
	}
	return CheckRunState{Status: run.GetStatus(), Conclusion: run.GetConclusion(), Annotations: run.GetOutput().GetAnnotationsCount()}, nil
}

// FindCheckRun returns the ID of this App's check run named name on sha
// whose external_id is externalID, or 0. A create whose answer was lost
// (the process died after GitHub made the check run) asks this first, so
// a retry never makes a second check run.
func (c *Client) FindCheckRun(ctx context.Context, repo string, installationID int64, sha, name, externalID string) (int64, error) {
	client, owner, rname, err := c.checks(repo, installationID)
	if err != nil {
		return 0, err
	}
	if err := CheckSHA("commit", sha); err != nil {
		return 0, err
	}
	opts := &gh.ListCheckRunsOptions{CheckName: gh.String(name), Filter: gh.String("all"), ListOptions: gh.ListOptions{PerPage: 100}}
	if c.auth.AppID != 0 {
		opts.AppID = gh.Int64(c.auth.AppID)
	}
	// GitHub keeps at most 1000 check runs of one name per suite.
	for page := 0; page < 10; page++ {
		res, resp, err := client.Checks.ListCheckRunsForRef(ctx, owner, rname, sha, opts)
		if err != nil {
			return 0, classify(err)
		}
		for _, run := range res.CheckRuns {
			if run.GetExternalID() == externalID && run.GetName() == name && (c.auth.AppID == 0 || run.GetApp().GetID() == c.auth.AppID) {
				return run.GetID(), nil
			}
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return 0, nil
}

// AppID is the GitHub App the client authenticates as (0 with a token).
func (c *Client) AppID() int64 {
	if c.apps == nil {
		return 0
	}
	return c.auth.AppID
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return gh.String(s)
}

// truncateBytes shortens s to at most n bytes at a rune boundary.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
