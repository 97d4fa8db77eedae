package extract

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzExtractImages feeds arbitrary YAML through the plain-manifest path
// (documents, objects, image fields). It must never panic, and every image
// field it finds is reported with its line and field path, or as an error:
// an image is never silently dropped.
func FuzzExtractImages(f *testing.F) {
	filepath.WalkDir("../../testdata/corpus", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
		return nil
	})
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n  spec:\n    containers: [{name: a, image: &i nginx}]\n    initContainers: [{name: b, image: *i}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := DecodeManifests(data, DecodeOptions{File: "fuzz.yaml", MaxNodes: 10000})
		if err != nil && !strings.Contains(err.Error(), "fuzz.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
		for i := range objs {
			for _, ref := range ExtractImages(&objs[i], nil) {
				if ref.FieldPath == "" {
					t.Fatalf("image %q without a field path", ref.Image)
				}
				if ref.Image == "" && ref.Error == "" {
					t.Fatalf("empty image at %s reported without an error", ref.FieldPath)
				}
			}
		}
	})
}
