package argocd

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/gitops-gate/gitops-gate/gate"
)

// Question is what the hook asks the gate service about one source
// (POST /api/v1/evaluations).
type Question struct {
	Repo     string `json:"repo"`
	Revision string `json:"revision"`
	Ref      string `json:"ref,omitempty"`
	// Apps holds the source's path: the only app the answer may judge.
	Apps    []string `json:"apps"`
	Trigger string   `json:"trigger"`
	// Application carries every option of the Application's sources,
	// so that the service renders as local mode does.
	Application *Spec `json:"application"`
}

// Answer is the evaluation the service returns.
type Answer struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Error  string `json:"error"`
	Source struct {
		Repo        string          `json:"repo"`
		SHA         string          `json:"sha"`
		Apps        []string        `json:"apps"`
		Application json.RawMessage `json:"application"`
	} `json:"source"`
	Report json.RawMessage `json:"report"`
}

// ErrUnboundAnswer marks a service answer that is not about the question:
// another repository, commit, app or rendering, or no app at all.
var ErrUnboundAnswer = errors.New("the gate service answered another question")

// Bind returns the answer's report when the answer is about exactly this
// question: the same repository, commit, apps and Application settings, a
// finished evaluation, at least one app, and every asked app in it. Any
// other answer (a pass for another commit, or for nothing) is refused.
func (q *Question) Bind(a *Answer) (*gate.Report, error) {
	if a.State != "done" {
		return nil, fmt.Errorf("evaluation %s is %q: %s", a.ID, a.State, a.Error)
	}
	switch {
	case a.Source.Repo != q.Repo:
		return nil, fmt.Errorf("%w: evaluation %s is of repository %q, not %q", ErrUnboundAnswer, a.ID, a.Source.Repo, q.Repo)
	case a.Source.SHA != q.Revision:
		return nil, fmt.Errorf("%w: evaluation %s is of commit %q, not %q", ErrUnboundAnswer, a.ID, a.Source.SHA, q.Revision)
	case !reflect.DeepEqual(a.Source.Apps, q.Apps):
		return nil, fmt.Errorf("%w: evaluation %s is of apps %q, not %q", ErrUnboundAnswer, a.ID, a.Source.Apps, q.Apps)
	}
	if q.Application != nil {
		want, _ := json.Marshal(q.Application)
		if !sameJSON(want, a.Source.Application) {
			return nil, fmt.Errorf("%w: evaluation %s did not render with the Application's sources (the service may not know the application field)", ErrUnboundAnswer, a.ID)
		}
	}
	var rep gate.Report
	if err := json.Unmarshal(a.Report, &rep); err != nil {
		return nil, fmt.Errorf("evaluation %s: report: %w", a.ID, err)
	}
	if len(rep.Apps) == 0 {
		if a.Error != "" {
			return nil, fmt.Errorf("evaluation %s: %s", a.ID, a.Error)
		}
		return nil, fmt.Errorf("%w: evaluation %s judged no app", ErrUnboundAnswer, a.ID)
	}
	for _, want := range q.Apps {
		found := false
		for _, app := range rep.Apps {
			found = found || app.Path == want
		}
		if !found {
			return nil, fmt.Errorf("%w: evaluation %s has no verdict for app %s", ErrUnboundAnswer, a.ID, want)
		}
	}
	for _, app := range rep.Apps {
		if !contains(q.Apps, app.Path) {
			return nil, fmt.Errorf("%w: evaluation %s judged app %s, which was not asked for", ErrUnboundAnswer, a.ID, app.Path)
		}
	}
	// The result is recomputed from the verdicts, never taken on trust.
	rep.Recount()
	return &rep, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// Server is how the hook reaches the gate service.
type Server struct {
	// URL is the service's base URL. Without a scheme it is https.
	URL   string
	Token string
	// CAFile holds the CA certificates that sign the service's TLS
	// certificate (default: the system's).
	CAFile string
	// InsecureHTTP allows a plain http URL.
	InsecureHTTP bool
	// Wait is how long the service may take.
	Wait time.Duration
}

// BaseURL returns the service's URL, refusing plain http unless allowed.
func (s Server) BaseURL() (string, error) {
	raw := strings.TrimRight(strings.TrimSpace(s.URL), "/")
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("gate service URL %q: want https://host[:port]", s.URL)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !s.InsecureHTTP {
			return "", fmt.Errorf("gate service URL %s: plain http sends the token and the verdict unprotected; use https (with --server-ca for a private CA), or pass --insecure-http", raw)
		}
	default:
		return "", fmt.Errorf("gate service URL %s: scheme %q: want https", raw, u.Scheme)
	}
	return raw, nil
}

// Ask sends the question and returns the bound report and the evaluation's
// URL.
func (s Server) Ask(ctx context.Context, q *Question) (*gate.Report, string, error) {
	base, err := s.BaseURL()
	if err != nil {
		return nil, "", err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, "", fmt.Errorf("gate service CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, "", fmt.Errorf("gate service CA %s: no certificates", s.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	body, err := json.Marshal(q)
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/evaluations?wait="+url.QueryEscape(s.Wait.String()), bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.Token)
	}
	resp, err := (&http.Client{Transport: tr, Timeout: s.Wait + time.Minute}).Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("asking %s: %w", base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, "", fmt.Errorf("reading the answer of %s: %w", base, err)
	}
	var a Answer
	if resp.StatusCode >= 300 || json.Unmarshal(raw, &a) != nil {
		return nil, "", fmt.Errorf("gate service %s: %s: %s", base, resp.Status, strings.TrimSpace(string(raw)))
	}
	link := base + "/evaluations/" + url.PathEscape(a.ID)
	rep, err := q.Bind(&a)
	return rep, link, err
}
