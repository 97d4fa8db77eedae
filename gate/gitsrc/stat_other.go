//go:build !linux

package gitsrc

import "io/fs"

// statOf gives no record where the inode and ctime are not read: no
// worktree is reused there (see worktree.go).
func statOf(fs.FileInfo) (statRec, bool) { return statRec{}, false }
