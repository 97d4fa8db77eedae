package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gitops-gate/gitops-gate/gate/service/config"
	"github.com/gitops-gate/gitops-gate/web"
)

// bindListen checks the listen address and binds it, before serve touches
// any state: a second serve with a port in use, or a bare port number,
// must fail without rewriting the demo or queueing an evaluation in a
// store another process is using.
func bindListen(addr string, maxConnections int) (net.Listener, error) {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		hint := ""
		if _, err := strconv.Atoi(addr); err == nil {
			hint = fmt.Sprintf("; for port %s on every interface write :%s", addr, addr)
		}
		return nil, &exitError{exitUsage, fmt.Errorf("listen %q: want [host]:port, e.g. :8080 or 127.0.0.1:8080%s", addr, hint)}
	}
	ln, err := web.Listen(addr, maxConnections)
	if err != nil {
		return nil, &exitError{exitOperational, fmt.Errorf("listen %s: %w (is another gitops-gate running?)", addr, err)}
	}
	return ln, nil
}

// lockDataDir takes an exclusive lock on the data directory (and on the
// SQLite file, wherever it is) for the life of the process. SQLite serves
// one process; replicas share a PostgreSQL store, each with its own data
// directory. The demo rewrites its files in the data directory, so demo
// mode takes the lock whatever the store.
func lockDataDir(cfg *config.Config) (release func(), err error) {
	if cfg.Store.Driver != "sqlite" && !cfg.DemoMode() {
		return func() {}, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, &exitError{exitOperational, fmt.Errorf("dataDir: %w", err)}
	}
	paths := []string{filepath.Join(cfg.DataDir, "gitops-gate.lock")}
	if cfg.Store.Driver == "sqlite" && cfg.Store.DSN != "" {
		paths = append(paths, strings.TrimPrefix(cfg.Store.DSN, "file:")+".lock")
	}
	var held []*os.File
	release = func() {
		for _, f := range held {
			f.Close() // closing the file releases the lock
		}
	}
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			release()
			return nil, &exitError{exitOperational, fmt.Errorf("locking the data directory: %w", err)}
		}
		if err := flockExclusive(f); err != nil {
			f.Close()
			release()
			owner, _ := os.ReadFile(p)
			if errors.Is(err, errLocked) {
				return nil, &exitError{exitUsage, fmt.Errorf("dataDir %s is in use by another gitops-gate (%s): SQLite serves one process; stop it, give this one another dataDir, or share a PostgreSQL store (store.driver: postgres)",
					cfg.DataDir, strings.TrimSpace(string(owner)))}
			}
			return nil, &exitError{exitOperational, fmt.Errorf("locking %s: %w", p, err)}
		}
		f.Truncate(0)
		f.WriteAt([]byte(fmt.Sprintf("pid %d\n", os.Getpid())), 0)
		held = append(held, f)
	}
	return release, nil
}
