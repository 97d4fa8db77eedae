package fakegithub

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// PostedStatus is a commit status the fake GitHub received.
type PostedStatus struct {
	Repo, SHA                              string
	State, Description, Context, TargetURL string
	Authorization                          string
	At                                     time.Time
}

// Comment is a pull request comment held by the fake GitHub.
type Comment struct {
	ID      int64
	Repo    string
	PR      int
	Body    string
	Edits   int // times it was edited after being created
	Created time.Time
}

// GitHub answers GitHub's REST API for commit statuses, check runs
// (checks.go), issue comments, App installation tokens and installation
// lookups, and records what it received. FailNext answers that
// many status posts with 502 first.
type GitHub struct {
	Server *httptest.Server

	mu       sync.Mutex
	statuses []PostedStatus
	failNext int
	bad      []string // requests that did not look like GitHub's API
	comments []*Comment

	// GitHub App mode (App): the App's key and installations by repository.
	appID         int64
	appKey        *rsa.PrivateKey
	installations map[string]int64
	lookups       []string // repositories whose installation was looked up

	checks checkState

	// Artifact attestations (ghattest.go).
	attCfg  GitHubAttestations
	atts    map[string][][]byte // "repos/o/r|digest" or "orgs/o|digest" → bundles
	blobs   [][]byte
	attReqs []string
}

// App makes the fake serve a GitHub App: installation tokens
// (POST /app/installations/{id}/access_tokens) and installation lookups
// (GET /repos/{owner}/{repo}/installation) need a JWT signed with the
// App's key (returned, PEM) and issued by appID; installations maps
// owner/name to the installation ID. Installation tokens are
// "ghs_installation_<id>".
func (f *GitHub) App(appID int64, installations map[string]int64) []byte {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	f.mu.Lock()
	f.appID, f.appKey, f.installations = appID, key, installations
	f.mu.Unlock()
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// Lookups lists the repositories whose installation was looked up.
func (f *GitHub) Lookups() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lookups...)
}

// appJWT checks the App's JWT on r (the caller holds f.mu).
func (f *GitHub) appJWT(r *http.Request) bool {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || f.appKey == nil {
		return false
	}
	tok, err := jwt.ParseWithClaims(raw, &jwt.RegisteredClaims{}, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodRS256 {
			return nil, fmt.Errorf("alg %v", t.Header["alg"])
		}
		return &f.appKey.PublicKey, nil
	})
	if err != nil || !tok.Valid {
		return false
	}
	claims := tok.Claims.(*jwt.RegisteredClaims)
	return claims.Issuer == strconv.FormatInt(f.appID, 10)
}

// Comments returns copies of the comments, oldest first.
func (f *GitHub) Comments() []Comment {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Comment, len(f.comments))
	for i, c := range f.comments {
		out[i] = *c
	}
	return out
}

// New starts the fake for one test.
func New(t testing.TB) *GitHub {
	f := &GitHub{}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Server.Close)
	return f
}

// FailNext makes the next n status posts fail with 502.
func (f *GitHub) FailNext(n int) {
	f.mu.Lock()
	f.failNext = n
	f.mu.Unlock()
}

// Statuses returns the statuses received so far, in order.
func (f *GitHub) Statuses() []PostedStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]PostedStatus(nil), f.statuses...)
}

// Bad lists requests that did not match GitHub's documented API.
func (f *GitHub) Bad() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bad...)
}

func (f *GitHub) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/api/v3")
	switch {
	case strings.Contains(path, "/attestations/") || strings.HasPrefix(path, "/blobs/"):
		f.serveAttestations(w, r, path)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/app/installations/") && strings.HasSuffix(path, "/access_tokens"):
		token := "ghs_fake_installation_token"
		if f.appKey != nil {
			id, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(path, "/app/installations/"), "/access_tokens"), 10, 64)
			known := false
			for _, v := range f.installations {
				known = known || v == id
			}
			if err != nil || !known || !f.appJWT(r) {
				f.bad = append(f.bad, r.Method+" "+r.URL.Path+" (unknown installation or bad JWT)")
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			token = fmt.Sprintf("ghs_installation_%d", id)
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"token": token, "expires_at": time.Now().Add(time.Hour).Format(time.RFC3339)})
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/repos/") && strings.HasSuffix(path, "/installation"):
		// GET /repos/{owner}/{repo}/installation, with the App's JWT.
		parts := strings.Split(strings.TrimPrefix(path, "/repos/"), "/")
		if len(parts) != 3 || !f.appJWT(r) {
			f.bad = append(f.bad, r.Method+" "+r.URL.Path+" (bad path or JWT)")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		repo := parts[0] + "/" + parts[1]
		f.lookups = append(f.lookups, repo)
		id, ok := f.installations[repo]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]any{"message": "Not Found"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"id": id, "app_id": f.appID})
	case strings.HasPrefix(path, "/repos/") && strings.Contains(path, "/check-runs"):
		f.serveChecks(w, r, strings.Split(strings.TrimPrefix(path, "/repos/"), "/"))
	case strings.HasPrefix(path, "/repos/") && strings.Contains(path, "/issues/"):
		f.serveComments(w, r, strings.Split(strings.TrimPrefix(path, "/repos/"), "/"))
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/repos/"):
		// POST /repos/{owner}/{repo}/statuses/{sha}
		parts := strings.Split(strings.TrimPrefix(path, "/repos/"), "/")
		if len(parts) != 4 || parts[2] != "statuses" || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") == "" {
			f.bad = append(f.bad, r.Method+" "+r.URL.Path)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if f.failNext > 0 {
			f.failNext--
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		var body struct {
			State       string `json:"state"`
			TargetURL   string `json:"target_url"`
			Description string `json:"description"`
			Context     string `json:"context"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len([]rune(body.Description)) > 140 ||
			(body.State != "pending" && body.State != "success" && body.State != "failure" && body.State != "error") {
			f.bad = append(f.bad, "invalid status body")
			w.WriteHeader(http.StatusUnprocessableEntity)
			return
		}
		f.statuses = append(f.statuses, PostedStatus{Repo: parts[0] + "/" + parts[1], SHA: parts[3], State: body.State, Description: body.Description,
			Context: body.Context, TargetURL: body.TargetURL, Authorization: r.Header.Get("Authorization"), At: time.Now()})
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(body)
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/repos/") && strings.HasSuffix(path, "/statuses"):
		// GET /repos/{owner}/{repo}/commits/{ref}/statuses, newest first
		parts := strings.Split(strings.TrimPrefix(path, "/repos/"), "/")
		if len(parts) != 5 || parts[2] != "commits" || r.Header.Get("Authorization") == "" {
			f.bad = append(f.bad, r.Method+" "+r.URL.Path)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		out := []map[string]any{}
		for i := len(f.statuses) - 1; i >= 0; i-- {
			if st := f.statuses[i]; st.Repo == parts[0]+"/"+parts[1] && st.SHA == parts[3] {
				out = append(out, map[string]any{"state": st.State, "description": st.Description, "context": st.Context, "target_url": st.TargetURL})
			}
		}
		json.NewEncoder(w).Encode(out)
	default:
		f.bad = append(f.bad, r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
	}
}

// serveComments answers, for parts of /repos/{owner}/{repo}/issues/...:
// GET and POST .../issues/{n}/comments, PATCH .../issues/comments/{id}.
func (f *GitHub) serveComments(w http.ResponseWriter, r *http.Request, parts []string) {
	bad := func() {
		f.bad = append(f.bad, r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
	}
	if len(parts) != 5 || parts[2] != "issues" || r.Header.Get("Authorization") == "" {
		bad()
		return
	}
	repo := parts[0] + "/" + parts[1]
	var body struct {
		Body string `json:"body"`
	}
	if r.Method != http.MethodGet {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Body == "" || len(body.Body) > 65536 {
			f.bad = append(f.bad, "invalid comment body")
			w.WriteHeader(http.StatusUnprocessableEntity)
			return
		}
	}
	render := func(c *Comment) map[string]any {
		return map[string]any{"id": c.ID, "body": c.Body, "user": map[string]any{"login": "gitops-gate[bot]", "type": "Bot"}}
	}
	switch {
	case parts[4] == "comments" && r.Method == http.MethodGet:
		pr, err := strconv.Atoi(parts[3])
		if err != nil {
			bad()
			return
		}
		out := []map[string]any{}
		for _, c := range f.comments {
			if c.Repo == repo && c.PR == pr {
				out = append(out, render(c))
			}
		}
		json.NewEncoder(w).Encode(out)
	case parts[4] == "comments" && r.Method == http.MethodPost:
		pr, err := strconv.Atoi(parts[3])
		if err != nil {
			bad()
			return
		}
		c := &Comment{ID: int64(len(f.comments) + 1), Repo: repo, PR: pr, Body: body.Body, Created: time.Now()}
		f.comments = append(f.comments, c)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(render(c))
	case parts[3] == "comments" && r.Method == http.MethodPatch:
		id, err := strconv.ParseInt(parts[4], 10, 64)
		if err != nil || id < 1 || id > int64(len(f.comments)) || f.comments[id-1].Repo != repo {
			bad()
			return
		}
		c := f.comments[id-1]
		c.Body = body.Body
		c.Edits++
		json.NewEncoder(w).Encode(render(c))
	default:
		bad()
	}
}
