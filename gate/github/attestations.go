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
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/snappy"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
)

// Errors of the artifact attestations API. Each is an error verdict: the
// gate could not see every attestation, so it cannot decide.
var (
	// ErrRateLimited: GitHub refused for a rate limit (403 with
	// x-ratelimit-remaining: 0, or 429).
	ErrRateLimited = errors.New("rate limited")
	// ErrTooManyAttestations: more attestations name the digest than the
	// gate examines.
	ErrTooManyAttestations = errors.New("too many attestations to examine")
	// ErrResponseTooLarge: a page or a bundle is larger than the gate reads.
	ErrResponseTooLarge = errors.New("response too large")
)

// Defaults of AttestationsOptions.
const (
	// DefaultMaxAttestations matches the gate's bound on signatures per
	// digest (verify.DefaultMaxSignatures): anyone whose workflow may write
	// attestations to the repository can add more.
	DefaultMaxAttestations = 50
	// DefaultMaxResponseBytes bounds one API page and one bundle (decoded).
	DefaultMaxResponseBytes = 16 << 20
	// perPage is GitHub's largest page.
	perPage = 100
)

// AttestationsOptions say where artifact attestations are read.
type AttestationsOptions struct {
	// BaseURL is the REST API (GitHub Enterprise Server:
	// https://ghe.example.com/api/v3/); empty for https://api.github.com/.
	BaseURL string
	// Repos are owner/name repositories whose endpoint
	// GET /repos/{owner}/{repo}/attestations/{digest} is read, and Owner an
	// organisation whose GET /orgs/{org}/attestations/{digest} is read.
	// At least one is required.
	Repos []string
	Owner string
	// Token returns the token sent to BaseURL's host (nil: anonymous, which
	// reads public repositories only). It is never sent anywhere else.
	Token func(ctx context.Context) (string, error)
	// Transport carries the requests (nil: http.DefaultTransport).
	Transport http.RoundTripper
	// MaxAttestations bounds the attestations read per digest and endpoint
	// (default DefaultMaxAttestations); more is ErrTooManyAttestations.
	MaxAttestations int
	// MaxResponseBytes bounds one page and one bundle (default
	// DefaultMaxResponseBytes).
	MaxResponseBytes int64
	// CacheTTL keeps what an endpoint listed for a digest, when it listed
	// anything, this long (default DefaultCacheTTL; negative: never), so
	// that evaluation after evaluation of the same images does not spend
	// the rate limit. "None" and errors are never kept: an attestation
	// made a minute ago is seen at once.
	CacheTTL time.Duration
	// Now is the clock (tests).
	Now func() time.Time
}

// DefaultCacheTTL is how long a listing is reused. A listed bundle is
// verified again at every use; at worst a deleted attestation counts for
// this long.
const DefaultCacheTTL = 10 * time.Minute

// maxCached bounds the cache; past it the cache starts again empty.
const maxCached = 10000

// Attestations reads GitHub artifact attestations (actions/attest,
// attest-build-provenance) of an image digest. It only finds bundles; the
// verifier checks them offline like any other. It is safe for concurrent
// use.
type Attestations struct {
	o     AttestationsOptions
	base  *url.URL
	hc    *http.Client
	blobs *http.Client

	mu    sync.Mutex
	cache map[string]cached // endpoint|digest
}

type cached struct {
	bundles []*sgbundle.Bundle
	at      time.Time
}

// NewAttestations checks the options.
func NewAttestations(o AttestationsOptions) (*Attestations, error) {
	if len(o.Repos) == 0 && o.Owner == "" {
		return nil, errors.New("GitHub attestations: name the repositories (owner/name) or the organisation whose attestations are read")
	}
	for _, r := range o.Repos {
		if err := CheckRepo("attestations repository", r); err != nil {
			return nil, err
		}
	}
	if o.Owner != "" && !ownerRE.MatchString(o.Owner) {
		return nil, fmt.Errorf("%w: attestations owner %q: want a GitHub organisation", ErrMalformed, clip(o.Owner))
	}
	if o.BaseURL == "" {
		o.BaseURL = "https://api.github.com/"
	}
	base, err := url.Parse(strings.TrimRight(o.BaseURL, "/") + "/")
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("GitHub attestations: API URL %q: want https://host/…", o.BaseURL)
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	if o.MaxAttestations <= 0 {
		o.MaxAttestations = DefaultMaxAttestations
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &Attestations{o: o, base: base, cache: map[string]cached{}}
	// The token goes only to the API's host: a redirect elsewhere (or a
	// Link header naming another host) is refused, not followed with it.
	a.hc = &http.Client{Transport: o.Transport, Timeout: time.Minute, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !sameOrigin(req.URL, base) {
			return fmt.Errorf("GitHub attestations API redirected to %s, another host than %s", req.URL.Host, base.Host)
		}
		return nil
	}}
	a.blobs = &http.Client{Transport: o.Transport, Timeout: time.Minute}
	return a, nil
}

// Where names the endpoints read, for messages: "repos/acme/app, orgs/acme".
func (a *Attestations) Where() string { return strings.Join(a.endpoints(), ", ") }

func (a *Attestations) endpoints() []string {
	var out []string
	for _, r := range a.o.Repos {
		out = append(out, "repos/"+r)
	}
	if a.o.Owner != "" {
		out = append(out, "orgs/"+a.o.Owner)
	}
	return out
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// Attestations returns the Sigstore bundles GitHub stores for digest
// (sha256:<hex>) at every configured endpoint, and what it found where
// ("GitHub attestations API repos/acme/app: 2"). A 404 is "none found";
// a rate limit, an oversized answer, too many attestations or any other
// failure is an error.
func (a *Attestations) Attestations(ctx context.Context, digest string) ([]*sgbundle.Bundle, []string, error) {
	if !digestRE.MatchString(digest) {
		return nil, nil, fmt.Errorf("GitHub attestations: subject digest %q: want sha256:<64 hex digits>", clip(digest))
	}
	var out []*sgbundle.Bundle
	var looked []string
	for _, ep := range a.endpoints() {
		list, err := a.cachedList(ctx, ep, digest)
		if err != nil {
			return nil, nil, fmt.Errorf("GitHub attestations API %s: %w", ep, err)
		}
		if len(list) == 0 {
			looked = append(looked, "GitHub attestations API "+ep+": none")
		} else {
			looked = append(looked, fmt.Sprintf("GitHub attestations API %s: %d", ep, len(list)))
		}
		out = append(out, list...)
	}
	return out, looked, nil
}

// apiAttestation is one entry of the list: the bundle inline, or (since
// 2026) "bundle": null and a pre-signed bundle_url serving it
// snappy-compressed (cli/cli pkg/cmd/attestation/api attestation.go).
type apiAttestation struct {
	Bundle    json.RawMessage `json:"bundle"`
	BundleURL string          `json:"bundle_url"`
}

// cachedList is list, reusing a non-empty listing for CacheTTL.
func (a *Attestations) cachedList(ctx context.Context, endpoint, digest string) ([]*sgbundle.Bundle, error) {
	key := endpoint + "|" + digest
	now := a.o.Now()
	a.mu.Lock()
	c, ok := a.cache[key]
	a.mu.Unlock()
	if ok && now.Sub(c.at) < a.o.CacheTTL {
		return c.bundles, nil
	}
	list, err := a.list(ctx, endpoint, digest)
	if err != nil || len(list) == 0 || a.o.CacheTTL < 0 {
		return list, err
	}
	a.mu.Lock()
	if len(a.cache) >= maxCached {
		a.cache = map[string]cached{}
	}
	a.cache[key] = cached{bundles: list, at: now}
	a.mu.Unlock()
	return list, nil
}

func (a *Attestations) list(ctx context.Context, endpoint, digest string) ([]*sgbundle.Bundle, error) {
	next := a.base.JoinPath(endpoint, "attestations", digest)
	next.RawQuery = "per_page=" + strconv.Itoa(perPage)
	var out []*sgbundle.Bundle
	// Each page holds at least one attestation: more pages than the bound
	// allows attestations is already too many.
	for page := 0; next != nil; page++ {
		if page > a.o.MaxAttestations {
			return nil, fmt.Errorf("%w: more than %d pages", ErrTooManyAttestations, a.o.MaxAttestations)
		}
		body, link, err := a.get(ctx, next)
		if err != nil {
			return nil, err
		}
		if body == nil { // 404: GitHub has none for this digest
			return out, nil
		}
		var resp struct {
			Attestations []apiAttestation `json:"attestations"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			return nil, fmt.Errorf("reading the answer: %w", err)
		}
		if len(out)+len(resp.Attestations) > a.o.MaxAttestations {
			return nil, fmt.Errorf("%w: %s has more than the %d attestations the gate examines per digest", ErrTooManyAttestations, digest, a.o.MaxAttestations)
		}
		for i, at := range resp.Attestations {
			b, err := a.bundle(ctx, at)
			if err != nil {
				return nil, fmt.Errorf("attestation %d: %w", len(out)+i, err)
			}
			out = append(out, b)
		}
		if next, err = a.nextPage(link); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// get reads one page: its body (nil for 404) and Link header.
func (a *Attestations) get(ctx context.Context, u *url.URL) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	if a.o.Token != nil {
		tok, err := a.o.Token(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("GitHub token: %w", err)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := readBounded(resp.Body, a.o.MaxResponseBytes)
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, "", nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusForbidden && (resp.Header.Get("X-RateLimit-Remaining") == "0" || resp.Header.Get("Retry-After") != ""):
		return nil, "", rateLimited(resp, body)
	case resp.StatusCode != http.StatusOK:
		return nil, "", fmt.Errorf("HTTP %d %s: %s%s", resp.StatusCode, http.StatusText(resp.StatusCode), message(body), hint(resp.StatusCode))
	case err != nil:
		return nil, "", err
	}
	return body, resp.Header.Get("Link"), nil
}

// rateLimited names the limit and when it resets, from GitHub's headers.
func rateLimited(resp *http.Response, body []byte) error {
	h := resp.Header
	var parts []string
	if l := h.Get("X-RateLimit-Limit"); l != "" {
		what := l + " requests per hour"
		if r := h.Get("X-RateLimit-Resource"); r != "" {
			what += " (" + r + ")"
		}
		parts = append(parts, "limit "+what+", "+h.Get("X-RateLimit-Remaining")+" remaining")
	}
	if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
		parts = append(parts, "resets at "+time.Unix(reset, 0).UTC().Format(time.RFC3339))
	}
	if ra := h.Get("Retry-After"); ra != "" {
		parts = append(parts, "retry after "+ra+"s")
	}
	kind := "primary rate limit"
	if resp.StatusCode == http.StatusTooManyRequests || h.Get("X-RateLimit-Remaining") != "0" {
		kind = "secondary rate limit"
	}
	msg := fmt.Sprintf("%v: HTTP %d, %s", ErrRateLimited, resp.StatusCode, kind)
	if len(parts) > 0 {
		msg += " (" + strings.Join(parts, "; ") + ")"
	}
	if m := message(body); m != "" {
		msg += ": " + m
	}
	return &rateLimitError{msg: msg}
}

type rateLimitError struct{ msg string }

func (e *rateLimitError) Error() string { return e.msg }
func (e *rateLimitError) Unwrap() error { return ErrRateLimited }

func hint(code int) string {
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return " (a private repository needs a token with attestations:read)"
	}
	return ""
}

// message is GitHub's error message, short.
func message(body []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	return clip(m.Message)
}

// nextPage follows a Link header's rel="next", on the API's own origin only.
func (a *Attestations) nextPage(link string) (*url.URL, error) {
	for _, part := range strings.Split(link, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.Contains(params, `rel="next"`) {
			continue
		}
		u, err := url.Parse(strings.Trim(strings.TrimSpace(target), "<>"))
		if err != nil {
			return nil, fmt.Errorf("Link header: %w", err)
		}
		u = a.base.ResolveReference(u)
		if !sameOrigin(u, a.base) {
			return nil, fmt.Errorf("Link header names %s, another host than the API's %s", u.Host, a.base.Host)
		}
		return u, nil
	}
	return nil, nil
}

// bundle decodes an attestation's bundle, inline or from its bundle_url.
func (a *Attestations) bundle(ctx context.Context, at apiAttestation) (*sgbundle.Bundle, error) {
	raw := bytes.TrimSpace(at.Bundle)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		if at.BundleURL == "" {
			return nil, errors.New("neither a bundle nor a bundle_url")
		}
		var err error
		if raw, err = a.fetchBundle(ctx, at.BundleURL); err != nil {
			return nil, err
		}
	}
	if int64(len(raw)) > a.o.MaxResponseBytes {
		return nil, fmt.Errorf("%w: bundle of %d bytes, more than %d", ErrResponseTooLarge, len(raw), a.o.MaxResponseBytes)
	}
	b := &sgbundle.Bundle{}
	if err := b.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("not a Sigstore bundle: %w", err)
	}
	return b, nil
}

// fetchBundle reads a pre-signed bundle_url. It carries no GitHub
// credentials (it is blob storage, not GitHub), must be https unless the
// API itself is http (a test server), and its content is the bundle
// snappy-compressed (application/x-snappy) or plain JSON, bounded before
// it is decompressed.
func (a *Attestations) fetchBundle(ctx context.Context, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && a.base.Scheme == "http")) {
		return nil, fmt.Errorf("bundle_url %q: want an https URL", clip(raw))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.blobs.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bundle_url on %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bundle_url on %s: HTTP %d", u.Host, resp.StatusCode)
	}
	body, err := readBounded(resp.Body, a.o.MaxResponseBytes)
	if err != nil {
		return nil, fmt.Errorf("bundle_url on %s: %w", u.Host, err)
	}
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '{' {
		return t, nil
	}
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return nil, fmt.Errorf("bundle_url on %s: neither JSON nor snappy: %w", u.Host, err)
	}
	if int64(n) > a.o.MaxResponseBytes {
		return nil, fmt.Errorf("%w: bundle_url on %s decompresses to %d bytes, more than %d", ErrResponseTooLarge, u.Host, n, a.o.MaxResponseBytes)
	}
	return snappy.Decode(nil, body)
}

func readBounded(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, limit)
	}
	return b, nil
}

func sameOrigin(u, base *url.URL) bool {
	return strings.EqualFold(u.Scheme, base.Scheme) && strings.EqualFold(u.Host, base.Host)
}
