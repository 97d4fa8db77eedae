package gitsrc

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// capture is a loopback server that records every Authorization header it
// receives and answers 404, or redirects to another URL.
type capture struct {
	srv      *httptest.Server
	mu       sync.Mutex
	auth     []string
	requests int
	redirect string
}

func newCapture(t *testing.T) *capture {
	c := &capture{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.requests++
		if a := r.Header.Get("Authorization"); a != "" {
			c.auth = append(c.auth, a)
		}
		if c.redirect != "" {
			http.Redirect(w, r, c.redirect+r.URL.Path+"?"+r.URL.RawQuery, http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *capture) seen() (int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests, append([]string(nil), c.auth...)
}

const sha = "0123456789abcdef0123456789abcdef01234567"

// TestTokenOnlyToItsOrigin: the fetcher is handed a GitHub token with a
// clone URL on another host (the API cloneUrl attack), on the GitHub host
// over plain http, or behind a redirect: no capture server receives the
// credential. Local paths are refused. On its own origin the token is sent.
func TestTokenOnlyToItsOrigin(t *testing.T) {
	ctx := context.Background()
	evil := newCapture(t)
	f, err := New(Options{CacheDir: t.TempDir(), TokenOrigin: "https://github.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{evil.srv.URL + "/evil/repo.git", strings.Replace(evil.srv.URL, "127.0.0.1", "localhost", 1) + "/evil/repo.git"} {
		if _, _, err := f.Checkout(ctx, Request{CloneURL: u, Ref: "refs/heads/main", SHA: sha, Token: "ghs_secret"}, t.TempDir()); err == nil {
			t.Errorf("%s: want a fetch error", u)
		}
	}
	if n, auth := evil.seen(); n == 0 || len(auth) > 0 {
		t.Errorf("capture server: %d requests, credentials %v; want requests without credentials", n, auth)
	}
	// The configured origin over http: still no token.
	plain := newCapture(t)
	f2, _ := New(Options{CacheDir: t.TempDir(), TokenOrigin: strings.Replace(plain.srv.URL, "http://", "https://", 1)})
	f2.Checkout(ctx, Request{CloneURL: plain.srv.URL + "/acme/gitops.git", Ref: "refs/heads/main", SHA: sha, Token: "ghs_secret"}, t.TempDir())
	if _, auth := plain.seen(); len(auth) > 0 {
		t.Errorf("the token went over http to an https origin: %v", auth)
	}
	// Its own origin redirects elsewhere: the redirect is refused.
	home, away := newCapture(t), newCapture(t)
	home.redirect = away.srv.URL
	f3, _ := New(Options{CacheDir: t.TempDir(), TokenOrigin: home.srv.URL})
	if _, _, err := f3.Checkout(ctx, Request{CloneURL: home.srv.URL + "/acme/gitops.git", Ref: "refs/heads/main", SHA: sha, Token: "ghs_secret"}, t.TempDir()); err == nil {
		t.Error("redirect: want an error")
	}
	if n, auth := away.seen(); n > 0 || len(auth) > 0 {
		t.Errorf("a redirect led %d requests (credentials %v) off the origin", n, auth)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:ghs_secret"))
	if _, auth := home.seen(); len(auth) == 0 || auth[0] != want {
		t.Errorf("on its own origin the token is sent: %v", auth)
	}
	// Local paths and other schemes are never fetched.
	for _, u := range []string{"/etc", "file:///etc", t.TempDir(), "ssh://git@github.example.com/acme/gitops.git", "git@github.example.com:acme/gitops.git", "ext::sh -c id"} {
		if _, _, err := f.Checkout(ctx, Request{CloneURL: u, Ref: "refs/heads/main", SHA: sha}, t.TempDir()); err == nil || !strings.Contains(err.Error(), "want an https URL") {
			t.Errorf("%s: %v, want refused", u, err)
		}
	}
}
