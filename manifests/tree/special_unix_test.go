//go:build unix

package tree

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSpecialFilesAreNotOpenedForReading: a named pipe in the checkout
// (a local `check` reads whatever the working tree holds) is refused
// without blocking the scan on an open that waits for a writer.
func TestSpecialFilesAreNotOpenedForReading(t *testing.T) {
	bothOpens(t, testSpecialFilesAreNotOpenedForReading)
}

func testSpecialFilesAreNotOpenedForReading(t *testing.T, newDir func(*testing.T, int64) (*Dir, string)) {
	d, root := newDir(t, 1<<10)
	pipe := filepath.Join(root, "pipe.yaml")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	if err := os.Symlink("pipe.yaml", filepath.Join(root, "to-pipe.yaml")); err != nil {
		t.Fatal(err)
	}
	names := []string{"pipe.yaml", "to-pipe.yaml"}
	// A device node (the null device's numbers) where mknod is allowed.
	if err := syscall.Mknod(filepath.Join(root, "dev.yaml"), syscall.S_IFCHR|0o644, 1<<8|3); err == nil {
		names = append(names, "dev.yaml")
	}
	d.Listed(root)
	for _, name := range names {
		done := make(chan error, 1)
		go func() {
			_, err := d.ReadFile(filepath.Join(root, name))
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(fmt.Sprint(err), "not a regular file") {
				t.Errorf("ReadFile(%s) = %v, want not a regular file", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("ReadFile(%s) blocked opening a named pipe", name)
		}
	}
}
