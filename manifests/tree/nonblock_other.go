//go:build !unix

package tree

const nonblock = 0
