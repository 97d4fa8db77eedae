// Package testdata holds the fixtures of the tests, and embeds the one the
// binary ships: the demo repository and its policy, so that `serve` and
// `demo` work from any directory and in the container image.
package testdata

import (
	"embed"
	"io/fs"
)

//go:embed all:repos/demo
var demo embed.FS

// DemoPolicy is testdata/policies/demo.yaml: REGISTRY stands for the demo
// registry's address.
//
//go:embed policies/demo.yaml
var DemoPolicy []byte

// DemoRepo is testdata/repos/demo, the demo GitOps repository.
func DemoRepo() fs.FS {
	sub, err := fs.Sub(demo, "repos/demo")
	if err != nil {
		panic(err) // the embedded path is a constant: unreachable
	}
	return sub
}
