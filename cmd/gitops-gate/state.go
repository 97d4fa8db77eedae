package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/incremental"
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

// load reads the base record; a missing file is no base.
func (f *stateFlags) load() (gate.Incremental, error) {
	inc := gate.Incremental{Full: f.full}
	if f.path == "" || f.full {
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
