// Package github is the gate's side of GitHub: it authenticates and parses
// webhook deliveries (HMAC-SHA256, compared in constant time by go-github),
// turns the events the gate acts on into evaluation requests, and posts
// commit statuses as a GitHub App installation or with a token, on
// github.com or GitHub Enterprise Server.
package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"

	"github.com/gitops-gate/gitops-gate/gate/store"
)

// Auth is how the gate authenticates to GitHub: a GitHub App (AppID and
// PrivateKey, installation tokens per repository) or a token.
type Auth struct {
	AppID      int64
	PrivateKey []byte // PEM
	Token      string
	// BaseURL is the REST API of GitHub Enterprise Server
	// (https://ghe.example.com/api/v3/); empty for github.com.
	BaseURL string
}

// Configured reports whether any credentials are set.
func (a Auth) Configured() bool { return a.Token != "" || (a.AppID != 0 && len(a.PrivateKey) > 0) }

// Client posts statuses and hands out tokens. It is safe for concurrent use.
type Client struct {
	auth Auth
	base http.RoundTripper
	apps *ghinstallation.AppsTransport

	mu            sync.Mutex
	installations map[int64]*ghinstallation.Transport
	byRepo        map[string]repoInstallation
}

// repoInstallation is a cached installation lookup.
type repoInstallation struct {
	id      int64
	fetched time.Time
}

// installationTTL is how long a repository's installation is trusted
// before it is looked up again (an App can be uninstalled and installed).
const installationTTL = time.Hour

// NewClient checks the credentials and builds a client. transport may be
// nil (http.DefaultTransport).
func NewClient(a Auth, transport http.RoundTripper) (*Client, error) {
	if transport == nil {
		transport = http.DefaultTransport
	}
	c := &Client{auth: a, base: transport, installations: map[int64]*ghinstallation.Transport{}, byRepo: map[string]repoInstallation{}}
	if a.AppID != 0 {
		atr, err := ghinstallation.NewAppsTransport(transport, a.AppID, a.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("GitHub App %d private key: %w", a.AppID, err)
		}
		if a.BaseURL != "" {
			atr.BaseURL = strings.TrimRight(a.BaseURL, "/")
		}
		c.apps = atr
	} else if a.Token == "" {
		return nil, errors.New("GitHub credentials: set an App ID and private key, or a token")
	}
	return c, nil
}

func (c *Client) installation(id int64) (*ghinstallation.Transport, error) {
	if c.apps == nil {
		return nil, nil
	}
	if id == 0 {
		return nil, errors.New("a GitHub App needs the installation of the repository (the webhook's installation.id)")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.installations[id]
	if !ok {
		// ghinstallation refreshes the installation token before it expires.
		t = ghinstallation.NewFromAppsTransport(c.apps, id)
		c.installations[id] = t
	}
	return t, nil
}

func (c *Client) api(installationID int64) (*gh.Client, error) {
	var hc *http.Client
	itr, err := c.installation(installationID)
	if err != nil {
		return nil, err
	}
	if itr != nil {
		hc = &http.Client{Transport: itr}
	} else {
		hc = &http.Client{Transport: c.base}
	}
	client := gh.NewClient(hc)
	if itr == nil {
		client = client.WithAuthToken(c.auth.Token)
	}
	if c.auth.BaseURL != "" {
		return client.WithEnterpriseURLs(c.auth.BaseURL, c.auth.BaseURL)
	}
	return client, nil
}

// InstallationFor returns the GitHub App's installation on repo
// (owner/name), for evaluations that did not come with one (API and Argo
// CD requests): GET /repos/{owner}/{repo}/installation, authenticated
// with the App's JWT, and cached. With a token (no App) it returns 0.
func (c *Client) InstallationFor(ctx context.Context, repo string) (int64, error) {
	if c.apps == nil {
		return 0, nil
	}
	if err := CheckRepo("repository", repo); err != nil {
		return 0, err
	}
	key := strings.ToLower(repo)
	c.mu.Lock()
	cached, ok := c.byRepo[key]
	c.mu.Unlock()
	if ok && time.Since(cached.fetched) < installationTTL {
		return cached.id, nil
	}
	owner, name, _ := strings.Cut(repo, "/")
	client := gh.NewClient(&http.Client{Transport: c.apps})
	if c.auth.BaseURL != "" {
		var err error
		if client, err = client.WithEnterpriseURLs(c.auth.BaseURL, c.auth.BaseURL); err != nil {
			return 0, err
		}
	}
	inst, _, err := client.Apps.FindRepositoryInstallation(ctx, owner, name)
	if err != nil {
		return 0, fmt.Errorf("the GitHub App's installation on %s: %w", repo, err)
	}
	if inst.GetID() == 0 {
		return 0, fmt.Errorf("the GitHub App's installation on %s: GitHub answered without an ID", repo)
	}
	c.mu.Lock()
	c.byRepo[key] = repoInstallation{id: inst.GetID(), fetched: time.Now()}
	c.mu.Unlock()
	return inst.GetID(), nil
}

// RepoToken is a token to fetch repo with: the installation's when
// installationID is set (a webhook's), else, as a GitHub App, that of the
// installation looked up for repo; or the configured token.
func (c *Client) RepoToken(ctx context.Context, repo string, installationID int64) (string, error) {
	if c.apps != nil && installationID == 0 {
		id, err := c.InstallationFor(ctx, repo)
		if err != nil {
			return "", err
		}
		installationID = id
	}
	return c.Token(ctx, installationID)
}

// Token is a token to fetch the repository with.
func (c *Client) Token(ctx context.Context, installationID int64) (string, error) {
	itr, err := c.installation(installationID)
	if err != nil {
		return "", err
	}
	if itr == nil {
		return c.auth.Token, nil
	}
	return itr.Token(ctx)
}

// RetryError says a status could not be posted now and when to try again.
type RetryError struct {
	After time.Time
	Err   error
}

func (e *RetryError) Error() string { return e.Err.Error() }
func (e *RetryError) Unwrap() error { return e.Err }

// PostStatus posts a commit status. A rate limit or server error returns a
// *RetryError; anything else is permanent.
func (c *Client) PostStatus(ctx context.Context, st store.Status) error {
	owner, repo, err := statusTarget(st)
	if err != nil {
		return err
	}
	client, err := c.api(st.InstallationID)
	if err != nil {
		return err
	}
	_, _, err = client.Repositories.CreateStatus(ctx, owner, repo, st.SHA, &gh.RepoStatus{
		State:       gh.String(st.State),
		Description: gh.String(Truncate(st.Description, 140)),
		Context:     gh.String(st.Context),
		TargetURL:   gh.String(st.TargetURL),
	})
	return classify(err)
}

// StatusPosted reports whether st is already the latest status of its
// context on its commit. A status job whose lease was lost after the POST
// succeeded (the process died before recording it) asks this before posting
// again, so a crash does not post a status twice.
func (c *Client) StatusPosted(ctx context.Context, st store.Status) (bool, error) {
	owner, repo, err := statusTarget(st)
	if err != nil {
		return false, err
	}
	client, err := c.api(st.InstallationID)
	if err != nil {
		return false, err
	}
	// Newest first; the first of our context is the one GitHub shows.
	list, _, err := client.Repositories.ListStatuses(ctx, owner, repo, st.SHA, &gh.ListOptions{PerPage: 100})
	if err != nil {
		return false, classify(err)
	}
	for _, s := range list {
		if s.GetContext() != st.Context {
			continue
		}
		return s.GetState() == st.State && s.GetDescription() == Truncate(st.Description, 140) && s.GetTargetURL() == st.TargetURL, nil
	}
	return false, nil
}

// statusTarget checks the repository and commit of a status before they
// become a URL path: a status recorded before intake validated them must
// not reach another API path.
func statusTarget(st store.Status) (owner, repo string, err error) {
	if err := errors.Join(CheckRepo("repository", st.Repo), CheckSHA("commit", st.SHA)); err != nil {
		return "", "", err
	}
	owner, repo, _ = strings.Cut(st.Repo, "/")
	return owner, repo, nil
}

func classify(err error) error {
	if err == nil {
		return nil
	}
	var rl *gh.RateLimitError
	if errors.As(err, &rl) {
		return &RetryError{After: rl.Rate.Reset.Time, Err: err}
	}
	var ab *gh.AbuseRateLimitError
	if errors.As(err, &ab) {
		after := time.Now().Add(time.Minute)
		if ab.RetryAfter != nil {
			after = time.Now().Add(*ab.RetryAfter)
		}
		return &RetryError{After: after, Err: err}
	}
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode < 500 && er.Response.StatusCode != http.StatusTooManyRequests {
		return err
	}
	return &RetryError{Err: err} // 5xx, 429, network: back off and retry
}

// Truncate shortens s to n runes, marking the cut.
func Truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Comment is a pull request comment the gate keeps up to date: at most one
// per pull request and marker, found again by the marker it starts with.
type Comment struct {
	Repo           string // owner/name
	PR             int
	InstallationID int64
	// Marker names the comment (an HTML comment, invisible on GitHub).
	Marker string
	// Version orders updates (evaluation IDs sort by time): a comment
	// written by a later version is left alone.
	Version string
	Body    string
	// UpdateOnly changes an existing comment but never creates one.
	UpdateOnly bool
}

// MaxCommentBytes is GitHub's limit on a comment's body.
const MaxCommentBytes = 65536

// UpsertComment creates the comment or edits the one already there, and
// says which it did ("created", "updated", "newer" or "none"). Running it
// again after a crash finds the comment instead of posting a second one.
func (c *Client) UpsertComment(ctx context.Context, cm Comment) (string, error) {
	if err := CheckRepo("repository", cm.Repo); err != nil {
		return "", err
	}
	if cm.PR <= 0 {
		return "", fmt.Errorf("%w: pull request %d", ErrMalformed, cm.PR)
	}
	owner, repo, _ := strings.Cut(cm.Repo, "/")
	client, err := c.api(cm.InstallationID)
	if err != nil {
		return "", err
	}
	head := "<!-- " + cm.Marker + " "
	body := head + "version=" + cm.Version + " -->\n" + cm.Body
	if len(body) > MaxCommentBytes {
		return "", fmt.Errorf("comment of %d bytes is over GitHub's %d", len(body), MaxCommentBytes)
	}
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for {
		list, resp, err := client.Issues.ListComments(ctx, owner, repo, cm.PR, opts)
		if err != nil {
			return "", classify(err)
		}
		for _, existing := range list {
			rest, found := strings.CutPrefix(existing.GetBody(), head+"version=")
			if !found {
				continue
			}
			if v, _, _ := strings.Cut(rest, " "); v > cm.Version {
				return "newer", nil
			}
			if existing.GetBody() == body {
				return "updated", nil
			}
			if _, _, err := client.Issues.EditComment(ctx, owner, repo, existing.GetID(), &gh.IssueComment{Body: gh.String(body)}); err != nil {
				return "", classify(err)
			}
			return "updated", nil
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if cm.UpdateOnly {
		return "none", nil
	}
	if _, _, err := client.Issues.CreateComment(ctx, owner, repo, cm.PR, &gh.IssueComment{Body: gh.String(body)}); err != nil {
		return "", classify(err)
	}
	return "created", nil
}
