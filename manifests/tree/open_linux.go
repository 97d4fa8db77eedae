//go:build linux

package tree

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// openFlags open a file for reading without waiting: a named pipe or a
// device would otherwise block the open until a writer appears (a regular
// file ignores O_NONBLOCK), and without a terminal device becoming the
// process's controlling terminal.
const openFlags = os.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY

// openBeneath opens rel, relative to the directory root (an open
// descriptor), with the kernel resolving every component: a symlink is
// followed only while it stays beneath root, and an absolute one is
// refused (RESOLVE_BENEATH), so a directory swapped for a symlink between
// a listing and the open cannot lead the open out. One system call.
// errNoBeneath: the kernel cannot (no openat2, or a seccomp filter
// refuses it).
func openBeneath(root *os.File, rel string) (*os.File, error) {
	fd, err := unix.Openat2(int(root.Fd()), rel, &unix.OpenHow{
		Flags:   uint64(openFlags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	})
	switch {
	case err == nil:
		return os.NewFile(uintptr(fd), rel), nil
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM), errors.Is(err, unix.EINVAL), errors.Is(err, unix.E2BIG):
		return nil, errNoBeneath
	case errors.Is(err, unix.EXDEV), errors.Is(err, unix.ELOOP), errors.Is(err, unix.EAGAIN):
		return nil, errLeaves
	}
	return nil, &os.PathError{Op: "open", Path: rel, Err: err}
}
