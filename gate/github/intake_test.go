package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// prPayload is the corpus pull_request payload with fields replaced.
func prPayload(t *testing.T, edit func(p map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/github-webhooks/pull_request.opened.payload.json")
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	json.Unmarshal(raw, &p)
	edit(p)
	out, _ := json.Marshal(p)
	return out
}

// TestInterpretRefusesHostileFields: a signed payload whose head SHA,
// repository or ref is not what GitHub sends (a path in the SHA made the
// gate post its status, with its token, to another API path) is refused
// at intake as malformed; the corpus payloads still pass.
func TestInterpretRefusesHostileFields(t *testing.T) {
	pr := func(k string, v any) func(map[string]any) {
		return func(p map[string]any) {
			switch k {
			case "sha":
				p["pull_request"].(map[string]any)["head"].(map[string]any)["sha"] = v
			case "repo":
				p["repository"].(map[string]any)["full_name"] = v
			case "number":
				p["number"], p["pull_request"].(map[string]any)["number"] = v, v
			}
		}
	}
	for name, edit := range map[string]func(map[string]any){
		"path in the SHA":        pr("sha", "zzzz../../../etc/passwd"),
		"short SHA":              pr("sha", "abc1234"),
		"upper-case SHA":         pr("sha", strings.ToUpper(testSHA)),
		"SHA with a query":       pr("sha", testSHA+"?x=1"),
		"repository with a dot":  pr("repo", "acme/.."),
		"repository path":        pr("repo", "acme/gitops/statuses"),
		"owner with a slash":     pr("repo", "../acme/gitops"),
		"owner with a space":     pr("repo", "ac me/gitops"),
		"no pull request number": pr("number", 0),
	} {
		_, err := Interpret(&Delivery{ID: "d", Event: "pull_request", Payload: prPayload(t, edit)})
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	push := func(ref, after string) []byte {
		b, _ := json.Marshal(map[string]any{"ref": ref, "after": after, "repository": map[string]any{"full_name": "acme/gitops", "clone_url": "https://github.com/acme/gitops.git"}})
		return b
	}
	for name, p := range map[string][]byte{
		"refspec in the ref": push("refs/heads/main:refs/heads/x", testSHA),
		"dots in the ref":    push("refs/heads/../../x", testSHA),
		"path in the SHA":    push("refs/heads/main", "../../etc/passwd"),
	} {
		if _, err := Interpret(&Delivery{ID: "d", Event: "push", Payload: p}); !errors.Is(err, ErrMalformed) {
			t.Errorf("push, %s: %v, want ErrMalformed", name, err)
		}
	}
	if _, err := Interpret(&Delivery{ID: "d", Event: "pull_request", Payload: []byte(`{"action": [}`)}); !errors.Is(err, ErrMalformed) {
		t.Errorf("broken JSON: %v, want ErrMalformed", err)
	}
	// The legitimate variants.
	ev, err := Interpret(&Delivery{ID: "d", Event: "pull_request", Payload: prPayload(t, func(map[string]any) {})})
	if err != nil || !ValidSHA(ev.SHA) || ev.UpdatedAt.IsZero() {
		t.Errorf("corpus pull_request: %+v %v", ev, err)
	}
	if ev, err := Interpret(&Delivery{ID: "d", Event: "pull_request", Payload: prPayload(t, pr("sha", strings.Repeat("ab", 32)))}); err != nil || len(ev.SHA) != 64 {
		t.Errorf("a SHA-256 commit: %v", err)
	}
	if ev, err := Interpret(&Delivery{ID: "d", Event: "push", Payload: push("refs/heads/release/v1.2", testSHA)}); err != nil || ev.Branch != "release/v1.2" {
		t.Errorf("push: %+v %v", ev, err)
	}
	if ev, err := Interpret(&Delivery{ID: "d", Event: "pull_request", Payload: prPayload(t, pr("repo", "Acme-Corp/my.repo_name-2"))}); err != nil || ev.Repo != "Acme-Corp/my.repo_name-2" {
		t.Errorf("a repository with every allowed character: %v", err)
	}
}

// TestReadDeliveryNeedsDeliveryID: without X-GitHub-Delivery a delivery
// could not be deduplicated; it is refused before its body is read.
func TestReadDeliveryNeedsDeliveryID(t *testing.T) {
	payload := []byte(`{"zen": "ok"}`)
	secret := []byte("s3cret")
	r := request("ping", "", sign(secret, payload), payload)
	r.Header.Del("X-GitHub-Delivery")
	if _, err := ReadDelivery(r, secret); !errors.Is(err, ErrMalformed) {
		t.Errorf("no delivery ID: %v, want ErrMalformed", err)
	}
	r = request("ping", "d", sign(secret, payload), payload)
	r.Header.Set("Content-Type", "text/plain")
	if _, err := ReadDelivery(r, secret); !errors.Is(err, ErrMalformed) {
		t.Errorf("text/plain: %v, want ErrMalformed", err)
	}
}

// countingBody counts the bytes read from it and can block.
type countingBody struct {
	n     atomic.Int64
	size  int64
	block chan struct{}
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.block != nil {
		<-b.block
	}
	left := b.size - b.n.Load()
	if left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), left)
	b.n.Add(n)
	return int(n), nil
}

func (b *countingBody) Close() error { return nil }

// TestReceiverBoundsUnauthenticatedBytes: a body over GitHub's size is
// refused from its Content-Length without being read, and bodies being
// read before their signature is checked share a fixed budget.
func TestReceiverBoundsUnauthenticatedBytes(t *testing.T) {
	rc := &Receiver{Secret: []byte("s"), MaxBody: 1 << 20, Budget: 1 << 20, Wait: 100 * time.Millisecond}
	req := func(body *countingBody) *http.Request {
		r := request("push", "d", "sha256=00", nil)
		r.Body, r.ContentLength = body, body.size
		return r
	}
	big := &countingBody{size: 2 << 20}
	if _, err := rc.Read(req(big)); !errors.Is(err, ErrTooLarge) || big.n.Load() != 0 {
		t.Errorf("2 MiB body: %v after reading %d bytes, want ErrTooLarge before reading", err, big.n.Load())
	}
	// One slow sender holds the whole budget: the next is refused, busy.
	slow := &countingBody{size: 1 << 20, block: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := rc.Read(req(slow)); !errors.Is(err, ErrSignature) {
			t.Errorf("slow bogus body: %v, want ErrSignature", err)
		}
	}()
	time.Sleep(50 * time.Millisecond)
	next := &countingBody{size: 1 << 10}
	if _, err := rc.Read(req(next)); !errors.Is(err, ErrBusy) || next.n.Load() != 0 {
		t.Errorf("while the budget is held: %v after %d bytes, want ErrBusy", err, next.n.Load())
	}
	close(slow.block)
	wg.Wait()
	// The budget is back.
	payload := []byte(`{"zen": "ok"}`)
	if _, err := rc.Read(request("ping", "d", sign(rc.Secret, payload), payload)); err != nil {
		t.Errorf("after the slow sender: %v", err)
	}
}

// TestInstallationForRepository: as a GitHub App, an evaluation without
// a webhook's installation ID (API, Argo CD) finds the installation of
// its repository with the App's JWT, once, and fetches with its token.
func TestInstallationForRepository(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")[:min(9, len(r.Header.Get("Authorization")))])
		mu.Unlock()
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/v3/repos/acme/gitops/installation" && strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ey"):
			json.NewEncoder(w).Encode(map[string]any{"id": 99})
		case r.Method == http.MethodPost && r.URL.Path == "/api/v3/app/installations/99/access_tokens":
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(map[string]any{"token": "ghs_99", "expires_at": time.Now().Add(time.Hour).Format(time.RFC3339)})
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	c, err := NewClient(Auth{AppID: 7, PrivateKey: pemKey, BaseURL: srv.URL + "/api/v3/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if tok, err := c.RepoToken(context.Background(), "acme/gitops", 0); err != nil || tok != "ghs_99" {
			t.Fatalf("token %q %v", tok, err)
		}
	}
	if n := strings.Count(strings.Join(seen, "\n"), "/installation "); n != 1 {
		t.Errorf("%d installation lookups, want 1 (cached): %v", n, seen)
	}
	if _, err := c.RepoToken(context.Background(), "acme/other", 0); err == nil {
		t.Error("a repository the App is not installed on must be an error")
	}
	if _, err := c.RepoToken(context.Background(), "acme/../x", 0); !errors.Is(err, ErrMalformed) {
		t.Errorf("a malformed repository: %v", err)
	}
	// With a token there is nothing to look up.
	tc, _ := NewClient(Auth{Token: "ghp_x"}, nil)
	if tok, err := tc.RepoToken(context.Background(), "acme/gitops", 0); err != nil || tok != "ghp_x" {
		t.Errorf("token mode: %q %v", tok, err)
	}
}
