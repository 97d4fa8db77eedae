package gitsrc

import (
	"io/fs"
	"syscall"
)

// statOf is an entry's record for the worktree snapshot.
func statOf(fi fs.FileInfo) (statRec, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return statRec{}, false
	}
	return statRec{mode: fi.Mode(), size: fi.Size(), ino: st.Ino, ctime: st.Ctim.Nano(), mtime: st.Mtim.Nano()}, true
}
