package chartsrc

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitops-gate/gitops-gate/manifests"
)

// OCI artifacts as Application sources (Argo CD 3.1+): `repoURL:
// oci://host/repo` without `chart:`. Argo CD resolves targetRevision to a
// manifest digest (a digest as it is, a tag, else a semver constraint over
// the tags), takes the manifest's one content layer — a layer whose media
// type ends in "tar+gzip" or "tar" — refuses it unless its media type is
// one of the accepted ones, unpacks it, and renders the source's path in it
// as any directory (util/oci/client.go, reposerver/repository/repository.go).

// Layer media types Argo CD accepts by default
// (ARGOCD_REPO_SERVER_OCI_LAYER_MEDIA_TYPES).
const (
	ociImageLayer = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// maxArtifactLayers is Argo CD's guard on the number of layers.
const maxArtifactLayers = 10

// FetchArtifact implements manifests.ArtifactFetcher: it resolves revision
// of the OCI artifact repository repoURL (oci://host/path), which the
// configuration must allow, and returns its unpacked content (for a Helm
// chart layer, the files of its one top-level directory, as Argo CD moves
// them), the tag and the manifest digest.
func (f *Fetcher) FetchArtifact(ctx context.Context, repoURL, revision string) (manifests.FetchedArtifact, error) {
	a, ok := f.allowed(repoURL)
	if !ok {
		return manifests.FetchedArtifact{}, fmt.Errorf("OCI repository %s is %w", repoURL, ErrNotAllowed)
	}
	if !strings.HasPrefix(repoURL, "oci://") {
		return manifests.FetchedArtifact{}, fmt.Errorf("OCI artifact %s: want an oci:// repository URL", repoURL)
	}
	ctx, cancel := context.WithTimeout(ctx, f.o.Timeout)
	defer cancel()
	art, err := f.fetchArtifact(ctx, a, revision)
	if err != nil {
		return manifests.FetchedArtifact{}, fmt.Errorf("OCI artifact %s at %q (from %s): %w", repoURL, revision, a.describe(), err)
	}
	return art, nil
}

func (f *Fetcher) fetchArtifact(ctx context.Context, a Allowed, revision string) (manifests.FetchedArtifact, error) {
	repo, err := name.NewRepository(strings.TrimSuffix(strings.TrimPrefix(a.fetchURL(), "oci://"), "/"))
	if err != nil {
		return manifests.FetchedArtifact{}, fmt.Errorf("OCI repository: %w", err)
	}
	auth := authn.Anonymous
	if a.Username != "" {
		auth = authn.FromConfig(authn.AuthConfig{Username: a.Username, Password: a.Password})
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(f.o.Transport)}

	desc, tag, err := resolveArtifact(repo, revision, opts)
	if err != nil {
		return manifests.FetchedArtifact{}, err
	}
	art := manifests.FetchedArtifact{Tag: tag, Digest: desc.Digest.String()}
	if desc.MediaType.IsIndex() {
		return manifests.FetchedArtifact{}, fmt.Errorf("%s is an image index, not an artifact manifest with one content layer", art.Digest)
	}
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return manifests.FetchedArtifact{}, fmt.Errorf("manifest %s: %w", art.Digest, err)
	}
	layer, err := contentLayer(m)
	if err != nil {
		return manifests.FetchedArtifact{}, fmt.Errorf("manifest %s: %w", art.Digest, err)
	}
	layerDigest := layer.Digest.String()
	if layer.Digest.Algorithm != "sha256" || !isHex64(layer.Digest.Hex) {
		return manifests.FetchedArtifact{}, fmt.Errorf("manifest %s: content layer digest %s is not a sha256 digest", art.Digest, layerDigest)
	}
	if layer.Size > f.o.MaxArchiveBytes {
		return manifests.FetchedArtifact{}, fmt.Errorf("content layer of %d bytes is more than the limit of %d", layer.Size, f.o.MaxArchiveBytes)
	}
	chart := string(layer.MediaType) == helmChartLayer
	final := f.artifactDir(layer.Digest.Hex, chart)
	if dir, ok := artifactRoot(final, chart); ok {
		art.Dir = dir
		return art, nil
	}
	blob, err := remote.Layer(repo.Digest(layerDigest), opts...)
	if err != nil {
		return manifests.FetchedArtifact{}, fmt.Errorf("content layer: %w", err)
	}
	rc, err := blob.Compressed()
	if err != nil {
		return manifests.FetchedArtifact{}, fmt.Errorf("content layer: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, f.o.MaxArchiveBytes+1))
	rc.Close()
	if err != nil {
		return manifests.FetchedArtifact{}, fmt.Errorf("content layer: %w", err)
	}
	if int64(len(data)) > f.o.MaxArchiveBytes {
		return manifests.FetchedArtifact{}, fmt.Errorf("content layer is more than the limit of %d bytes", f.o.MaxArchiveBytes)
	}
	if got := sha256Digest(data); got != layerDigest {
		return manifests.FetchedArtifact{}, fmt.Errorf("content layer has %s, the manifest says %s: %w", got, layerDigest, ErrDigestMismatch)
	}
	if art.Dir, err = f.storeArtifact(data, string(layer.MediaType), final, chart); err != nil {
		return manifests.FetchedArtifact{}, fmt.Errorf("content layer %s: %w", layerDigest, err)
	}
	return art, nil
}

// resolveArtifact finds the manifest a revision names, as Argo CD's
// ResolveRevision does: a digest is fetched as it is; anything else is
// first a tag ("+" written "_", as for Helm charts), and only when no such
// tag exists and the revision is a semver constraint, the highest tag that
// satisfies it.
func resolveArtifact(repo name.Repository, revision string, opts []remote.Option) (*remote.Descriptor, string, error) {
	revision = strings.TrimSpace(revision)
	switch {
	case revision == "" || revision == "HEAD":
		return nil, "", fmt.Errorf("targetRevision %q: an OCI source needs a tag, a digest or a semver constraint", revision)
	case strings.HasPrefix(revision, "sha256:"):
		if !isHex64(strings.TrimPrefix(revision, "sha256:")) {
			return nil, "", fmt.Errorf("targetRevision %q is not a sha256 digest", revision)
		}
		desc, err := remote.Get(repo.Digest(revision), opts...)
		if err != nil {
			return nil, "", fmt.Errorf("digest %s: %w", revision, err)
		}
		return desc, "", nil
	}
	tag := strings.ReplaceAll(revision, "+", "_")
	var tagErr error
	if t, err := name.NewTag(repo.String()+":"+tag, name.StrictValidation); err == nil {
		desc, err := remote.Get(t, opts...)
		if err == nil {
			return desc, revision, nil
		}
		tagErr = fmt.Errorf("tag %s: %w", tag, err)
	}
	if _, err := semver.NewConstraint(revision); err != nil {
		if tagErr == nil {
			tagErr = fmt.Errorf("targetRevision %q is neither a tag, a digest nor a semver constraint", revision)
		}
		return nil, "", tagErr
	}
	tags, err := remote.List(repo, opts...)
	if err != nil {
		return nil, "", errors.Join(tagErr, fmt.Errorf("listing the tags of %s: %w", repo, err))
	}
	versions := make([]string, 0, len(tags))
	for _, t := range tags {
		versions = append(versions, strings.ReplaceAll(t, "_", "+"))
	}
	chosen, err := pickVersion(versions, revision)
	if err != nil {
		return nil, "", errors.Join(tagErr, err)
	}
	desc, err := remote.Get(repo.Tag(strings.ReplaceAll(chosen, "+", "_")), opts...)
	if err != nil {
		return nil, "", fmt.Errorf("tag %s: %w", chosen, err)
	}
	return desc, chosen, nil
}

// contentLayer is the manifest's one content layer (util/oci/client.go's
// Extract): at most ten layers; layers of other types (provenance,
// attestations) are passed over; a content layer of a type Argo CD does
// not accept is refused, and so is a manifest with none or several.
func contentLayer(m *v1.Manifest) (v1.Descriptor, error) {
	if len(m.Layers) > maxArtifactLayers {
		return v1.Descriptor{}, fmt.Errorf("%d layers: Argo CD accepts no more than %d", len(m.Layers), maxArtifactLayers)
	}
	var found []v1.Descriptor
	for _, l := range m.Layers {
		mt := string(l.MediaType)
		if !strings.HasSuffix(mt, "tar+gzip") && !strings.HasSuffix(mt, "tar") {
			continue
		}
		if mt != ociImageLayer && mt != helmChartLayer {
			return v1.Descriptor{}, fmt.Errorf("layer media type %s is not one Argo CD accepts (%s, %s)", mt, ociImageLayer, helmChartLayer)
		}
		found = append(found, l)
	}
	if len(found) != 1 {
		return v1.Descriptor{}, fmt.Errorf("want exactly one content layer (%s or %s), found %d", ociImageLayer, helmChartLayer, len(found))
	}
	return found[0], nil
}

// artifactDir is where a content layer is unpacked: addressed by its
// digest, and by whether it was unpacked as a Helm chart.
func (f *Fetcher) artifactDir(hex string, chart bool) string {
	d := filepath.Join(f.o.CacheDir, "artifacts", "sha256", hex)
	if chart {
		d += ".chart"
	}
	return d
}

// artifactRoot is the content root of an unpacked layer in the cache: the
// directory itself, or for a Helm chart its one subdirectory.
func artifactRoot(final string, chart bool) (string, bool) {
	if st, err := os.Stat(final); err != nil || !st.IsDir() {
		return "", false
	}
	if !chart {
		return final, true
	}
	entries, err := os.ReadDir(final)
	if err != nil || len(entries) != 1 || !entries[0].IsDir() {
		return "", false
	}
	return filepath.Join(final, entries[0].Name()), true
}

// storeArtifact unpacks a verified content layer into the cache. The
// directory appears whole or not at all (it is renamed into place).
func (f *Fetcher) storeArtifact(data []byte, mediaType, final string, chart bool) (string, error) {
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), ".unpack-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	var r io.Reader = bytes.NewReader(data)
	if strings.HasSuffix(mediaType, "tar+gzip") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return "", fmt.Errorf("layer: %w", err)
		}
		r = zr
	}
	if err := extractTar(tar.NewReader(r), tmp, f.o.MaxUnpackedBytes, nil); err != nil {
		return "", fmt.Errorf("layer: %w", err)
	}
	if chart {
		// Argo CD moves a chart's one directory to the root.
		entries, err := os.ReadDir(tmp)
		if err != nil {
			return "", err
		}
		if len(entries) != 1 || !entries[0].IsDir() {
			return "", fmt.Errorf("a Helm chart layer holds one directory, this one %d entries", len(entries))
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if dir, ok := artifactRoot(final, chart); ok { // a concurrent fetch won
			return dir, nil
		}
		return "", err
	}
	dir, ok := artifactRoot(final, chart)
	if !ok {
		return "", fmt.Errorf("unpacked layer at %s is incomplete", final)
	}
	return dir, nil
}
