//go:build unix

package tree

import (
	"errors"
	"os"
	"syscall"
)

// errFollow marks a path whose last component is a symlink, or that could
// not be opened without following one.
var errFollow = errors.New("symlink")

// openNoFollow opens p for reading unless its last component is a
// symlink (O_NOFOLLOW fails with ELOOP then).
func openNoFollow(p string) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, errFollow
	}
	return f, err
}
