package github_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/gatetest/fakegithub"
	"github.com/gitops-gate/gitops-gate/gate/github"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func client(t *testing.T, url string, mod func(*github.AttestationsOptions)) *github.Attestations {
	t.Helper()
	o := github.AttestationsOptions{BaseURL: url, Repos: []string{"acme/app"}, Token: func(context.Context) (string, error) { return "ghs_secret", nil }}
	if mod != nil {
		mod(&o)
	}
	c, err := github.NewAttestations(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// What a hostile or broken answer may cost is bounded, and the token goes
// to the API's host only: each case is an error, never "none found".
func TestAttestationsBounds(t *testing.T) {
	var sawToken []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawToken = append(sawToken, r.Header.Get("Authorization"))
		fmt.Fprint(w, `{"attestations":[]}`)
	}))
	defer other.Close()
	var api *httptest.Server
	mode := ""
	api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch mode {
		case "huge":
			fmt.Fprint(w, `{"attestations":[{"bundle":"`+strings.Repeat("x", 2048)+`"}]}`)
		case "foreign-link":
			w.Header().Set("Link", `<`+other.URL+`/repos/acme/app/attestations/`+digest+`?after=1>; rel="next"`)
			fmt.Fprint(w, `{"attestations":[]}`)
		case "redirect":
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
		case "many":
			fmt.Fprint(w, `{"attestations":[{"bundle":{}},{"bundle":{}},{"bundle":{}}]}`)
		case "http-blob":
			fmt.Fprint(w, `{"attestations":[{"bundle":null,"bundle_url":"http://blob.example/x.json.sn"}]}`)
		case "empty":
			fmt.Fprint(w, `{"attestations":[{"bundle":null}]}`)
		case "forbidden":
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"message":"Resource not accessible by integration"}`)
		}
	}))
	defer api.Close()
	for _, c := range []struct {
		mode string
		mod  func(*github.AttestationsOptions)
		want string
		is   error
	}{
		{"huge", func(o *github.AttestationsOptions) { o.MaxResponseBytes = 1024 }, "more than 1024 bytes", github.ErrResponseTooLarge},
		{"foreign-link", nil, "another host than the API's", nil},
		{"redirect", nil, "another host than", nil},
		{"many", func(o *github.AttestationsOptions) { o.MaxAttestations = 2 }, "more than the 2 attestations", github.ErrTooManyAttestations},
		{"empty", nil, "neither a bundle nor a bundle_url", nil},
		{"forbidden", nil, "HTTP 403 Forbidden: Resource not accessible by integration (a private repository needs a token with attestations:read)", nil},
	} {
		mode = c.mode
		_, _, err := client(t, api.URL, c.mod).Attestations(context.Background(), digest)
		if err == nil || !strings.Contains(err.Error(), c.want) || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("%s: got %v, want an error with %q", c.mode, err, c.want)
		}
	}
	if len(sawToken) > 0 {
		t.Errorf("another host was contacted (Authorization %q)", sawToken)
	}

	// An https API never follows a bundle_url over http.
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"attestations":[{"bundle":null,"bundle_url":"http://blob.example/x.json.sn"}]}`)
	}))
	defer tls.Close()
	_, _, err := client(t, tls.URL, func(o *github.AttestationsOptions) { o.Transport = tls.Client().Transport }).Attestations(context.Background(), digest)
	if err == nil || !strings.Contains(err.Error(), "want an https URL") {
		t.Errorf("http bundle_url from an https API: %v", err)
	}
	if _, _, err := client(t, api.URL, nil).Attestations(context.Background(), "sha256:../../x"); err == nil {
		t.Error("a digest that is not sha256:<hex> reached a URL path")
	}
	if _, err := github.NewAttestations(github.AttestationsOptions{}); err == nil {
		t.Error("no repository and no owner: accepted")
	}
}

// A listing that found attestations is reused for CacheTTL; "none" is
// never kept, so an attestation made since is seen at the next
// evaluation.
func TestAttestationsCache(t *testing.T) {
	ctx := context.Background()
	w := gatetest.NewWorld(t)
	d, err := w.PushImage(ctx, "acme/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	var bundle []byte
	if err := w.Sigstore.AttestImage(ctx, d, gatetest.AttestOptions{Format: gatetest.AttestBundle, Out: &bundle,
		PredicateType: gatetest.PredicateSLSAv1, Predicate: gatetest.SLSAProvenanceV1(gatetest.GitHubProvenance{})}); err != nil {
		t.Fatal(err)
	}
	f := fakegithub.New(t)
	now := time.Now()
	c := client(t, f.Server.URL, func(o *github.AttestationsOptions) { o.Now = func() time.Time { return now } })
	get := func() int {
		t.Helper()
		list, _, err := c.Attestations(ctx, d.DigestStr())
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	if n := get(); n != 0 {
		t.Fatalf("%d attestations before any was made", n)
	}
	f.AddAttestation("acme/app", d.DigestStr(), bundle)
	if n := get(); n != 1 {
		t.Fatalf("an attestation made after a 404 is not seen: %d", n)
	}
	get()
	if n := len(f.AttestationRequests()); n != 2 {
		t.Errorf("%d requests, want 2 (404, then one listing reused)", n)
	}
	now = now.Add(github.DefaultCacheTTL)
	get()
	if n := len(f.AttestationRequests()); n != 3 {
		t.Errorf("%d requests after the TTL, want 3", n)
	}
}
