package chartsrc

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitops-gate/gitops-gate/manifests"
)

// helmChartLayer is the media type of a chart archive in an OCI artifact
// (helm.sh/helm/v3/pkg/registry.ChartLayerMediaType).
const helmChartLayer = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

// fetchOCI fetches a chart pushed to an OCI registry (`helm push`): the
// repository is <registry path>/<chart>, a version is a tag (with "+"
// written "_", as Helm does), and the archive is the manifest's chart
// layer, checked against the layer's digest.
func (f *Fetcher) fetchOCI(ctx context.Context, a Allowed, chart, version string) (manifests.FetchedChart, error) {
	base := strings.TrimSuffix(strings.TrimPrefix(a.fetchURL(), "oci://"), "/")
	repo, err := name.NewRepository(base + "/" + chart)
	if err != nil {
		return manifests.FetchedChart{}, fmt.Errorf("OCI repository: %w", err)
	}
	auth := authn.Anonymous
	if a.Username != "" {
		auth = authn.FromConfig(authn.AuthConfig{Username: a.Username, Password: a.Password})
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(f.o.Transport)}

	tag := strings.ReplaceAll(version, "+", "_")
	if version == "" || strings.ContainsAny(version, "<>=~^*|, xX") {
		tags, err := remote.List(repo, opts...)
		if err != nil {
			return manifests.FetchedChart{}, fmt.Errorf("listing the tags of %s: %w", repo, err)
		}
		versions := make([]string, 0, len(tags))
		for _, t := range tags {
			versions = append(versions, strings.ReplaceAll(t, "_", "+"))
		}
		chosen, err := pickVersion(versions, version)
		if err != nil {
			return manifests.FetchedChart{}, err
		}
		version, tag = chosen, strings.ReplaceAll(chosen, "+", "_")
	}
	desc, err := remote.Get(repo.Tag(tag), opts...)
	if err != nil {
		return manifests.FetchedChart{}, fmt.Errorf("version %s: %w", version, err)
	}
	img, err := desc.Image()
	if err != nil {
		return manifests.FetchedChart{}, fmt.Errorf("version %s: %w", version, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return manifests.FetchedChart{}, fmt.Errorf("version %s: %w", version, err)
	}
	var found bool
	var li int
	for i, l := range m.Layers {
		if string(l.MediaType) == helmChartLayer {
			if found {
				return manifests.FetchedChart{}, fmt.Errorf("version %s: the manifest has more than one chart layer", version)
			}
			found, li = true, i
		}
	}
	if !found {
		return manifests.FetchedChart{}, fmt.Errorf("version %s: %s is not a Helm chart (no layer of type %s)", version, repo.Tag(tag), helmChartLayer)
	}
	ld := m.Layers[li]
	if ld.Size > f.o.MaxArchiveBytes {
		return manifests.FetchedChart{}, fmt.Errorf("version %s: chart layer of %d bytes is more than the limit of %d", version, ld.Size, f.o.MaxArchiveBytes)
	}
	digest := ld.Digest.String()
	if dir, ok := f.cached(digest, chart); ok {
		return manifests.FetchedChart{Dir: dir, Version: version, Digest: digest}, nil
	}
	blob, err := remote.Layer(repo.Digest(digest), opts...)
	if err != nil {
		return manifests.FetchedChart{}, fmt.Errorf("version %s: chart layer: %w", version, err)
	}
	rc, err := blob.Compressed()
	if err != nil {
		return manifests.FetchedChart{}, fmt.Errorf("version %s: chart layer: %w", version, err)
	}
	archive, err := io.ReadAll(io.LimitReader(rc, f.o.MaxArchiveBytes+1))
	rc.Close()
	if err != nil {
		return manifests.FetchedChart{}, fmt.Errorf("version %s: chart layer: %w", version, err)
	}
	if int64(len(archive)) > f.o.MaxArchiveBytes {
		return manifests.FetchedChart{}, fmt.Errorf("version %s: chart layer is more than the limit of %d bytes", version, f.o.MaxArchiveBytes)
	}
	if got := sha256Digest(archive); got != digest {
		return manifests.FetchedChart{}, fmt.Errorf("version %s: chart layer has %s, the manifest says %s: %w", version, got, digest, ErrDigestMismatch)
	}
	dir, err := f.store(archive, digest, chart, version)
	if err != nil {
		return manifests.FetchedChart{}, fmt.Errorf("version %s: %w", version, err)
	}
	return manifests.FetchedChart{Dir: dir, Version: version, Digest: digest}, nil
}
