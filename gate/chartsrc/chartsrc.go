// Package chartsrc downloads Helm charts from the Helm repositories and OCI
// registries that the gate's configuration allows (manifests.ChartFetcher).
//
// A chart reference (repository, chart, version or semver range) resolves
// as Argo CD resolves a targetRevision: an exact version is taken as it is;
// a constraint picks the highest matching version in the repository's
// index.yaml or among the OCI repository's tags. The archive is downloaded
// with a size cap and a deadline, its sha256 is checked against the index
// entry's digest (an entry without one is refused) or the OCI manifest's
// chart layer, and it is unpacked — regular files and directories only,
// every entry inside the chart's own directory — into a cache addressed by
// that digest, where later evaluations find it again.
//
// OCI artifacts that are not charts — Argo CD 3.1+ Application sources
// with an oci:// repoURL and no chart — come the same way (FetchArtifact):
// the revision resolves to a manifest digest, the manifest's one content
// layer is checked against its digest and unpacked, under the same limits
// and with no entry outside its directory and no links, into the cache.
//
// Each allowed repository may name a mirror (air-gapped installations
// mirror chart repositories): the chart is then fetched from the mirror,
// while the app still names the repository it asked for. Credentials come
// from the allow-list entry only, and are sent only to the entry's own host
// (the mirror when there is one); nothing in the repository under review
// can add a repository or a credential.
package chartsrc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gitops-gate/gitops-gate/manifests"
	"github.com/gitops-gate/gitops-gate/manifests/argocd"
)

// Defaults of Options: an archive is bounded like one file of a checkout
// and its unpacked content like a checkout (gate/gitsrc), an index like
// the largest public indexes (tens of MiB).
const (
	DefaultTimeout          = 2 * time.Minute
	DefaultMaxArchiveBytes  = 32 << 20
	DefaultMaxUnpackedBytes = 256 << 20
	DefaultMaxIndexBytes    = 64 << 20
)

// ErrNotAllowed marks a repository the configuration does not list.
var ErrNotAllowed = errors.New("not allowed by the gate's configuration")

// ErrDigestMismatch marks an archive whose sha256 is not the one its
// repository's index or OCI manifest gives.
var ErrDigestMismatch = errors.New("chart archive digest mismatch")

// Options configure a Fetcher.
type Options struct {
	// CacheDir holds the unpacked charts, by archive digest.
	CacheDir string
	// Allow are the repositories charts may come from.
	Allow []Allowed
	// Timeout bounds one chart's resolution and download (default
	// DefaultTimeout).
	Timeout time.Duration
	// MaxArchiveBytes bounds a chart archive, MaxUnpackedBytes its
	// unpacked content, MaxIndexBytes a Helm repository's index.yaml.
	MaxArchiveBytes  int64
	MaxUnpackedBytes int64
	MaxIndexBytes    int64
	// Transport is the HTTP transport (default: a clone of
	// http.DefaultTransport).
	Transport http.RoundTripper
}

// Fetcher fetches allowed charts. It is safe for concurrent use.
type Fetcher struct {
	o      Options
	client *http.Client
}

var (
	_ manifests.ChartFetcher    = (*Fetcher)(nil)
	_ manifests.ArtifactFetcher = (*Fetcher)(nil)
)

// New builds a Fetcher.
func New(o Options) (*Fetcher, error) {
	if o.CacheDir == "" {
		return nil, errors.New("chartsrc: a cache directory is required")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxArchiveBytes <= 0 {
		o.MaxArchiveBytes = DefaultMaxArchiveBytes
	}
	if o.MaxUnpackedBytes <= 0 {
		o.MaxUnpackedBytes = DefaultMaxUnpackedBytes
	}
	if o.MaxIndexBytes <= 0 {
		o.MaxIndexBytes = DefaultMaxIndexBytes
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	for i, a := range o.Allow {
		if err := a.Validate(); err != nil {
			return nil, fmt.Errorf("chartsrc: allowed source %d: %w", i, err)
		}
	}
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("chartsrc: cache directory: %w", err)
	}
	return &Fetcher{o: o, client: &http.Client{Transport: o.Transport}}, nil
}

// FetchChart implements manifests.ChartFetcher.
func (f *Fetcher) FetchChart(ctx context.Context, repoURL, chart, version string) (manifests.FetchedChart, error) {
	a, ok := f.allowed(repoURL)
	if !ok {
		return manifests.FetchedChart{}, fmt.Errorf("chart repository %s is %w", repoURL, ErrNotAllowed)
	}
	if chart == "" || strings.ContainsAny(chart, "/\\") || chart == "." || chart == ".." {
		return manifests.FetchedChart{}, fmt.Errorf("chart name %q in %s: not a chart name", chart, repoURL)
	}
	ctx, cancel := context.WithTimeout(ctx, f.o.Timeout)
	defer cancel()
	var fc manifests.FetchedChart
	var err error
	if isOCI(repoURL) {
		fc, err = f.fetchOCI(ctx, a, chart, version)
	} else {
		fc, err = f.fetchHTTP(ctx, a, chart, version)
	}
	if err != nil {
		return fc, fmt.Errorf("chart %s %s from %s: %w", chart, orAny(version), a.describe(), err)
	}
	return fc, nil
}

// allowed finds the allow-list entry of repoURL.
func (f *Fetcher) allowed(repoURL string) (Allowed, bool) {
	u := normalize(repoURL)
	for _, a := range f.o.Allow {
		if normalize(a.URL) == u {
			return a, true
		}
	}
	return Allowed{}, false
}

// isOCI reports an OCI chart repository: oci://, or Argo CD's form of an
// OCI Helm repository, a host and path without a scheme (an HTTP Helm
// repository always has one).
func isOCI(repoURL string) bool {
	return strings.HasPrefix(repoURL, "oci://") || !strings.Contains(repoURL, "://")
}

// normalize is the one comparison of repository URLs the gate makes
// (argocd.NormalizeRepoURL): the allow-list must admit exactly what
// discovery let through, so the two sides cannot use different rules.
func normalize(s string) string { return argocd.NormalizeRepoURL(s) }

func orAny(v string) string {
	if v == "" {
		return "(latest)"
	}
	return v
}

// chartDir is where the chart of an archive digest is unpacked.
func (f *Fetcher) chartDir(digest, chart string) string {
	return filepath.Join(f.o.CacheDir, "sha256", strings.TrimPrefix(digest, "sha256:"), chart)
}
