//go:build !linux

package tree

import "os"

const openFlags = os.O_RDONLY | nonblock

// openBeneath: without openat2, os.Root confines the open instead.
func openBeneath(*os.File, string) (*os.File, error) { return nil, errNoBeneath }
