package github

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v60/github"
	"golang.org/x/sync/semaphore"
)

// ErrSignature marks a delivery that is unsigned or signed with another
// secret.
var ErrSignature = errors.New("webhook signature does not match")

// ErrTooLarge marks a delivery larger than GitHub sends.
var ErrTooLarge = errors.New("webhook payload too large")

// ErrBusy marks a delivery refused because too many unauthenticated bytes
// are being read already; the sender may try again.
var ErrBusy = errors.New("too many webhook bytes in flight")

// Delivery is an authenticated webhook request.
type Delivery struct {
	ID      string
	Event   string
	Payload []byte
}

// MaxPayload is the largest payload GitHub sends (it caps payloads at 25
// MB and drops larger ones).
const MaxPayload = 25 << 20

// Receiver authenticates webhook requests. Before a request is
// authenticated, its body is bytes an anonymous sender chose: the receiver
// refuses bodies over MaxBody from their Content-Length, and holds at most
// Budget such bytes in memory at once, across all requests; a request that
// cannot get its share within Wait is refused with ErrBusy. It is safe for
// concurrent use.
type Receiver struct {
	Secret []byte
	// MaxBody bounds one payload (default and at most MaxPayload).
	MaxBody int64
	// Budget bounds the unauthenticated body bytes held at once (default
	// 64 MiB; at least MaxBody).
	Budget int64
	// Wait is how long a request waits for its share (default 5s).
	Wait time.Duration

	once sync.Once
	sem  *semaphore.Weighted
}

func (rc *Receiver) init() {
	rc.once.Do(func() {
		if rc.MaxBody <= 0 || rc.MaxBody > MaxPayload {
			rc.MaxBody = MaxPayload
		}
		if rc.Budget <= 0 {
			rc.Budget = 64 << 20
		}
		rc.Budget = max(rc.Budget, rc.MaxBody)
		if rc.Wait <= 0 {
			rc.Wait = 5 * time.Second
		}
		rc.sem = semaphore.NewWeighted(rc.Budget)
	})
}

// ReadDelivery authenticates a webhook request with the shared secret; see
// Receiver.Read.
func ReadDelivery(r *http.Request, secret []byte) (*Delivery, error) {
	return (&Receiver{Secret: secret}).Read(r)
}

// Read authenticates a webhook request with the shared secret
// (X-Hub-Signature-256, HMAC-SHA256, constant-time comparison) and reads
// it. An empty secret refuses everything. Everything that can be checked
// without the body is checked before a byte of it is read.
func (rc *Receiver) Read(r *http.Request) (*Delivery, error) {
	rc.init()
	if len(rc.Secret) == 0 {
		return nil, fmt.Errorf("%w: no webhook secret is configured", ErrSignature)
	}
	sig := r.Header.Get(gh.SHA256SignatureHeader)
	if !strings.HasPrefix(sig, "sha256=") {
		return nil, fmt.Errorf("%w: no %s header", ErrSignature, gh.SHA256SignatureHeader)
	}
	id, event := r.Header.Get(gh.DeliveryIDHeader), r.Header.Get(gh.EventTypeHeader)
	if id == "" || len(id) > 100 {
		// Deduplication keys on the delivery ID: without one a replay
		// could not be told from a new delivery.
		return nil, fmt.Errorf("%w: no %s header", ErrMalformed, gh.DeliveryIDHeader)
	}
	if event == "" || len(event) > 100 {
		return nil, fmt.Errorf("%w: no %s header", ErrMalformed, gh.EventTypeHeader)
	}
	if r.ContentLength > rc.MaxBody {
		return nil, fmt.Errorf("%w: %d bytes, GitHub sends at most %d", ErrTooLarge, r.ContentLength, rc.MaxBody)
	}
	// An unknown length may take up to twice MaxBody while it grows.
	share := 2 * rc.MaxBody
	if r.ContentLength >= 0 {
		share = r.ContentLength
	}
	share = min(share, rc.Budget)
	ctx, cancel := context.WithTimeout(r.Context(), rc.Wait)
	err := rc.sem.Acquire(ctx, share)
	cancel()
	if err != nil {
		return nil, ErrBusy
	}
	defer rc.sem.Release(share)
	body, err := readBody(r, rc.MaxBody)
	if err != nil {
		return nil, err
	}
	if err := gh.ValidateSignature(sig, body, rc.Secret); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	payload := body
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	switch strings.TrimSpace(strings.ToLower(ct)) {
	case "application/json":
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("%w: form payload: %v", ErrMalformed, err)
		}
		payload = []byte(form.Get("payload"))
	default:
		return nil, fmt.Errorf("%w: content type %q: want application/json", ErrMalformed, clip(ct))
	}
	return &Delivery{ID: id, Event: event, Payload: payload}, nil
}

// readBody reads the whole body, at most max bytes.
func readBody(r *http.Request, max int64) ([]byte, error) {
	if r.ContentLength >= 0 {
		b := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, fmt.Errorf("%w: reading the body: %v", ErrMalformed, err)
		}
		return b, nil
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the body: %v", ErrMalformed, err)
	}
	if n > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return buf.Bytes(), nil
}

// Event is what the gate does with a delivery.
type Event struct {
	Kind     string // ping, pull_request, push
	Action   string
	Repo     string // owner/name
	CloneURL string
	PR       int
	PRTitle  string
	SHA      string
	Ref      string // the ref to fetch
	Branch   string // for push: the branch name
	// Base is the commit the change starts from: the pull request's base
	// (pull_request.base.sha) or the push's previous head (before), when
	// GitHub sent a valid one. Incremental evaluation prefers its
	// inventory; it is never trusted for anything else.
	Base           string
	InstallationID int64
	// UpdatedAt is the pull request's pull_request.updated_at: which of
	// two deliveries describes the newer state of the pull request.
	UpdatedAt time.Time
	// For check_run and check_suite: the App the check run or suite
	// belongs to (the gate acts only on its own), the check run's name and
	// external_id (the evaluation it reports), and the identifier of the
	// button a requested_action pressed.
	AppID      int64
	CheckName  string
	ExternalID string
	Identifier string
	// Ignore, when set, says why the gate takes no action.
	Ignore string
}

// checkPayload is the part of a check_run or check_suite payload the gate
// reads. It is decoded on its own rather than with go-github's types, which
// also parse every timestamp: GitHub's own examples carry App timestamps
// such as "2018-04-25 20:42:10" that go-github refuses, and a re-run must
// not be lost over a field the gate never uses.
type checkPayload struct {
	Action     string `json:"action"`
	Repository struct {
		FullName string `json:"full_name"`
		CloneURL string `json:"clone_url"`
	} `json:"repository"`
	Installation struct {
		ID int64 `json:"id"`
	} `json:"installation"`
	CheckRun *struct {
		Name         string       `json:"name"`
		HeadSHA      string       `json:"head_sha"`
		ExternalID   string       `json:"external_id"`
		App          checkApp     `json:"app"`
		PullRequests []checkPR    `json:"pull_requests"`
		CheckSuite   checkSuiteID `json:"check_suite"`
	} `json:"check_run"`
	CheckSuite *struct {
		HeadSHA      string    `json:"head_sha"`
		HeadBranch   string    `json:"head_branch"`
		App          checkApp  `json:"app"`
		PullRequests []checkPR `json:"pull_requests"`
	} `json:"check_suite"`
	RequestedAction *struct {
		Identifier string `json:"identifier"`
	} `json:"requested_action"`
}

type checkApp struct {
	ID int64 `json:"id"`
}

type checkPR struct {
	Number int `json:"number"`
}

type checkSuiteID struct {
	HeadBranch string `json:"head_branch"`
}

// interpretChecks reads a check_run or check_suite delivery: a re-run
// (rerequested), a push's check suite (requested) or a button
// (requested_action); anything else asks for nothing.
func interpretChecks(d *Delivery) (*Event, error) {
	var p checkPayload
	if err := json.Unmarshal(d.Payload, &p); err != nil {
		return nil, fmt.Errorf("%w: parsing %s delivery %s: %v", ErrMalformed, d.Event, clip(d.ID), err)
	}
	ev := &Event{Kind: d.Event, Action: p.Action, Repo: p.Repository.FullName, CloneURL: p.Repository.CloneURL, InstallationID: p.Installation.ID}
	var prs []checkPR
	var branch string
	switch {
	case d.Event == "check_run" && p.CheckRun != nil:
		cr := p.CheckRun
		ev.SHA, ev.AppID, ev.CheckName, ev.ExternalID = cr.HeadSHA, cr.App.ID, cr.Name, cr.ExternalID
		prs, branch = cr.PullRequests, cr.CheckSuite.HeadBranch
		if p.RequestedAction != nil {
			ev.Identifier = p.RequestedAction.Identifier
		}
		if ev.Action != "rerequested" && ev.Action != "requested_action" {
			ev.Ignore = "check_run action " + clip(ev.Action) + " asks for nothing"
			return ev, nil
		}
	case d.Event == "check_suite" && p.CheckSuite != nil:
		cs := p.CheckSuite
		ev.SHA, ev.AppID = cs.HeadSHA, cs.App.ID
		prs, branch = cs.PullRequests, cs.HeadBranch
		if ev.Action != "requested" && ev.Action != "rerequested" {
			ev.Ignore = "check_suite action " + clip(ev.Action) + " asks for nothing"
			return ev, nil
		}
	default:
		return nil, fmt.Errorf("%w: %s delivery %s has no %s", ErrMalformed, d.Event, clip(d.ID), d.Event)
	}
	return ev, checkSuiteTarget(d, ev, prs, branch)
}

// checkSuiteTarget fills in what a check_run or check_suite event asks to
// evaluate: the head commit, the first pull request of the suite (GitHub
// lists the pull requests of the repository whose head it is; none for a
// fork's) and the head branch, each checked as intake checks a push.
func checkSuiteTarget(d *Delivery, ev *Event, prs []checkPR, branch string) error {
	for _, pr := range prs {
		if pr.Number > 0 {
			ev.PR = pr.Number
			ev.Ref = fmt.Sprintf("refs/pull/%d/head", ev.PR)
			break
		}
	}
	errs := []error{CheckRepo("repository.full_name", ev.Repo), CheckSHA(ev.Kind+".head_sha", ev.SHA)}
	if branch != "" {
		ev.Branch = branch
		errs = append(errs, CheckRef(ev.Kind+".head_branch", "refs/heads/"+branch))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s delivery %s: %w", ev.Kind, clip(d.ID), err)
	}
	return nil
}

// actedOn are the pull request actions that change what would be deployed.
var actedOn = map[string]bool{"opened": true, "synchronize": true, "reopened": true, "ready_for_review": true}

// Interpret turns a delivery into an Event with go-github's parser. A
// payload the gate cannot act on safely (a SHA, repository or ref outside
// what GitHub sends) is an ErrMalformed error.
func Interpret(d *Delivery) (*Event, error) {
	if d.Event == "check_run" || d.Event == "check_suite" {
		return interpretChecks(d)
	}
	msg, err := gh.ParseWebHook(d.Event, d.Payload)
	if err != nil {
		if strings.Contains(err.Error(), "unknown X-Github-Event") {
			return &Event{Kind: d.Event, Ignore: "event " + clip(d.Event) + " is not one the gate acts on"}, nil
		}
		return nil, fmt.Errorf("%w: parsing %s delivery %s: %v", ErrMalformed, clip(d.Event), clip(d.ID), err)
	}
	switch e := msg.(type) {
	case *gh.PingEvent:
		return &Event{Kind: "ping", Ignore: "ping"}, nil
	case *gh.PullRequestEvent:
		pr := e.GetPullRequest()
		ev := &Event{Kind: "pull_request", Action: e.GetAction(), Repo: e.GetRepo().GetFullName(), CloneURL: e.GetRepo().GetCloneURL(),
			PR: e.GetNumber(), PRTitle: pr.GetTitle(), SHA: pr.GetHead().GetSHA(), InstallationID: e.GetInstallation().GetID(),
			UpdatedAt: pr.GetUpdatedAt().Time, Base: validOrEmpty(pr.GetBase().GetSHA())}
		if ev.PR == 0 {
			ev.PR = pr.GetNumber()
		}
		ev.Ref = fmt.Sprintf("refs/pull/%d/head", ev.PR)
		if !actedOn[ev.Action] {
			ev.Ignore = "pull_request action " + clip(ev.Action) + " does not change what would be deployed"
		}
		if err := errors.Join(CheckRepo("repository.full_name", ev.Repo), CheckSHA("pull_request.head.sha", ev.SHA)); err != nil {
			return nil, fmt.Errorf("pull_request delivery %s: %w", clip(d.ID), err)
		}
		if ev.PR <= 0 {
			return nil, fmt.Errorf("pull_request delivery %s: %w: no pull request number", clip(d.ID), ErrMalformed)
		}
		return ev, nil
	case *gh.PushEvent:
		ev := &Event{Kind: "push", Repo: e.GetRepo().GetFullName(), CloneURL: e.GetRepo().GetCloneURL(), SHA: e.GetAfter(),
			Ref: e.GetRef(), InstallationID: e.GetInstallation().GetID(), Base: validOrEmpty(e.GetBefore())}
		if b, ok := strings.CutPrefix(ev.Ref, "refs/heads/"); ok {
			ev.Branch = b
		} else {
			ev.Ignore = "push to " + clip(ev.Ref) + " is not a branch"
		}
		if e.GetDeleted() || strings.Trim(ev.SHA, "0") == "" {
			ev.Ignore = "push deletes " + clip(ev.Ref)
		}
		if ev.Ignore == "" {
			if err := errors.Join(CheckRepo("repository.full_name", ev.Repo), CheckSHA("after", ev.SHA), CheckRef("ref", ev.Ref)); err != nil {
				return nil, fmt.Errorf("push delivery %s: %w", clip(d.ID), err)
			}
		}
		return ev, nil
	}
	return &Event{Kind: d.Event, Ignore: "event " + clip(d.Event) + " is not one the gate acts on"}, nil
}

// validOrEmpty keeps s only when it is a full commit SHA other than the
// all-zero one GitHub sends for a new branch.
func validOrEmpty(s string) string {
	if !ValidSHA(s) || strings.Trim(s, "0") == "" {
		return ""
	}
	return s
}
