// Package service runs the gate as a GitHub status check: it turns webhook
// deliveries and API requests into queued evaluations, runs workers that
// fetch the commit, render and verify it, stores the verdicts, and posts
// commit statuses through a retried outbox. Every decision is made by the
// engine in package gate; the HTTP layer (package web) only translates.
package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/argocd"
	"github.com/gitops-gate/gitops-gate/gate/cache"
	"github.com/gitops-gate/gitops-gate/gate/chartsrc"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/github"
	"github.com/gitops-gate/gitops-gate/gate/gitsrc"
	"github.com/gitops-gate/gitops-gate/gate/incremental"
	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/registry"
	"github.com/gitops-gate/gitops-gate/gate/service/config"
	"github.com/gitops-gate/gitops-gate/gate/store"
	"github.com/gitops-gate/gitops-gate/gate/trust"
	"github.com/gitops-gate/gitops-gate/gate/verify"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// Options wire a Service.
type Options struct {
	Config  *config.Config
	Store   store.Store
	GitHub  *github.Client // nil: no statuses are posted
	Fetcher *gitsrc.Fetcher
	Metrics *Metrics
	Logger  *slog.Logger
	// HelmCommand starts a child that renders one Helm chart
	// (manifests.RunHelmChild), with HelmEnv added to its environment;
	// nil renders charts in process, where a looping template cannot be
	// stopped.
	HelmCommand []string
	HelmEnv     []string
	// DemoRepo and DemoPolicy locate the demo (default: the copy of
	// testdata/repos/demo and testdata/policies/demo.yaml built into the
	// binary).
	DemoRepo, DemoPolicy string
}

// Service is the running gate.
type Service struct {
	o       Options
	cfg     *config.Config
	st      store.Store
	log     *slog.Logger
	owner   string
	wake    chan struct{}
	cache   *cache.Memory[verify.Outcome]
	mu      sync.Mutex
	engines map[string]*gate.Engine // by settings key
	demo    *gatetest.Demo
	helm    *manifests.HelmSandbox // nil: charts render in process
	charts  *chartsrc.Fetcher      // charts of allowed Helm and OCI repositories
	records records                // decoded inventory records (records.go)
}

// New checks the configuration (every configured repository's policies
// must load) and builds the service.
func New(o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	host, _ := os.Hostname()
	s := &Service{o: o, cfg: o.Config, st: o.Store, log: o.Logger, wake: make(chan struct{}, max(o.Config.Workers, 1)),
		owner:   fmt.Sprintf("%s/%d/%04x", host, os.Getpid(), rand.IntN(1<<16)),
		cache:   cache.NewMemory[verify.Outcome](50_000),
		engines: map[string]*gate.Engine{}}
	if len(o.HelmCommand) > 0 {
		s.helm = &manifests.HelmSandbox{Command: o.HelmCommand, Env: o.HelmEnv,
			Timeout: s.cfg.Limits.HelmTimeout, MemoryLimit: s.cfg.Limits.HelmMemoryBytes()}
	}
	if len(s.cfg.Sources.Allow) > 0 {
		var err error
		s.charts, err = chartsrc.New(chartsrc.Options{CacheDir: filepath.Join(s.cfg.DataDir, "cache", "charts"), Allow: s.cfg.Sources.Allow})
		if err != nil {
			return nil, fmt.Errorf("sources.allow: %w", err)
		}
	}
	for i, r := range s.cfg.Repos {
		if _, err := s.engineFor(r.Name); err != nil {
			// Name the config keys, not the CLI flags the engine's
			// errors speak of.
			if errors.Is(err, gate.ErrNoPolicy) {
				err = errors.New("no policy: set policies, identities or keys, here or under defaults")
			}
			return nil, fmt.Errorf("config: repos[%d] (%s): %w", i, r.Name, err)
		}
	}
	return s, nil
}

// manifestOptions are the configured limits on rendering a checkout of
// repoURL. The URL decides which Argo CD Applications point into the
// checkout: without it, it would be inferred from the Applications, which
// the pull request writes.
func (s *Service) manifestOptions(repoURL string) manifests.Options {
	opts := manifests.Options{RepoURL: repoURL, MaxFileSize: s.cfg.Limits.MaxFileSizeBytes(), HelmSandbox: s.helm,
		KubeVersion: s.cfg.Cluster.KubeVersion, APIVersions: s.cfg.Cluster.APIVersions,
		ArgoCDNamespace: s.cfg.Cluster.ArgoCDNamespace, AllowSources: chartsrc.URLs(s.cfg.Sources.Allow),
		Clusters: s.cfg.ArgoCD.Clusters}
	if s.charts != nil {
		opts.Charts, opts.Artifacts = s.charts, s.charts
	}
	return opts
}

func settingsKey(r config.RepoSettings) string {
	b, _ := json.Marshal(struct {
		P, I, K, G []string
		T, C       string
		U, M, S    bool
		A          string
		GA         config.GitHubAttestationSettings
	}{r.Policies, r.Identities, r.Keys, r.PolicyIgnore, r.TrustedRoot, r.TUFCache, r.TUF, r.RequireMatch != nil && *r.RequireMatch,
		r.StrictUnknownImages != nil && *r.StrictUnknownImages, r.Attestations, r.GitHubAttestations})
	return string(b)
}

// engineFor builds (once) the engine that judges a repository. Repositories
// that are not configured use the defaults when they name a policy.
func (s *Service) engineFor(repo string) (*gate.Engine, error) {
	set, ok := s.cfg.Settings(repo)
	if !ok {
		if s.demo != nil && repo == demoRepo {
			set = config.RepoSettings{Policies: []string{s.demo.PolicyPath}, TrustedRoot: s.demo.World.TrustedRootPath}
		} else {
			set = s.cfg.Defaults
		}
	}
	set = withAttestationOwner(set, repo)
	key := settingsKey(set)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.engines[key]; ok {
		return e, nil
	}
	var observe func(string, int, error)
	if s.o.Metrics != nil {
		observe = s.o.Metrics.observeRegistry
	}
	deny := s.cfg.RegistryDeny()
	if s.demo != nil && repo == demoRepo {
		// The demo's own in-process registry listens on loopback, and the
		// demo repository is the gate's own.
		deny = nil
	}
	cfg := gate.Config{
		PolicyPaths: set.Policies, PolicyIgnore: set.PolicyIgnore, Identities: set.Identities, KeyFiles: set.Keys,
		Trust: trust.Source{TrustedRootPath: set.TrustedRoot, UseTUF: set.TUF, TUFCacheDir: set.TUFCache},
		Registry: registry.Options{Timeout: s.cfg.Registry.Timeout, Retries: s.cfg.Registry.Retries, PerRegistry: s.cfg.Registry.Concurrency,
			GitHubToken: s.cfg.GitHub.Token, Observe: observe, Logger: s.log, Deny: deny},
		Cache:               s.cache,
		KyvernoVersion:      s.cfg.Cluster.KyvernoVersion,
		NamespaceLabels:     s.cfg.Cluster.NamespaceLabels,
		RequireMatch:        set.RequireMatch != nil && *set.RequireMatch,
		StrictUnknownImages: set.StrictUnknownImages != nil && *set.StrictUnknownImages,
	}
	if err := s.githubAttestations(&cfg, set, repo); err != nil {
		return nil, err
	}
	e, err := gate.NewEngine(cfg)
	if err != nil {
		return nil, err
	}
	if e.TrustErr != nil {
		s.log.Warn("trust material unavailable: images that need it will be errors", "repo", repo, "err", e.TrustErr)
	}
	s.o.Metrics.knowRegistries(policyRegistries(e.Policies))
	s.engines[key] = e
	return e, nil
}

// Engines are the engines built so far (for the policy page and readiness).
func (s *Service) Engines() []*gate.Engine {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*gate.Engine
	for _, e := range s.engines {
		out = append(out, e)
	}
	return out
}

// notify wakes the idle workers: new work usually means two jobs (the
// evaluation and its pending status), and each should start at once.
func (s *Service) notify() {
	for i := 0; i < cap(s.wake); i++ {
		select {
		case s.wake <- struct{}{}:
		default:
			return
		}
	}
}

// IntakeResult is what a webhook delivery led to.
type IntakeResult struct {
	EvaluationID string
	Duplicate    bool
	Ignored      string // why nothing was queued
}

// Intake records an authenticated delivery and queues its evaluation. A
// payload the gate cannot act on is an error wrapping ErrBadRequest (and
// github.ErrMalformed): redelivering it would not help.
func (s *Service) Intake(ctx context.Context, d *github.Delivery) (*IntakeResult, error) {
	ev, err := github.Interpret(d)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	res := &IntakeResult{Ignored: ev.Ignore}
	var spec *store.Spec
	var commentFor string
	if res.Ignored == "" {
		set, watched := s.cfg.Settings(ev.Repo)
		checkEvent := ev.Kind == "check_run" || ev.Kind == "check_suite"
		switch {
		case !watched:
			res.Ignored = "repository " + ev.Repo + " is not watched"
		case checkEvent && s.o.GitHub == nil:
			res.Ignored = "no GitHub credentials: the gate posts no check runs"
		case checkEvent:
			if spec, commentFor, res.Ignored, err = s.checkIntake(ctx, ev, set); err != nil {
				return nil, err
			}
		case ev.Kind == "push" && s.checkRuns(ev.Repo):
			// GitHub sends check_suite.requested for the same push to an
			// App with checks:write: one evaluation, from that.
			res.Ignored = "pushes are evaluated from check_suite.requested (the repository reports with check runs)"
		case ev.Kind == "push" && !contains(set.Branches, ev.Branch):
			res.Ignored = "pushes to " + ev.Branch + " are not evaluated (not in the repository's branches)"
		default:
			// The clone URL of a signed delivery is GitHub's; the fetcher
			// sends the token only to the configured GitHub's origin.
			cloneURL := ev.CloneURL
			if set.CloneURL != "" || cloneURL == "" {
				if cloneURL, err = s.cloneURL(set, ev.Repo); err != nil {
					return nil, err
				}
			}
			spec = &store.Spec{Repo: ev.Repo, CloneURL: cloneURL, PR: ev.PR, PRTitle: ev.PRTitle, SHA: ev.SHA, Ref: ev.Ref,
				Trigger: ev.Kind, InstallationID: ev.InstallationID, DeliveryID: d.ID, PRUpdatedAt: ev.UpdatedAt, BaseSHA: ev.Base}
		}
		if spec != nil && spec.CloneURL == "" {
			// A re-run or check suite: the clone URL as for a push.
			if spec.CloneURL = ev.CloneURL; set.CloneURL != "" || spec.CloneURL == "" {
				if spec.CloneURL, err = s.cloneURL(set, ev.Repo); err != nil {
					return nil, err
				}
			}
			spec.DeliveryID = d.ID
		}
	}
	in := store.Intake{DeliveryID: d.ID, Event: d.Event, Payload: d.Payload, Spec: spec}
	if spec != nil {
		in.Statuses, in.Superseded = s.pendingStatuses(spec), s.supersededStatuses(spec.Repo)
		in.Checks, in.SupersededChecks = s.pendingChecks(spec), s.supersededChecks(spec.Repo)
	} else if commentFor != "" {
		e, err := s.st.Get(ctx, commentFor)
		if err != nil {
			return nil, err
		}
		in.CommentFor, in.CommentKey = commentFor, fmt.Sprintf("%s#%d", e.Spec.Repo, e.Spec.PR)
	}
	id, dup, err := s.st.Accept(ctx, in)
	if err != nil {
		return nil, err
	}
	res.EvaluationID, res.Duplicate = id, dup
	if (spec != nil || commentFor != "") && !dup {
		s.notify()
	}
	return res, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// Request is an evaluation asked for through the API.
type Request struct {
	Repo string `json:"repo"` // owner/name of a configured repository
	// CloneURL may only repeat where the gate fetches the repository from
	// (its configured cloneURL, else the GitHub host's): API callers do
	// not choose where the gate fetches, with its token, from.
	CloneURL string   `json:"cloneUrl"`
	Revision string   `json:"revision"` // a full commit SHA
	Ref      string   `json:"ref"`      // what to fetch (default: the SHA itself)
	PR       int      `json:"pr"`       // informational: API evaluations never post statuses
	Apps     []string `json:"apps"`     // app paths to limit the evaluation to
	Trigger  string   `json:"trigger"`
	// Application, sent by the Argo CD PreSync hook, holds the
	// Application's sources and the index of the one to judge: the app
	// (the one entry of Apps, that source's path) renders with every
	// option of that source, through the code the hook's local mode uses
	// (argocd.CheckSource).
	Application *argocd.Spec `json:"application,omitempty"`
	// Full renders every app again instead of carrying over those whose
	// inputs did not change since an earlier evaluation.
	Full bool `json:"full,omitempty"`
	// Requester names the caller (set by the HTTP layer from the API
	// token, never from the body) for its quota of queued evaluations.
	Requester string `json:"-"`
}

// ErrBadRequest marks an API request the gate cannot act on.
var ErrBadRequest = errors.New("bad request")

// ErrQuota marks an API request refused because its caller has as many
// evaluations queued as its quota allows.
var ErrQuota = store.ErrQuota

// Submit queues an evaluation requested through the API. It never posts
// a commit status, never supersedes a webhook's evaluation and is never
// superseded by one; it runs after webhook work.
func (s *Service) Submit(ctx context.Context, r Request) (string, error) {
	if err := github.CheckRepo("repo", r.Repo); err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	for i, a := range r.Apps {
		if a == "" {
			r.Apps[i] = "." // Argo CD's empty path: the repository root
		}
	}
	if err := checkApps(r.Apps); err != nil {
		return "", err
	}
	if r.Trigger == "" {
		r.Trigger = "api"
	}
	switch r.Trigger {
	case "api", "argocd":
	case "demo":
		if r.Repo != demoRepo {
			return "", fmt.Errorf("%w: trigger demo is for the demo repository", ErrBadRequest)
		}
	default:
		return "", fmt.Errorf("%w: trigger %q: want api or argocd", ErrBadRequest, r.Trigger)
	}
	if r.Trigger != "demo" {
		if err := github.CheckSHA("revision", r.Revision); err != nil {
			return "", fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
	}
	if r.Ref != "" {
		if err := github.CheckRef("ref", r.Ref); err != nil {
			return "", fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
	}
	set, watched := s.cfg.Settings(r.Repo)
	if !watched && r.Repo != demoRepo && len(s.cfg.Defaults.Policies)+len(s.cfg.Defaults.Identities)+len(s.cfg.Defaults.Keys) == 0 {
		return "", fmt.Errorf("%w: repository %s is not configured", ErrBadRequest, r.Repo)
	}
	spec := &store.Spec{Repo: r.Repo, SHA: r.Revision, Ref: r.Ref, PR: r.PR, Apps: r.Apps, Trigger: r.Trigger, Requester: r.Requester, Full: r.Full}
	if r.Application != nil {
		src, err := r.Application.SourceAt(r.Application.Source)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		if len(r.Apps) != 1 || r.Apps[0] != src.AppPath() {
			return "", fmt.Errorf("%w: apps: with application, want exactly the source's path [%q]", ErrBadRequest, src.AppPath())
		}
		if spec.Application, err = json.Marshal(r.Application); err != nil {
			return "", fmt.Errorf("%w: application: %v", ErrBadRequest, err)
		}
	}
	if r.Repo == demoRepo && s.demo != nil {
		spec.Local = s.demo.RepoDir
	} else {
		u, err := s.cloneURL(set, r.Repo)
		if err != nil {
			return "", err
		}
		if r.CloneURL != "" && !sameRepoURL(r.CloneURL, u) {
			return "", fmt.Errorf("%w: cloneUrl %q is not where the gate fetches %s from (%s): the clone URL comes from the gate's configuration",
				ErrBadRequest, r.CloneURL, r.Repo, u)
		}
		spec.CloneURL = u
	}
	if spec.Local != "" && len(r.Apps) > 0 {
		// The apps of a local repository are known now: an unknown one is
		// the caller's mistake, answered at once rather than queued.
		if err := s.knownApps(ctx, spec.Local, spec.CloneURL, r.Repo, r.Apps); err != nil {
			return "", err
		}
	}
	in := store.Intake{Spec: spec}
	if r.Requester != "" {
		in.Quota = s.cfg.Limits.APIQueuedPerToken
	}
	id, _, err := s.st.Accept(ctx, in)
	if err == nil {
		s.notify()
	}
	return id, err
}

// cloneURL is where the gate fetches repo from: its configured cloneURL,
// else the repository on the configured GitHub (github.baseURL's host for
// GitHub Enterprise Server).
func (s *Service) cloneURL(set config.RepoSettings, repo string) (string, error) {
	if set.CloneURL != "" {
		return set.CloneURL, nil
	}
	return github.CloneURL(s.cfg.GitHub.BaseURL, repo)
}

// sameRepoURL compares two clone URLs as naming one repository: the same
// host and path, whatever the transport (https, ssh, scp-like
// git@host:owner/name, as Argo CD Applications often say), without a
// trailing ".git" or "/", case-insensitively as GitHub. Only the comparison uses the caller's URL: the
// gate fetches from its own.
func sameRepoURL(a, b string) bool {
	ha, pa, oka := repoLocation(a)
	hb, pb, okb := repoLocation(b)
	return oka && okb && strings.EqualFold(ha, hb) && strings.EqualFold(pa, pb)
}

// repoLocation is the host (without port or user) and path of a clone URL.
func repoLocation(raw string) (host, path string, ok bool) {
	if u, err := url.Parse(raw); err == nil && u.Host != "" && (u.Scheme == "https" || u.Scheme == "http" || u.Scheme == "ssh") {
		host, path = u.Hostname(), u.Path
	} else if at, rest, found := strings.Cut(raw, "@"); found && !strings.Contains(at, "/") {
		// scp-like: git@github.com:acme/gitops.git
		if host, path, found = strings.Cut(rest, ":"); !found {
			return "", "", false
		}
	} else {
		return "", "", false
	}
	path = strings.Trim(strings.TrimSuffix(strings.TrimSuffix(path, "/"), ".git"), "/")
	return host, path, host != "" && path != ""
}

// Get returns an evaluation.
func (s *Service) Get(ctx context.Context, id string) (*store.Evaluation, error) {
	return s.st.Get(ctx, id)
}

// List lists evaluations, newest first.
func (s *Service) List(ctx context.Context, f store.Filter) ([]*store.Evaluation, int, error) {
	return s.st.List(ctx, f)
}

// Wait polls an evaluation until it is done or max passes.
func (s *Service) Wait(ctx context.Context, id string, max time.Duration) (*store.Evaluation, error) {
	deadline := time.Now().Add(max)
	for {
		e, err := s.st.Get(ctx, id)
		if err != nil || e.Done() || time.Now().After(deadline) {
			return e, err
		}
		select {
		case <-ctx.Done():
			return e, nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// PolicyInfo is what one engine enforces, for the policy page.
type PolicyInfo struct {
	Repos      []string          `json:"repos"`
	Policies   []policy.Summary  `json:"policies"`
	Exceptions []ExceptionInfo   `json:"exceptions,omitempty"`
	Trust      trust.Description `json:"trust"`
	TrustError string            `json:"trustError,omitempty"`
}

// ExceptionInfo is a PolicyException, and whether it has expired.
type ExceptionInfo struct {
	policy.Exception
	Expired bool `json:"expired"`
}

// Policies lists the engines the service judges with: their repositories,
// policies and trust material.
func (s *Service) Policies() []PolicyInfo {
	byEngine := map[*gate.Engine][]string{}
	var order []*gate.Engine
	names := []string{}
	for _, r := range s.cfg.Repos {
		names = append(names, r.Name)
	}
	if s.demo != nil {
		names = append(names, demoRepo)
	}
	for _, n := range names {
		e, err := s.engineFor(n)
		if err != nil {
			continue
		}
		if _, ok := byEngine[e]; !ok {
			order = append(order, e)
		}
		byEngine[e] = append(byEngine[e], n)
	}
	var out []PolicyInfo
	for _, e := range order {
		pi := PolicyInfo{Repos: byEngine[e], Trust: trust.Describe(e.Trust)}
		if e.TrustErr != nil {
			pi.TrustError = e.TrustErr.Error()
		}
		for _, p := range e.Policies.Policies {
			pi.Policies = append(pi.Policies, p.Summarize())
		}
		for _, x := range e.Policies.Exceptions {
			pi.Exceptions = append(pi.Exceptions, ExceptionInfo{Exception: *x, Expired: x.Expired(time.Now())})
		}
		out = append(out, pi)
	}
	return out
}

// ImageHistory lists the evaluations that saw an image reference or digest.
func (s *Service) ImageHistory(ctx context.Context, ref string) ([]store.ImageHistory, error) {
	return s.st.ImageHistory(ctx, ref, 200)
}

// Ready reports whether the service can do its job: the store answers and
// every engine has its trust material.
func (s *Service) Ready(ctx context.Context) error {
	if err := s.st.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	// The error names trust material: the HTTP layer logs it and tells
	// anonymous callers only that the gate is not ready.
	for _, e := range s.Engines() {
		if e.TrustErr != nil {
			return fmt.Errorf("trust material: %w", e.TrustErr)
		}
	}
	return nil
}

func (s *Service) target(id string) string { return s.cfg.ExternalURL + "/evaluations/" + id }

func (s *Service) pendingStatuses(spec *store.Spec) func(string) []store.Status {
	if s.o.GitHub == nil || !spec.FromWebhook() || s.checkRuns(spec.Repo) {
		return nil
	}
	return func(id string) []store.Status {
		return []store.Status{{Repo: spec.Repo, SHA: spec.SHA, State: "pending", Context: s.cfg.GitHub.StatusContext,
			Description: "Checking that every image is signed by a trusted pipeline…", TargetURL: s.target(id), InstallationID: spec.InstallationID}}
	}
}

func (s *Service) supersededStatuses(repo string) func(*store.Evaluation, string) []store.Status {
	if s.o.GitHub == nil || s.checkRuns(repo) {
		return nil
	}
	return func(old *store.Evaluation, newID string) []store.Status {
		if !old.Spec.FromWebhook() {
			return nil // the store never supersedes these; belt and braces
		}
		return []store.Status{{Repo: old.Spec.Repo, SHA: old.Spec.SHA, State: "error", Context: s.cfg.GitHub.StatusContext,
			Description: "Superseded by a newer commit of the pull request: not evaluated", TargetURL: s.target(newID),
			InstallationID: old.Spec.InstallationID}}
	}
}

// Run works the queue until ctx ends: workers, and a retention sweep.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := 0; i < s.cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.worker(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.retention(ctx)
	}()
	wg.Wait()
	return nil
}

func (s *Service) retention(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := s.st.Prune(ctx, time.Now().Add(-s.cfg.Retention)); err != nil && ctx.Err() == nil {
			s.log.Error("retention sweep failed", "err", err)
		} else if n > 0 {
			s.log.Info("retention sweep", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) worker(ctx context.Context) {
	for ctx.Err() == nil {
		job, err := s.st.Lease(ctx, s.owner, s.cfg.Lease)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("leasing a job", "err", err)
			}
			sleep(ctx, time.Second)
			continue
		}
		if job == nil {
			select {
			case <-ctx.Done():
			case <-s.wake:
			case <-time.After(500*time.Millisecond + time.Duration(rand.IntN(250))*time.Millisecond):
			}
			continue
		}
		switch job.Kind {
		case store.JobEvaluate:
			s.evaluate(ctx, job)
		case store.JobStatus:
			s.post(ctx, job)
		case store.JobComment:
			s.comment(ctx, job)
		case store.JobCheck:
			s.checkJob(ctx, job)
		default:
			s.st.Fail(ctx, job, s.owner, "unknown job kind "+job.Kind)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// maxEvaluateAttempts bounds retries of evaluations that could not even
// start (the commit could not be fetched).
const maxEvaluateAttempts = 3

func (s *Service) evaluate(ctx context.Context, job *store.Job) {
	start := time.Now()
	ev, err := s.st.Get(ctx, job.EvaluationID)
	if err != nil {
		s.log.Error("evaluation of a job", "job", job.ID, "err", err)
		s.st.Fail(ctx, job, s.owner, err.Error())
		return
	}
	if err := s.st.Start(ctx, job, s.owner, s.startChecks(ev)...); err != nil {
		s.log.Warn("starting evaluation", "id", ev.ID, "err", err)
		return
	}
	// Keep the lease while working; losing it stops the work.
	ectx, cancel := context.WithTimeout(ctx, s.cfg.EvaluationTimeout)
	defer cancel()
	go func() {
		t := time.NewTicker(s.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ectx.Done():
				return
			case <-t.C:
				if err := s.st.Extend(ctx, job, s.owner, s.cfg.Lease); err != nil {
					s.log.Warn("lease lost: stopping evaluation", "id", ev.ID, "err", err)
					cancel()
					return
				}
			}
		}
	}()
	var release []func()
	defer func() {
		// After the result is stored (and its statuses queued): handing
		// the checkout back compares it with its snapshot, 0.1 s on a
		// monorepo, which the pull request need not wait for.
		for _, f := range release {
			f()
		}
	}()
	rep, inv, err := s.check(ectx, ev, &release)
	finish := store.Finish{Inventory: inv}
	switch {
	case err != nil && ctx.Err() != nil:
		return // shutting down: the lease expires and another worker takes over
	case err != nil && job.Attempts < maxEvaluateAttempts && ectx.Err() == nil && !isPermanent(err):
		s.log.Warn("evaluation could not start; will retry", "id", ev.ID, "attempt", job.Attempts, "err", err)
		s.st.Retry(ctx, job, s.owner, time.Now().Add(time.Duration(job.Attempts)*5*time.Second), err.Error())
		return
	case err != nil:
		finish.Inventory = nil
		finish.Result, finish.Error = string(gate.StatusError), err.Error()
		rep = &gate.Report{APIVersion: gate.APIVersion, Result: gate.StatusError}
		finish.Statuses = s.finalStatuses(ev, stateOf(gate.StatusError), github.Truncate("Could not check: "+err.Error(), 140), nil)
		finish.Checks = s.finalChecks(ev, rep, err)
	default:
		finish.Result = string(rep.Result)
		finish.Statuses = s.finalStatuses(ev, stateOf(rep.Result), Describe(rep), rep)
		finish.Checks = s.finalChecks(ev, rep, nil)
	}
	if s.proposesPins(ev) {
		finish.CommentKey = fmt.Sprintf("%s#%d", ev.Spec.Repo, ev.Spec.PR)
	}
	finish.Report, _ = json.Marshal(rep)
	finish.Summary, _ = json.Marshal(rep.Summary)
	for _, a := range rep.Apps {
		for _, im := range a.Images {
			finish.Images = append(finish.Images, store.ImageRow{App: a.Name, Image: im.Image, Normalized: im.Normalized, Digest: im.Digest, Status: string(im.Status), Reason: im.Reason})
		}
	}
	if err := s.st.FinishEvaluation(ctx, job, s.owner, finish); err != nil {
		s.log.Warn("recording the evaluation", "id", ev.ID, "err", err)
		return
	}
	s.notify()
	d := time.Since(start)
	s.log.Info("evaluation", "id", ev.ID, "repo", ev.Spec.Repo, "sha", ev.Spec.SHA, "pr", ev.Spec.PR, "trigger", ev.Spec.Trigger,
		"result", finish.Result, "images", rep.Summary.Images, "failed", rep.Summary.Failed, "errors", rep.Summary.Errors,
		"duration", d.Round(time.Millisecond).String(), "err", finish.Error)
	if m := s.o.Metrics; m != nil {
		m.Evaluations.WithLabelValues(finish.Result).Inc()
		m.Duration.WithLabelValues(finish.Result).Observe(d.Seconds())
		m.IntakeToFinal.Observe(time.Since(ev.CreatedAt).Seconds())
		for _, a := range rep.Apps {
			for _, im := range a.Images {
				m.Images.WithLabelValues(string(im.Status)).Inc()
			}
		}
	}
}

// check fetches the evaluation's commit (or uses its local directory) and
// runs the engine on it. The checkout's cleanup is added to release, for
// the caller to run once the result is stored. A whole-repository check is incremental (see
// incremental): it starts from an earlier evaluation's inventory and
// returns its own, to be stored, for the next.
func (s *Service) check(ctx context.Context, ev *store.Evaluation, release *[]func()) (*gate.Report, *store.Inventory, error) {
	eng, err := s.engineFor(ev.Spec.Repo)
	if err != nil {
		return nil, nil, err
	}
	mopts := s.manifestOptions(ev.Spec.CloneURL)
	if len(s.cfg.Sources.Allow) > 0 && s.o.Fetcher != nil {
		// Sources.Allow names the other repositories Applications may use:
		// they are fetched with the checkout's limits, for this evaluation.
		src := &gitsrc.Sources{Fetcher: s.o.Fetcher, TmpRoot: filepath.Join(s.cfg.DataDir, "checkouts")}
		for _, a := range s.cfg.Sources.Allow {
			src.Repositories = append(src.Repositories, gitsrc.Repository{URL: a.URL, Mirror: a.Mirror, Username: a.Username, Password: a.Password})
		}
		defer src.Close()
		mopts.Sources = src
	}
	// A whole-repository check starts resolving its base's images while
	// the commit is fetched.
	var inc gate.Incremental
	if !s.proposesPins(ev) && !s.offersPinsButton(ev) && len(ev.Spec.Application) == 0 {
		inc = s.base(ctx, eng, ev, mopts)
		eng.Warm(ctx, &inc)
		defer inc.Close()
	}
	dir := ev.Spec.Local
	if dir == "" {
		if s.o.Fetcher == nil {
			return nil, nil, errors.New("no git fetcher configured")
		}
		token := ""
		if s.o.GitHub != nil {
			// An API or Argo CD evaluation has no webhook installation: a
			// GitHub App looks the repository's installation up.
			if token, err = s.o.GitHub.RepoToken(ctx, ev.Spec.Repo, ev.Spec.InstallationID); err != nil {
				return nil, nil, needsAction{fmt.Errorf("GitHub token: %w", err)}
			}
		}
		var cleanup func()
		dir, cleanup, err = s.o.Fetcher.Checkout(ctx, gitsrc.Request{CloneURL: ev.Spec.CloneURL, Ref: ev.Spec.Ref, SHA: ev.Spec.SHA, Token: token},
			filepath.Join(s.cfg.DataDir, "checkouts"))
		if err != nil {
			return nil, nil, err
		}
		*release = append(*release, cleanup) // once the result is stored
	}
	if s.proposesPins(ev) || s.offersPinsButton(ev) {
		repo, plan, rep, err := eng.PlanSourcePins(ctx, dir, gate.PinOptions{Manifests: mopts})
		if err != nil {
			return nil, nil, err
		}
		// Pins are proposed only when every image passed: each edit is a
		// digest this evaluation verified.
		if rep.Result == gate.StatusPass && (len(plan.Edits) > 0 || len(plan.Skipped) > 0) {
			if rep.ProposedPins, err = gate.ProposePins(repo, plan); err != nil {
				return nil, nil, fmt.Errorf("proposing pins: %w", err)
			}
		}
		return rep, nil, nil
	}
	if len(ev.Spec.Application) > 0 {
		var app argocd.Spec
		if err := json.Unmarshal(ev.Spec.Application, &app); err != nil {
			return nil, nil, fmt.Errorf("application: %w", err)
		}
		rep, err := argocd.CheckSource(ctx, eng, dir, &app, mopts)
		return rep, nil, err
	}
	rep, rec, err := eng.CheckIncremental(ctx, dir, gate.CheckOptions{Manifests: mopts}, inc)
	if err != nil {
		return nil, nil, err
	}
	var inv *store.Inventory
	if data, err := incremental.Encode(rec); err != nil {
		s.log.Warn("encoding the inventory record; the next evaluation renders everything", "id", ev.ID, "err", err)
	} else {
		inv = &store.Inventory{Fingerprint: incremental.Digest(rec.Fingerprint), Data: data}
		s.records.put(data, rec)
	}
	if len(ev.Spec.Apps) > 0 {
		var apps []gate.AppVerdict
		for _, a := range rep.Apps {
			if contains(ev.Spec.Apps, a.Path) || contains(ev.Spec.Apps, a.Name) {
				apps = append(apps, a)
			}
		}
		// Every app asked for must be there: one left out in silence
		// would be a pass for what was never checked.
		if missing := missingApps(ev.Spec.Apps, rep.Apps); len(missing) > 0 {
			return nil, nil, permanent(fmt.Errorf("apps %s: not in %s at %s (its apps: %s)", strings.Join(missing, ", "), ev.Spec.Repo, ev.Spec.SHA, appList(rep.Apps)))
		}
		filtered := &gate.Report{APIVersion: rep.APIVersion, Apps: apps, Rendering: rep.Rendering}
		filtered.Recount()
		rep = filtered
	}
	return rep, inv, nil
}

// base finds what an evaluation starts from: the stored inventory of the
// change's base commit, else the newest of the repository under the same
// fingerprint. Without one, or when told to (incremental: false, an API
// request's full), every app is rendered.
func (s *Service) base(ctx context.Context, eng *gate.Engine, ev *store.Evaluation, mopts manifests.Options) gate.Incremental {
	if ev.Spec.Full || (s.cfg.Incremental != nil && !*s.cfg.Incremental) {
		return gate.Incremental{Full: true}
	}
	var prefer []string
	if ev.Spec.BaseSHA != "" {
		prefer = append(prefer, ev.Spec.BaseSHA)
	}
	fp := incremental.Digest(eng.Fingerprint(mopts))
	stored, err := s.st.BaseInventory(ctx, ev.Spec.Repo, fp, prefer)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("finding a base inventory; rendering every app", "id", ev.ID, "err", err)
		}
		return gate.Incremental{}
	}
	rec, err := s.records.decode(stored.Data)
	if err != nil {
		s.log.Warn("reading the base inventory; rendering every app", "id", ev.ID, "base", stored.EvaluationID, "err", err)
		return gate.Incremental{}
	}
	return gate.Incremental{Base: rec, BaseName: stored.EvaluationID, BaseCommit: stored.SHA}
}

// proposesPins says whether the evaluation's pull request gets the
// proposed-pins comment.
func (s *Service) proposesPins(ev *store.Evaluation) bool {
	return s.cfg.GitHub.ProposePins == "comment" && s.o.GitHub != nil && ev.Spec.Trigger == store.TriggerPullRequest && ev.Spec.PR > 0 && len(ev.Spec.Apps) == 0
}

// pinsMarker names the proposed-pins comment.
const pinsMarker = "gitops-gate:pins"

// comment keeps the pull request's proposed-pins comment up to date: it
// is created when every image passed and some are not pinned, and
// rewritten (never created) when a later commit has nothing to pin or
// did not pass.
func (s *Service) comment(ctx context.Context, job *store.Job) {
	if s.o.GitHub == nil {
		// Queued by a process that had credentials; this one has none.
		s.st.Complete(ctx, job, s.owner)
		return
	}
	ev, err := s.st.Get(ctx, job.EvaluationID)
	if err != nil {
		s.st.Fail(ctx, job, s.owner, err.Error())
		return
	}
	var rep gate.Report
	if len(ev.Report) > 0 {
		json.Unmarshal(ev.Report, &rep)
	}
	if ev.Result == "" {
		rep.Result = gate.StatusError
	}
	body, updateOnly := PinsComment(ev.Spec.SHA, s.target(ev.ID), &rep)
	action, err := s.o.GitHub.UpsertComment(ctx, github.Comment{Repo: ev.Spec.Repo, PR: ev.Spec.PR, InstallationID: ev.Spec.InstallationID,
		Marker: pinsMarker, Version: ev.ID, Body: body, UpdateOnly: updateOnly})
	var re *github.RetryError
	switch {
	case err == nil:
		s.st.Complete(ctx, job, s.owner)
		if action != "none" {
			s.log.Info("pins comment", "repo", ev.Spec.Repo, "pr", ev.Spec.PR, "sha", ev.Spec.SHA, "action", action)
		}
	case errors.As(err, &re) && job.Attempts < maxStatusAttempts:
		next := retryAt(job.Attempts, re)
		s.log.Warn("pins comment not written; will retry", "repo", ev.Spec.Repo, "pr", ev.Spec.PR, "attempt", job.Attempts, "err", err)
		s.st.Retry(ctx, job, s.owner, next, err.Error())
	default:
		s.log.Error("pins comment not written; giving up", "repo", ev.Spec.Repo, "pr", ev.Spec.PR, "err", err)
		s.st.Fail(ctx, job, s.owner, err.Error())
	}
}

// finalStatuses are the statuses an evaluation posts: only a signed
// webhook's evaluation posts any.
func (s *Service) finalStatuses(ev *store.Evaluation, state, description string, rep *gate.Report) []store.Status {
	if s.o.GitHub == nil || !ev.Spec.FromWebhook() || s.checkRuns(ev.Spec.Repo) {
		return nil
	}
	base := store.Status{Repo: ev.Spec.Repo, SHA: ev.Spec.SHA, Context: s.cfg.GitHub.StatusContext, TargetURL: s.target(ev.ID), InstallationID: ev.Spec.InstallationID}
	out := []store.Status{withState(base, state, description)}
	if s.cfg.GitHub.PerAppStatuses && rep != nil {
		for _, a := range rep.Apps {
			one := &gate.Report{Apps: []gate.AppVerdict{a}}
			one.Recount()
			st := withState(base, stateOf(one.Result), Describe(one))
			st.Context = s.cfg.GitHub.StatusContext + "/" + a.Name
			out = append(out, st)
		}
	}
	return out
}

func withState(s store.Status, state, description string) store.Status {
	s.State, s.Description = state, description
	return s
}

// retryAt is when a GitHub call that failed on its attempts-th try is
// tried again: exponential back-off up to ten minutes, or later when
// GitHub said when.
func retryAt(attempts int, re *github.RetryError) time.Time {
	next := time.Now().Add(min(time.Duration(1<<min(attempts, 10))*time.Second, 10*time.Minute))
	if re.After.After(next) {
		next = re.After
	}
	return next
}

// maxStatusAttempts bounds how long a status is retried (with back-off up
// to ten minutes, about two hours).
const maxStatusAttempts = 20

func (s *Service) post(ctx context.Context, job *store.Job) {
	if s.o.GitHub == nil {
		s.st.Complete(ctx, job, s.owner)
		return
	}
	m := s.o.Metrics
	if job.Attempts > 1 {
		// An earlier attempt may have posted and died before recording it.
		if done, err := s.o.GitHub.StatusPosted(ctx, *job.Status); err == nil && done {
			s.st.Complete(ctx, job, s.owner)
			s.log.Info("status already posted by an earlier attempt", "repo", job.Status.Repo, "sha", job.Status.SHA, "state", job.Status.State)
			if m != nil {
				m.StatusPosts.WithLabelValues("already-posted").Inc()
			}
			return
		}
	}
	err := s.o.GitHub.PostStatus(ctx, *job.Status)
	var re *github.RetryError
	switch {
	case err == nil:
		s.st.Complete(ctx, job, s.owner)
		s.log.Info("status posted", "repo", job.Status.Repo, "sha", job.Status.SHA, "state", job.Status.State, "context", job.Status.Context)
		if m != nil {
			m.StatusPosts.WithLabelValues("posted").Inc()
		}
	case errors.As(err, &re) && job.Attempts < maxStatusAttempts:
		next := retryAt(job.Attempts, re)
		s.log.Warn("status not posted; will retry", "repo", job.Status.Repo, "sha", job.Status.SHA, "attempt", job.Attempts, "at", next, "err", err)
		s.st.Retry(ctx, job, s.owner, next, err.Error())
		if m != nil {
			m.StatusPosts.WithLabelValues("retry").Inc()
		}
	default:
		s.log.Error("status not posted; giving up", "repo", job.Status.Repo, "sha", job.Status.SHA, "err", err)
		s.st.Fail(ctx, job, s.owner, err.Error())
		if m != nil {
			m.StatusPosts.WithLabelValues("failed").Inc()
		}
	}
}

// demoRepo names the demo's evaluations.
const demoRepo = "demo/gitops"

// StartDemo starts the in-process registry and Sigstore, pushes and signs
// the demo images, and queues an evaluation of the demo repository.
func (s *Service) StartDemo(ctx context.Context) (string, error) {
	dir := filepath.Join(s.cfg.DataDir, "demo")
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var d *gatetest.Demo
	var err error
	if s.o.DemoRepo != "" {
		d, err = gatetest.NewDemo(ctx, dir, s.o.DemoRepo, s.o.DemoPolicy)
	} else {
		d, err = gatetest.NewEmbeddedDemo(ctx, dir) // built in: works from any directory
	}
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	s.demo = d
	if _, err := s.engineFor(demoRepo); err != nil {
		return "", err
	}
	return s.Submit(ctx, Request{Repo: demoRepo, Revision: "demo0000", Trigger: "demo"})
}

// Close releases the demo.
func (s *Service) Close() {
	if s.helm != nil {
		s.helm.Close()
	}
	if s.demo != nil {
		s.demo.World.Close()
	}
}
