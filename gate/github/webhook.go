package github

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// ErrSignature marks a delivery that is unsigned or signed with another
// secret.
var ErrSignature = errors.New("webhook signature does not match")

// Delivery is an authenticated webhook request.
type Delivery struct {
	ID      string
	Event   string
	Payload []byte
}

// ReadDelivery authenticates a webhook request with the shared secret
// (X-Hub-Signature-256, HMAC-SHA256, constant-time comparison) and reads
// it. An empty secret refuses everything.
func ReadDelivery(r *http.Request, secret []byte) (*Delivery, error) {
	if len(secret) == 0 {
		return nil, fmt.Errorf("%w: no webhook secret is configured", ErrSignature)
	}
	if r.Header.Get(gh.SHA256SignatureHeader) == "" {
		return nil, fmt.Errorf("%w: no %s header", ErrSignature, gh.SHA256SignatureHeader)
	}
	// Only the SHA-256 header counts: drop the legacy SHA-1 one so that
	// go-github cannot fall back to it.
	r.Header.Del(gh.SHA1SignatureHeader)
	payload, err := gh.ValidatePayload(r, secret)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return &Delivery{ID: gh.DeliveryID(r), Event: gh.WebHookType(r), Payload: payload}, nil
}

// Event is what the gate does with a delivery.
type Event struct {
	Kind           string // ping, pull_request, push
	Action         string
	Repo           string // owner/name
	CloneURL       string
	PR             int
	PRTitle        string
	SHA            string
	Ref            string // the ref to fetch
	Branch         string // for push: the branch name
	InstallationID int64
	// Ignore, when set, says why the gate takes no action.
	Ignore string
}

// actedOn are the pull request actions that change what would be deployed.
var actedOn = map[string]bool{"opened": true, "synchronize": true, "reopened": true, "ready_for_review": true}

// Interpret turns a delivery into an Event with go-github's parser.
func Interpret(d *Delivery) (*Event, error) {
	msg, err := gh.ParseWebHook(d.Event, d.Payload)
	if err != nil {
		if strings.Contains(err.Error(), "unknown X-Github-Event") {
			return &Event{Kind: d.Event, Ignore: "event " + d.Event + " is not one the gate acts on"}, nil
		}
		return nil, fmt.Errorf("parsing %s delivery %s: %w", d.Event, d.ID, err)
	}
	switch e := msg.(type) {
	case *gh.PingEvent:
		return &Event{Kind: "ping", Ignore: "ping"}, nil
	case *gh.PullRequestEvent:
		pr := e.GetPullRequest()
		ev := &Event{Kind: "pull_request", Action: e.GetAction(), Repo: e.GetRepo().GetFullName(), CloneURL: e.GetRepo().GetCloneURL(),
			PR: e.GetNumber(), PRTitle: pr.GetTitle(), SHA: pr.GetHead().GetSHA(), InstallationID: e.GetInstallation().GetID()}
		if ev.PR == 0 {
			ev.PR = pr.GetNumber()
		}
		ev.Ref = fmt.Sprintf("refs/pull/%d/head", ev.PR)
		if !actedOn[ev.Action] {
			ev.Ignore = "pull_request action " + ev.Action + " does not change what would be deployed"
		}
		if ev.SHA == "" || ev.Repo == "" {
			return nil, fmt.Errorf("pull_request delivery %s has no repository or head SHA", d.ID)
		}
		return ev, nil
	case *gh.PushEvent:
		ev := &Event{Kind: "push", Repo: e.GetRepo().GetFullName(), CloneURL: e.GetRepo().GetCloneURL(), SHA: e.GetAfter(),
			Ref: e.GetRef(), InstallationID: e.GetInstallation().GetID()}
		if b, ok := strings.CutPrefix(ev.Ref, "refs/heads/"); ok {
			ev.Branch = b
		} else {
			ev.Ignore = "push to " + ev.Ref + " is not a branch"
		}
		if e.GetDeleted() || strings.Trim(ev.SHA, "0") == "" {
			ev.Ignore = "push deletes " + ev.Ref
		}
		return ev, nil
	}
	return &Event{Kind: d.Event, Ignore: "event " + d.Event + " is not one the gate acts on"}, nil
}
