package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/gitops-gate/gitops-gate/gate/github"
	"github.com/gitops-gate/gitops-gate/gate/gitsrc"
	"github.com/gitops-gate/gitops-gate/gate/service"
	"github.com/gitops-gate/gitops-gate/gate/service/config"
	"github.com/gitops-gate/gitops-gate/gate/store"
	"github.com/gitops-gate/gitops-gate/web"
)

func newServeCmd() *cobra.Command {
	var configPath, listen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gate as a GitHub status check, with its API and verdict pages",
		Long: `Serve listens for GitHub webhooks (pull requests and pushes to configured branches),
evaluates each commit against the gate's policies and posts a commit status; the JSON
API and the verdict pages show every evaluation. With no GitHub credentials and no
repositories configured it runs the demo: an in-process registry and Sigstore, and an
evaluation of the demo repository built into the binary (testdata/repos/demo).

Serve binds its address and takes an exclusive lock on the data directory before it
touches any state: SQLite serves one process (several belong on PostgreSQL).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(configPath)
			if err != nil {
				return &exitError{exitUsage, err}
			}
			if listen != "" {
				cfg.SetListen(listen)
			}
			return serve(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", os.Getenv("GITOPS_GATE_CONFIG"), "configuration file (docs/configuration.md)")
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen on (default :8080, or the config's)")
	return cmd
}

func newLogger(cfg *config.Config) *slog.Logger {
	level := slog.LevelInfo
	if strings.EqualFold(cfg.Log.Level, "debug") {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.Log.Format
	if format == "" {
		format = "json"
		if st, err := os.Stderr.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

func serve(ctx context.Context, cfg *config.Config) error {
	log := newLogger(cfg)
	// Bind and lock before touching any state (store, demo, git cache).
	ln, err := bindListen(cfg.Listen, cfg.Server.MaxConnections)
	if err != nil {
		return err
	}
	defer ln.Close()
	unlock, err := lockDataDir(cfg)
	if err != nil {
		return err
	}
	defer unlock()
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.Limits.MemoryBytes())
	}
	st, err := store.Open(ctx, cfg.Store.Driver, storePath(cfg))
	if err != nil {
		return &exitError{exitOperational, err}
	}
	defer st.Close()

	var gh *github.Client
	auth := github.Auth{AppID: cfg.GitHub.AppID, Token: cfg.GitHub.Token, BaseURL: cfg.GitHub.BaseURL}
	if pk := os.Getenv("GITOPS_GATE_GITHUB_PRIVATE_KEY"); pk != "" {
		auth.PrivateKey = []byte(pk)
	} else if cfg.GitHub.PrivateKeyFile != "" {
		if auth.PrivateKey, err = os.ReadFile(cfg.GitHub.PrivateKeyFile); err != nil {
			return &exitError{exitUsage, fmt.Errorf("github.privateKeyFile: %w", err)}
		}
	}
	if auth.Configured() {
		if gh, err = github.NewClient(auth, nil); err != nil {
			return &exitError{exitUsage, err}
		}
	}
	// Files the renderer will refuse by their size are not written out.
	// The GitHub token goes only to the configured GitHub's origin.
	tokenOrigin, err := github.WebOrigin(cfg.GitHub.BaseURL)
	if err != nil {
		return &exitError{exitUsage, err}
	}
	// One idle checkout per worker: a pull request's checkout then writes
	// only what it changes (gitsrc/worktree.go).
	fetcher, err := gitsrc.New(gitsrc.Options{CacheDir: filepath.Join(cfg.DataDir, "git"), PlaceholderOver: cfg.Limits.MaxFileSizeBytes(), TokenOrigin: tokenOrigin,
		IdleWorktrees: cfg.Workers})
	if err != nil {
		return &exitError{exitOperational, err}
	}
	defer fetcher.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := service.NewMetrics(reg, st)
	sopts := service.Options{Config: cfg, Store: st, GitHub: gh, Fetcher: fetcher, Metrics: metrics, Logger: log}
	if sb := helmSandbox(0, 0); sb != nil {
		sopts.HelmCommand = sb.Command
	} else {
		log.Warn("cannot find the gitops-gate binary: Helm charts render in process, without a time or memory bound")
	}
	svc, err := service.New(sopts)
	if err != nil {
		return &exitError{exitUsage, err}
	}
	defer svc.Close()
	demo := cfg.DemoMode()
	if demo {
		id, err := svc.StartDemo(ctx)
		if err != nil {
			return &exitError{exitOperational, err}
		}
		log.Info("demo mode: no GitHub configured; evaluating the demo repository", "evaluation", cfg.ExternalURL+"/evaluations/"+id)
	} else if gh == nil {
		log.Warn("no GitHub credentials: webhooks are evaluated but no commit status is posted")
	}
	if cfg.GitHub.WebhookSecret == "" {
		log.Warn("no webhook secret (github.webhookSecret or GITOPS_GATE_WEBHOOK_SECRET): every webhook is refused")
	}
	e := web.New(web.Options{Service: svc, WebhookSecret: []byte(cfg.GitHub.WebhookSecret), APITokens: cfg.APITokens,
		Demo: demo, Gatherer: reg, Metrics: metrics, Logger: log,
		BasicUser: cfg.UI.BasicAuth.Username, BasicPassword: cfg.UI.BasicAuth.Password, TrustedUserHeader: cfg.UI.TrustedUserHeader,
		TrustedProxies: cfg.TrustedProxies(), WebhookMaxBody: cfg.Server.WebhookMaxBodyBytes(), WebhookInFlight: cfg.Server.WebhookInFlightBytes()})
	srv := web.NewHTTPServer(e, web.ServerLimits{ReadTimeout: cfg.Server.ReadTimeout, WriteTimeout: cfg.Server.WriteTimeout,
		IdleTimeout: cfg.Server.IdleTimeout, MaxConnections: cfg.Server.MaxConnections})

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		svc.Run(ctx)
		close(done)
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("gitops-gate listening", "addr", cfg.Listen, "ui", cfg.ExternalURL, "version", buildVersion())
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelShutdown()
	srv.Shutdown(shutdown)
	cancel()
	<-done
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return &exitError{exitOperational, err}
	}
	return nil
}

func storePath(cfg *config.Config) string {
	if cfg.Store.DSN != "" {
		return cfg.Store.DSN
	}
	return filepath.Join(cfg.DataDir, "gitops-gate.db")
}
