package github

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/gate/store"
)

const testSHA = "0123456789abcdef0123456789abcdef01234567"

func sign(secret, payload []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(payload)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func request(event, delivery, signature string, payload []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(payload))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-GitHub-Event", event)
	r.Header.Set("X-GitHub-Delivery", delivery)
	if signature != "" {
		r.Header.Set("X-Hub-Signature-256", signature)
	}
	return r
}

func TestSignatureTestVectorFromGitHubDocs(t *testing.T) {
	secret, payload := []byte("It's a Secret to Everybody"), []byte("Hello, World!")
	want := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got := sign(secret, payload); got != want {
		t.Fatalf("HMAC %s, want the documented %s", got, want)
	}
	if _, err := ReadDelivery(request("ping", "d", want, payload), secret); err != nil {
		t.Fatalf("the documented signature is refused: %v", err)
	}
}

func TestReadDeliveryRefusesUnsignedAndForged(t *testing.T) {
	payload, _ := os.ReadFile("../../testdata/github-webhooks/pull_request.opened.payload.json")
	secret := []byte("s3cret")
	d, err := ReadDelivery(request("pull_request", "abc", sign(secret, payload), payload), secret)
	if err != nil || d.ID != "abc" || d.Event != "pull_request" || !bytes.Equal(d.Payload, payload) {
		t.Fatalf("valid delivery: %+v %v", d, err)
	}
	for name, r := range map[string]*http.Request{
		"unsigned":         request("pull_request", "abc", "", payload),
		"wrong secret":     request("pull_request", "abc", sign([]byte("other"), payload), payload),
		"tampered payload": request("pull_request", "abc", sign(secret, payload), append(payload, ' ')),
		"sha1 only": func() *http.Request {
			r := request("pull_request", "abc", "", payload)
			r.Header.Set("X-Hub-Signature", "sha1=deadbeef")
			return r
		}(),
	} {
		if _, err := ReadDelivery(r, secret); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: %v, want ErrSignature", name, err)
		}
	}
	if _, err := ReadDelivery(request("pull_request", "abc", sign(nil, payload), payload), nil); !errors.Is(err, ErrSignature) {
		t.Error("an empty secret must refuse everything")
	}
}

func TestInterpretCorpusPayloads(t *testing.T) {
	cases := []struct {
		file, event string
		act         bool
		pr          int
		sha         string
	}{
		{"pull_request.opened.payload.json", "pull_request", true, 2, "ec26c3e57ca3a959ca5aad62de7213c562f8c821"},
		{"pull_request.synchronize.payload.json", "pull_request", true, 0, ""},
		{"pull_request.reopened.payload.json", "pull_request", true, 0, ""},
		{"pull_request.ready_for_review.with-installation.payload.json", "pull_request", true, 0, ""},
		{"pull_request.opened.with-organization.payload.json", "pull_request", true, 0, ""},
		{"pull_request.closed.payload.json", "pull_request", false, 0, ""},
		{"pull_request.labeled.payload.json", "pull_request", false, 0, ""},
		{"pull_request.converted_to_draft.payload.json", "pull_request", false, 0, ""},
		{"ping.payload.json", "ping", false, 0, ""},
		{"push.payload.json", "push", false, 0, ""}, // a tag push
	}
	for _, c := range cases {
		payload, err := os.ReadFile("../../testdata/github-webhooks/" + c.file)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := Interpret(&Delivery{ID: "x", Event: c.event, Payload: payload})
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if (ev.Ignore == "") != c.act {
			t.Errorf("%s: ignore %q, want act=%v", c.file, ev.Ignore, c.act)
		}
		if c.pr != 0 && (ev.PR != c.pr || ev.SHA != c.sha || ev.Repo != "Codertocat/Hello-World" || ev.Ref != "refs/pull/2/head" ||
			ev.CloneURL != "https://github.com/Codertocat/Hello-World.git" || ev.PRTitle == "") {
			t.Errorf("%s: %+v", c.file, ev)
		}
	}
	push := []byte(`{"ref":"refs/heads/main","after":"1111111111111111111111111111111111111111","repository":{"full_name":"acme/gitops","clone_url":"https://github.com/acme/gitops.git"},"installation":{"id":42}}`)
	ev, err := Interpret(&Delivery{Event: "push", Payload: push})
	if err != nil || ev.Ignore != "" || ev.Branch != "main" || ev.InstallationID != 42 {
		t.Errorf("branch push: %+v %v", ev, err)
	}
	if ev, _ := Interpret(&Delivery{Event: "star", Payload: []byte(`{}`)}); ev == nil || ev.Ignore == "" {
		t.Errorf("unknown event: %+v", ev)
	}
}

// fakeGitHub records status posts and answers as GitHub's REST API does.
type fakeGitHub struct {
	mu       sync.Mutex
	statuses []map[string]any
	auth     []string
	paths    []string
	fail     int // answer this many posts with 502
	srv      *httptest.Server
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := &fakeGitHub{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		// GitHub Enterprise Server serves the REST API under /api/v3.
		r.URL.Path = strings.TrimPrefix(r.URL.Path, "/api/v3")
		f.paths = append(f.paths, r.Method+" "+r.URL.Path)
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		switch {
		case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/app/installations/"):
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(map[string]any{"token": "ghs_installation", "expires_at": time.Now().Add(time.Hour).Format(time.RFC3339)})
		case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/repos/"):
			if f.fail > 0 {
				f.fail--
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			var body map[string]any
			json.NewDecoder(r.Body).Decode(&body)
			body["path"] = r.URL.Path
			f.statuses = append(f.statuses, body)
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(body)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func TestPostStatusWithToken(t *testing.T) {
	f := newFakeGitHub(t)
	c, err := NewClient(Auth{Token: "ghp_token", BaseURL: f.srv.URL + "/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 200)
	err = c.PostStatus(context.Background(), store.Status{Repo: "acme/gitops", SHA: testSHA, State: "failure", Context: "gitops-gate",
		Description: long, TargetURL: "https://gate.example.com/evaluations/1"})
	if err != nil {
		t.Fatal(err)
	}
	got := f.statuses[0]
	if got["path"] != "/repos/acme/gitops/statuses/"+testSHA || got["state"] != "failure" || got["context"] != "gitops-gate" ||
		got["target_url"] != "https://gate.example.com/evaluations/1" || len([]rune(got["description"].(string))) != 140 {
		t.Errorf("status %+v", got)
	}
	if f.auth[0] != "Bearer ghp_token" {
		t.Errorf("authorization %q", f.auth[0])
	}
	f.fail = 1
	var re *RetryError
	if err := c.PostStatus(context.Background(), store.Status{Repo: "acme/gitops", SHA: testSHA, State: "pending"}); !errors.As(err, &re) {
		t.Errorf("502: %v, want a RetryError", err)
	}
	if err := c.PostStatus(context.Background(), store.Status{Repo: "nope", SHA: testSHA}); err == nil || errors.As(err, &re) {
		t.Errorf("bad repo: %v, want a permanent error", err)
	}
}

func TestPostStatusAsGitHubApp(t *testing.T) {
	f := newFakeGitHub(t)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	c, err := NewClient(Auth{AppID: 7, PrivateKey: pemKey, BaseURL: f.srv.URL + "/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PostStatus(context.Background(), store.Status{Repo: "acme/gitops", SHA: testSHA, State: "success", Context: "gitops-gate", InstallationID: 42}); err != nil {
		t.Fatal(err)
	}
	if f.paths[0] != "POST /app/installations/42/access_tokens" || !strings.HasPrefix(f.auth[0], "Bearer ey") {
		t.Errorf("token exchange %v %v", f.paths, f.auth)
	}
	if f.auth[1] != "token ghs_installation" {
		t.Errorf("status posted with %q, want the installation token", f.auth[1])
	}
	if tok, err := c.Token(context.Background(), 42); err != nil || tok != "ghs_installation" {
		t.Errorf("token %q %v", tok, err)
	}
	if err := c.PostStatus(context.Background(), store.Status{Repo: "acme/gitops", SHA: testSHA, State: "success"}); err == nil {
		t.Error("an App without an installation ID must refuse")
	}
	if _, err := NewClient(Auth{AppID: 7, PrivateKey: []byte("not a key")}, nil); err == nil {
		t.Error("a bad private key must be refused")
	}
}

// TestInterpretBaseCommit: the commit a change starts from (a pull
// request's base, a push's previous head) is kept when it is a commit SHA,
// for incremental evaluation to prefer its inventory; GitHub's all-zero
// "before" of a new branch, or anything else, is no base.
func TestInterpretBaseCommit(t *testing.T) {
	payload, err := os.ReadFile("../../testdata/github-webhooks/pull_request.opened.payload.json")
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := Interpret(&Delivery{ID: "x", Event: "pull_request", Payload: payload}); err != nil || ev.Base != "f95f852bd8fca8fcc58a9a2d6c842781e32a215e" {
		t.Errorf("pull request base: %+v %v", ev, err)
	}
	for before, want := range map[string]string{
		"2222222222222222222222222222222222222222": "2222222222222222222222222222222222222222",
		"0000000000000000000000000000000000000000": "",
		"not-a-sha": "",
	} {
		push := []byte(`{"ref":"refs/heads/main","before":"` + before + `","after":"1111111111111111111111111111111111111111","repository":{"full_name":"acme/gitops","clone_url":"https://github.com/acme/gitops.git"}}`)
		if ev, err := Interpret(&Delivery{Event: "push", Payload: push}); err != nil || ev.Base != want {
			t.Errorf("push before %q: base %q, want %q (%v)", before, ev.Base, want, err)
		}
	}
}
