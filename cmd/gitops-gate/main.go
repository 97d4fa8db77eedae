// Command gitops-gate renders the manifests of a GitOps repository, finds every
// container image they would run, and (in later commands) verifies who signed
// each one. This package only parses flags and calls the manifests and gate
// packages; decisions live there.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	tuneGC()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gitops-gate:", err)
		os.Exit(exitCode(err))
	}
}

// tuneGC trades memory for speed unless the operator chose GOGC: rendering
// allocates many short-lived YAML nodes, and at the default GOGC=100 the
// collector takes a quarter of the CPU. A soft memory limit keeps the heap
// bounded all the same (GOMEMLIMIT overrides it).
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}

// exitError carries a process exit code chosen by a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Exit codes shared by every command (documented in docs/output.md).
const (
	exitOK          = 0
	exitDenied      = 1 // the gate said no (or an app could not be rendered)
	exitUsage       = 2 // bad flags or configuration
	exitOperational = 3 // the gate could not do its job
)

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitUsage
}
