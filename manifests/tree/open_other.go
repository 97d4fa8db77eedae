//go:build !unix

package tree

import (
	"errors"
	"os"
)

var errFollow = errors.New("symlink")

// openNoFollow always defers to the full resolution where O_NOFOLLOW is
// not available.
func openNoFollow(string) (*os.File, error) { return nil, errFollow }
