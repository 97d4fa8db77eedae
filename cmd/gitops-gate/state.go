package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/incremental"
	"github.com/gitops-gate/gitops-gate/manifests/tree"
)

// stateFlags are check's incremental evaluation: --state keeps the record
// the next check starts from; --full renders every app whatever it says.
type stateFlags struct {
	path string
	full bool
}

func (f *stateFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.path, "state", "", "incremental evaluation: start from this file's record of an earlier check (when it exists), render only the apps whose inputs changed, and write the new record to it. The file is trusted like a policy: never restore it from a cache a pull request can write")
	cmd.Flags().BoolVar(&f.full, "full", false, "render every app, ignoring the --state record (it is still written)")
}

// load reads the base record; a missing file is no base. A record inside
// the repository under review is refused: carried-over apps keep the images
// the record lists, so a pull request that could write it would choose them.
func (f *stateFlags) load(repoDir string) (gate.Incremental, error) {
	inc := gate.Incremental{Full: f.full}
	if f.path == "" {
		return inc, nil
	}
	if inside, err := within(repoDir, f.path); err != nil {
		return inc, &exitError{exitUsage, fmt.Errorf("--state %s: %w", f.path, err)}
	} else if inside {
		return inc, &exitError{exitUsage, fmt.Errorf("--state %s is inside the repository under review (%s): a pull request could write the record that decides which apps are carried over; keep it outside the checkout", f.path, repoDir)}
	}
	if f.full {
		return inc, nil
	}
	data, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return inc, nil
	}
	if err != nil {
		return inc, &exitError{exitUsage, fmt.Errorf("--state: %w", err)}
	}
	rec, err := incremental.Decode(data)
	if err != nil {
		// A record that cannot be read is no base: everything renders.
		return inc, nil
	}
	inc.Base, inc.BaseName = rec, f.path
	return inc, nil
}

// save writes the new record where the next check finds it.
func (f *stateFlags) save(rec *incremental.Record) error {
	if f.path == "" || rec == nil {
		return nil
	}
	data, err := incremental.Encode(rec)
	if err != nil {
		return err
	}
	tmp := f.path + ".tmp"
	if err := writeFile(tmp, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	return nil
}

// within reports whether path (which may not exist yet) lies in dir, after
// resolving symlinks of dir and of path's nearest existing parent.
func within(dir, path string) (bool, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false, err
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return false, err
	}
	p, err := filepath.Abs(path)
	if err != nil {
		return false, err
	}
	rest := ""
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = filepath.Join(r, rest)
			break
		}
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
	return tree.Within(filepath.Clean(root), filepath.Clean(p)), nil
}
