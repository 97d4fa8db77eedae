package chartsrc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitops-gate/gitops-gate/manifests"
)

// fetchHTTP fetches a chart of a Helm repository served over HTTP: its
// index.yaml gives the versions and each archive's URL and digest.
func (f *Fetcher) fetchHTTP(ctx context.Context, a Allowed, chart, version string) (manifests.FetchedChart, error) {
	base := strings.TrimSuffix(a.fetchURL(), "/")
	data, err := f.get(ctx, a, base+"/index.yaml", f.o.MaxIndexBytes)
	if err != nil {
		return manifests.FetchedChart{}, fmt.Errorf("index: %w", err)
	}
	var index indexFile
	if err := sigsyaml.Unmarshal(data, &index); err != nil {
		return manifests.FetchedChart{}, fmt.Errorf("index.yaml: %w", err)
	}
	entries := index.Entries[chart]
	if len(entries) == 0 {
		return manifests.FetchedChart{}, fmt.Errorf("the repository's index has no chart %q", chart)
	}
	versions := make([]string, 0, len(entries))
	for _, e := range entries {
		if e != nil {
			versions = append(versions, e.Version)
		}
	}
	chosen, err := pickVersion(versions, version)
	if err != nil {
		return manifests.FetchedChart{}, err
	}
	var cv *indexEntry
	for _, e := range entries {
		if e != nil && e.Version == chosen {
			cv = e
			break
		}
	}
	if len(cv.URLs) == 0 {
		return manifests.FetchedChart{}, fmt.Errorf("version %s: the index gives no URL", chosen)
	}
	digest := strings.TrimPrefix(strings.ToLower(cv.Digest), "sha256:")
	if !isHex64(digest) {
		// Without a digest nothing ties the archive to the index: refuse.
		return manifests.FetchedChart{}, fmt.Errorf("version %s: the index entry has no sha256 digest, so the archive cannot be verified", chosen)
	}
	digest = "sha256:" + digest
	if dir, ok := f.cached(digest, chart); ok {
		return manifests.FetchedChart{Dir: dir, Version: chosen, Digest: digest}, nil
	}
	archiveURL, err := chartURL(a, base, cv.URLs[0])
	if err != nil {
		return manifests.FetchedChart{}, fmt.Errorf("version %s: %w", chosen, err)
	}
	archive, err := f.get(ctx, a, archiveURL, f.o.MaxArchiveBytes)
	if err != nil {
		return manifests.FetchedChart{}, fmt.Errorf("version %s: %w", chosen, err)
	}
	if got := sha256Digest(archive); got != digest {
		return manifests.FetchedChart{}, fmt.Errorf("version %s: %s has %s, the index says %s: %w", chosen, redactURL(archiveURL), got, digest, ErrDigestMismatch)
	}
	dir, err := f.store(archive, digest, chart, chosen)
	if err != nil {
		return manifests.FetchedChart{}, fmt.Errorf("version %s: %w", chosen, err)
	}
	return manifests.FetchedChart{Dir: dir, Version: chosen, Digest: digest}, nil
}

// indexFile is the part of a Helm repository's index.yaml the fetcher
// reads (helm.sh/helm/v3/pkg/repo.IndexFile; that package would bring
// kubectl's dependencies with it).
type indexFile struct {
	APIVersion string                   `json:"apiVersion"`
	Entries    map[string][]*indexEntry `json:"entries"`
}

type indexEntry struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	URLs    []string `json:"urls"`
	Digest  string   `json:"digest"`
}

// chartURL resolves an index entry's URL against the repository (Helm's
// ResolveReferenceURL). An absolute URL under the repository's own URL is
// moved to the mirror, since an air-gapped gate cannot reach the original.
func chartURL(a Allowed, base, ref string) (string, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("chart URL %q: %w", ref, err)
	}
	if u.IsAbs() {
		if u.Scheme != "http" && u.Scheme != "https" {
			return "", fmt.Errorf("chart URL %q: want http or https", redactURL(ref))
		}
		orig := strings.TrimSuffix(a.URL, "/") + "/"
		if a.Mirror != "" && strings.HasPrefix(ref, orig) {
			return base + "/" + strings.TrimPrefix(ref, orig), nil
		}
		return ref, nil
	}
	b, err := url.Parse(base + "/")
	if err != nil {
		return "", err
	}
	return b.ResolveReference(u).String(), nil
}

// get fetches a URL with the entry's credentials (only to the host charts
// are fetched from) and at most max bytes.
func (f *Fetcher) get(ctx context.Context, a Allowed, target string, max int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	if a.Username != "" && sameHost(target, a.fetchURL()) {
		req.SetBasicAuth(a.Username, a.Password)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redactURL(target), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", redactURL(target), resp.Status)
	}
	if resp.ContentLength > max {
		return nil, fmt.Errorf("GET %s: %d bytes is more than the limit of %d", redactURL(target), resp.ContentLength, max)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redactURL(target), err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("GET %s: more than the limit of %d bytes", redactURL(target), max)
	}
	return data, nil
}

func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Scheme == ub.Scheme && strings.EqualFold(ua.Host, ub.Host)
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
