//go:build !unix

package main

import (
	"errors"
	"os"
)

var errLocked = errors.New("locked by another process")

// flockExclusive is a no-op where flock does not exist.
func flockExclusive(*os.File) error { return nil }
