package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Options configure a Resolver. The zero value is usable.
type Options struct {
	// Keychain authenticates; default authn.DefaultKeychain (Docker config
	// and credential helpers), plus GitHubToken for ghcr.io.
	Keychain    authn.Keychain
	GitHubToken string
	// Transport is the base HTTP transport (default: ggcr's).
	Transport http.RoundTripper
	// Timeout bounds each request (default 30s).
	Timeout time.Duration
	// Retries is how many times a 429/5xx or failed request is retried
	// (default 3).
	Retries int
	// BaseBackoff is the first retry delay, doubling after (default 200ms);
	// MaxBackoff caps it and any Retry-After (default 5s).
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// PerRegistry bounds concurrent requests to one registry (default 64:
	// a pull request re-resolves every tag it runs, one round trip each,
	// and at 32 a 2,000-tag monorepo waited 1.25 s on a 20 ms registry;
	// over HTTP/2 these are streams of one connection).
	PerRegistry int
	// MaxResponseBytes bounds one response body (default 32 MiB). The gate
	// reads manifests, signatures and bundles, never image layers: a larger
	// answer is a hostile or broken registry, and reading it would let that
	// registry choose the gate's memory use.
	MaxResponseBytes int64
	// Deny lists addresses never connected to: a reference whose host is
	// (or resolves to) one fails with ErrDenied, without a connection.
	// Checked on the address dialled, so DNS cannot route around it; with
	// an HTTP proxy in the environment only the literal hosts are checked.
	Deny []netip.Prefix
	// Observe, when set, is called after every HTTP request (for metrics).
	Observe func(registry string, status int, err error)
	Logger  *slog.Logger
}

// Resolver resolves references and serves registry options to cosign. It
// is safe for concurrent use.
type Resolver struct {
	t      *limitedTransport
	puller *remote.Puller
	opts   []remote.Option
}

// New builds a Resolver.
func New(o Options) (*Resolver, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Retries < 0 {
		o.Retries = 0
	} else if o.Retries == 0 {
		o.Retries = 3
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.PerRegistry <= 0 {
		o.PerRegistry = 64
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 32 << 20
	}
	if len(o.Deny) > 0 {
		tr, err := denyingTransport(o.Transport, o.Deny)
		if err != nil {
			return nil, err
		}
		o.Transport = tr
	}
	if o.Transport == nil {
		o.Transport = DefaultTransport
	}
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	if o.GitHubToken != "" {
		kc = authn.NewMultiKeychain(githubKeychain{token: o.GitHubToken}, kc)
	}
	t := &limitedTransport{next: o.Transport, perHost: o.PerRegistry, timeout: o.Timeout, retries: o.Retries,
		baseBackoff: o.BaseBackoff, maxBackoff: o.MaxBackoff, maxBody: o.MaxResponseBytes, observe: o.Observe, deny: o.Deny}
	opts := []remote.Option{
		remote.WithTransport(t),
		remote.WithAuthFromKeychain(kc),
		remote.WithUserAgent("gitops-gate"),
		// Retries live in the transport, once, with the gate's limits.
		remote.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Steps: 1}),
		remote.WithRetryStatusCodes(),
	}
	p, err := remote.NewPuller(opts...)
	if err != nil {
		return nil, err
	}
	return &Resolver{t: t, puller: p, opts: opts}, nil
}

// RemoteOptions are the options for go-containerregistry and cosign calls
// made on behalf of ctx: the shared puller (auth exchanged once per
// repository) and the caller's context, which cosign does not pass on.
func (r *Resolver) RemoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{remote.Reuse(r.puller), remote.WithContext(ctx)}
}

// Attempts is how many times a request is tried before the gate gives up.
func (r *Resolver) Attempts() int { return r.t.retries + 1 }

// Stats returns the requests sent so far, by registry.
func (r *Resolver) Stats() map[string]Stats { return r.t.snapshot() }

// Resolved is where a reference points now.
type Resolved struct {
	Digest    name.Digest
	MediaType string
	// Platforms lists the platform manifests of an index.
	Platforms []Platform
}

// Platform is one manifest of an index.
type Platform struct {
	Platform string `json:"platform"`
	Digest   string `json:"digest"`
}

// Error is a failed registry operation, with the reference and, when the
// registry answered, its HTTP status.
type Error struct {
	Ref    string
	Status int
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %v", e.Ref, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// NotFound reports whether the registry said the reference does not exist.
func (e *Error) NotFound() bool { return e.Status == http.StatusNotFound }

// Resolve returns the digest ref points at. For a tag it asks with HEAD and
// falls back to GET; for a digest it checks the manifest exists (a registry
// that serves other content under the digest is caught by the hash check).
// An index is resolved to its own digest, with its platforms listed.
func (r *Resolver) Resolve(ctx context.Context, ref name.Reference) (*Resolved, error) {
	desc, err := r.puller.Head(ctx, ref)
	switch {
	case err == nil:
	case isNotFound(err):
		return nil, wrap(ref, err)
	default:
		desc = nil // some registries do not answer HEAD for manifests: GET decides
	}
	if desc != nil && !desc.MediaType.IsIndex() {
		return &Resolved{Digest: ref.Context().Digest(desc.Digest.String()), MediaType: string(desc.MediaType)}, nil
	}
	full, err := r.puller.Get(ctx, ref)
	if err != nil {
		return nil, wrap(ref, err)
	}
	if d, ok := ref.(name.Digest); ok && d.DigestStr() != full.Digest.String() {
		return nil, &Error{Ref: ref.String(), Err: fmt.Errorf("registry returned content with digest %s for %s", full.Digest, d.DigestStr())}
	}
	res := &Resolved{Digest: ref.Context().Digest(full.Digest.String()), MediaType: string(full.MediaType)}
	if full.MediaType.IsIndex() {
		res.Platforms = platformsOf(full)
	}
	return res, nil
}

func platformsOf(d *remote.Descriptor) []Platform {
	idx, err := d.ImageIndex()
	if err != nil {
		return nil
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil
	}
	var out []Platform
	for _, desc := range m.Manifests {
		p := "unknown"
		if desc.Platform != nil {
			p = desc.Platform.String()
		}
		out = append(out, Platform{Platform: p, Digest: desc.Digest.String()})
	}
	return out
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

func wrap(ref name.Reference, err error) error {
	e := &Error{Ref: ref.String(), Err: err}
	var te *transport.Error
	if errors.As(err, &te) {
		e.Status = te.StatusCode
	}
	return e
}

// githubKeychain authenticates to ghcr.io with a GitHub token.
type githubKeychain struct{ token string }

func (k githubKeychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	if res.RegistryStr() != "ghcr.io" && !strings.HasSuffix(res.RegistryStr(), ".ghcr.io") {
		return authn.Anonymous, nil
	}
	return &authn.Basic{Username: "x-access-token", Password: k.token}, nil
}

// DefaultTransport is ggcr's default transport, keeping as many idle
// connections to a registry as requests may be in flight to it
// (Options.PerRegistry is at most 1024). ggcr's own keeps 50: at 64 in
// flight, every wave of requests closed 14 connections and dialled 14 new
// ones (a TLS handshake each against a real registry), on the critical
// path of every pull request's tag resolutions. Idle connections still
// close after IdleConnTimeout, and are bounded in all by MaxPerRegistry
// too: a repository naming images on thousands of registries (a wildcard
// DNS name each) would otherwise leave a socket open to each.
var DefaultTransport http.RoundTripper = func() http.RoundTripper {
	ht := remote.DefaultTransport.(*http.Transport).Clone()
	ht.MaxIdleConnsPerHost = MaxPerRegistry
	ht.MaxIdleConns = MaxPerRegistry
	return ht
}()

// MaxPerRegistry is the most requests Options.PerRegistry may allow in
// flight to one registry.
const MaxPerRegistry = 1024
