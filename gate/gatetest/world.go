package gatetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// World is a registry and a Sigstore, with the Sigstore's trusted_root.json
// written to disk the way a deployment would ship it.
type World struct {
	Registry        *Registry
	Sigstore        *Sigstore
	TrustedRootPath string
}

// NewWorld starts a registry and a fresh Sigstore for one test; both are
// cleaned up when the test ends.
func NewWorld(t testing.TB) *World {
	t.Helper()
	w, err := NewWorldIn(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// NewWorldIn is NewWorld outside a test (the demo): dir receives the
// trusted_root.json. Call Close when done.
func NewWorldIn(dir string) (*World, error) {
	ss, err := New()
	if err != nil {
		return nil, err
	}
	js, err := ss.TrustedRootJSON()
	if err != nil {
		return nil, err
	}
	p := filepath.Join(dir, "trusted_root.json")
	if err := os.WriteFile(p, js, 0o644); err != nil {
		return nil, err
	}
	return &World{Registry: NewRegistry(), Sigstore: ss, TrustedRootPath: p}, nil
}

// Close stops the registry.
func (w *World) Close() { w.Registry.Close() }

// Ref returns "host:port/repo" + suffix (":tag" or "@sha256:...").
func (w *World) Ref(repo string) string { return w.Registry.Host + "/" + repo }

// PushImage pushes a random single-platform image to repo:tag and returns
// its digest reference.
func (w *World) PushImage(ctx context.Context, repoTag string) (name.Digest, error) {
	img, err := random.Image(512, 1)
	if err != nil {
		return name.Digest{}, err
	}
	return w.write(ctx, repoTag, img)
}

// PushIndex pushes a multi-platform index of n random images to repo:tag
// and returns the index digest and the platform digests.
func (w *World) PushIndex(ctx context.Context, repoTag string, n int) (name.Digest, []name.Digest, error) {
	tag, err := name.NewTag(w.Ref(repoTag))
	if err != nil {
		return name.Digest{}, nil, err
	}
	var idx v1.ImageIndex = empty.Index
	idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	var platforms []name.Digest
	for i := 0; i < n; i++ {
		img, err := random.Image(512, 1)
		if err != nil {
			return name.Digest{}, nil, err
		}
		d, err := w.write(ctx, repoTag[:strings.LastIndex(repoTag, ":")]+fmt.Sprintf(":platform-%d", i), img)
		if err != nil {
			return name.Digest{}, nil, err
		}
		platforms = append(platforms, d)
		h, _ := img.Digest()
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Digest: h, Platform: &v1.Platform{OS: "linux", Architecture: []string{"amd64", "arm64", "s390x", "ppc64le"}[i%4]},
		}})
	}
	if err := remote.WriteIndex(tag, idx, remote.WithContext(ctx)); err != nil {
		return name.Digest{}, nil, err
	}
	h, err := idx.Digest()
	if err != nil {
		return name.Digest{}, nil, err
	}
	return tag.Context().Digest(h.String()), platforms, nil
}

func (w *World) write(ctx context.Context, repoTag string, img v1.Image) (name.Digest, error) {
	tag, err := name.NewTag(w.Ref(repoTag))
	if err != nil {
		return name.Digest{}, err
	}
	if err := remote.Write(tag, img, remote.WithContext(ctx)); err != nil {
		return name.Digest{}, err
	}
	h, err := img.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	return tag.Context().Digest(h.String()), nil
}

// PushSigned pushes n random images spread over repos repositories
// (bench/svc-00:v0, bench/svc-01:v0, ...), signs each with the default
// identity, and returns their tag references.
func (w *World) PushSigned(ctx context.Context, n, repos int) ([]string, error) {
	refs := make([]string, 0, n)
	for i := 0; i < n; i++ {
		repoTag := fmt.Sprintf("bench/svc-%02d:v%d", i%repos, i/repos)
		d, err := w.PushImage(ctx, repoTag)
		if err != nil {
			return nil, err
		}
		if err := w.Sigstore.SignImage(ctx, d, SignOptions{}); err != nil {
			return nil, err
		}
		refs = append(refs, w.Ref(repoTag))
	}
	return refs, nil
}
