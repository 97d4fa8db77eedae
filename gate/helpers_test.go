package gate_test

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"

	"github.com/gitops-gate/gitops-gate/gate/cache"
	"github.com/gitops-gate/gitops-gate/gate/verify"
)

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// copySignature copies the .sig manifest of from to the .sig tag of to, as
// an attacker with push access would.
func copySignature(t *testing.T, from, to name.Digest) {
	t.Helper()
	src, err := ociremote.SignatureTag(from)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := ociremote.SignatureTag(to)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dst, img); err != nil {
		t.Fatal(err)
	}
}

func newOutcomeCache() *cache.Memory[verify.Outcome] { return cache.NewMemory[verify.Outcome](100) }
