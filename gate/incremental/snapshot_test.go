package incremental_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/incremental"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// TestListingRecordedIsTheOneRendered: the listing hashes an app records
// came from discovery's listing, the files it rendered from a listing
// made later. When the checkout lost a file in between (a workspace that
// another step changes while the gate runs), the record said the directory
// held the file the app's images did not come from; once the file was
// back, with an unsigned image, the directory matched the record and the
// app was carried over without that image. A recorded listing is the one
// taken when the app renders; a checkout that does not change still
// carries the app over.
func TestListingRecordedIsTheOneRendered(t *testing.T) {
	ctx := context.Background()
	for _, changes := range []bool{true, false} {
		dir := t.TempDir()
		write := func(name, image string) {
			if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "app", name), []byte(deployment(name, image)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("a.yaml", "registry.example.com/a:1")
		write("b.yaml", "registry.example.com/unsigned:1")
		repo, err := manifests.Open(dir, manifests.Options{})
		if err != nil {
			t.Fatal(err)
		}
		inv, _, err := repo.Scan(ctx, manifests.ScanOptions{Adjust: func(*manifests.App) error {
			if changes {
				// After discovery, before rendering.
				return os.Remove(filepath.Join(dir, "app", "b.yaml"))
			}
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		rec := incremental.NewRecord(fp, inv, nil)
		write("b.yaml", "registry.example.com/unsigned:1")
		inc, _ := scan(ctx, t, dir, rec)
		full, _ := scan(ctx, t, dir, nil)
		if got, want := canonical(t, inc), canonical(t, full); !bytes.Equal(got, want) {
			t.Fatalf("checkout changed during the base evaluation: incremental inventory differs from full:\n%s", firstDiff(got, want))
		}
		if carried := inc.Apps[0].CarriedOver; carried == changes {
			t.Errorf("checkout changed %v: carried over %v", changes, carried)
		}
	}
}
