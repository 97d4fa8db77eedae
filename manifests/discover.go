package manifests

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/gitops-gate/gitops-gate/manifests/argocd"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	yaml "go.yaml.in/yaml/v3"
)

// Discover lists the apps of the repository, following the rules of
// docs/apps.md: every Argo CD Application in the tree, each of its sources
// an app; then the apps .gitops-gate.yaml lists when it lists any, else
// every directory the layout says is an app (a top kustomization, a Helm
// chart, a directory of plain manifests) that no Application already
// covers. The repository's configuration may add apps; it never removes an
// Application from the scan.
//
// An app that is known not to be renderable is returned with Err set; the
// error return is for a repository that cannot be read at all, or a
// .gitops-gate.yaml that is invalid.
func (r *Repo) Discover(ctx context.Context) ([]App, error) {
	cfg, err := r.loadConfig()
	if err != nil {
		return nil, err
	}
	var configured []App
	if cfg != nil && len(cfg.Apps) > 0 {
		if configured, err = cfg.apps(r); err != nil {
			return nil, err
		}
	}
	lay, err := r.scanLayout(ctx)
	if err != nil {
		return nil, err
	}
	fallback := lay.apps(r)

	// Applications: in plain files, and in the output of apps (app-of-apps
	// charts or kustomizations) whose files mention them.
	var argoApps []*argocd.Application
	var appErrs []App
	var appSets []*Resource
	collect := func(resources []Resource) {
		for i := range resources {
			res := &resources[i]
			if res.Kind == "ApplicationSet" && strings.HasPrefix(res.APIVersion, "argoproj.io/") {
				appSets = append(appSets, res)
				continue
			}
			if res.Kind != "Application" || !strings.HasPrefix(res.APIVersion, "argoproj.io/") {
				continue
			}
			a, err := argocd.Parse(res)
			if err != nil {
				appErrs = append(appErrs, App{Name: res.Name, Path: ".", Kind: KindPlain,
					DefinedIn: fmt.Sprintf("%s:%d", res.File, res.Line),
					Err:       fmt.Errorf("Application %s in %s: %w", res.Name, res.File, err)})
				continue
			}
			a.Instance = a.InstanceName(r.opts.ArgoCDNamespace)
			argoApps = append(argoApps, a)
		}
	}
	for _, f := range lay.applicationFiles {
		res, _ := r.readManifests(f) // parse errors are reported when the app renders
		collect(res)
	}
	for _, app := range fallback {
		if app.Kind != KindPlain && lay.mentionsApplication[app.Path] {
			rd := r.Render(ctx, app)
			collect(rd.Resources)
			r.prerendered.Store(app.Path, rd)
		}
	}

	exists := func(p string) bool {
		abs, err := r.abs(p)
		if err != nil {
			return false
		}
		st, err := os.Stat(abs)
		return err == nil && st.IsDir()
	}
	repoURL := argocd.NormalizeRepoURL(r.opts.RepoURL)
	if repoURL == "" {
		repoURL = argocd.NormalizeRepoURL(gitOriginURL(r.root))
	}
	if repoURL == "" {
		repoURL = argocd.InferRepoURL(argoApps, exists)
	}
	// ApplicationSets: their Applications are discovered like written ones.
	generated, genErrs := r.expandApplicationSets(ctx, appSets, repoURL)
	if repoURL == "" && len(generated) > 0 {
		// Generated Applications vote like written ones; git generators
		// then read the checkout under the inferred URL.
		if repoURL = argocd.InferRepoURL(append(argoApps, generated...), exists); repoURL != "" {
			generated, genErrs = r.expandApplicationSets(ctx, appSets, repoURL)
		}
	}
	argoApps = append(argoApps, generated...)
	appErrs = append(appErrs, genErrs...)
	covered := map[string]bool{}
	var apps []App
	for _, a := range argoApps {
		first := len(apps)
		if len(a.Sources) == 0 && a.Err == nil {
			a.Err = errors.New("no spec.source or spec.sources")
		}
		if a.Err != nil {
			apps = append(apps, a.ToApp(0, argocd.Source{}))
			apps[len(apps)-1].GeneratedBy = a.GeneratedBy
			continue
		}
		for i, s := range a.Sources {
			app, skip := r.sourceApp(ctx, a, i, s, repoURL)
			if skip {
				continue
			}
			r.resolveValueSources(ctx, a, i, s, repoURL, &app)
			if app.Remote == nil {
				covered[app.Path] = true
			}
			apps = append(apps, app)
		}
		for k := first; k < len(apps); k++ {
			apps[k].GeneratedBy = a.GeneratedBy
		}
	}
	apps = append(apps, appErrs...)
	if configured != nil {
		apps = append(apps, configured...)
	} else {
		for _, app := range fallback {
			if !covered[app.Path] {
				apps = append(apps, app)
			}
		}
	}
	sort.SliceStable(apps, func(i, j int) bool {
		if apps[i].Path != apps[j].Path {
			return apps[i].Path < apps[j].Path
		}
		return apps[i].Name < apps[j].Name
	})
	return uniqueNames(apps), nil
}

// sourceApp turns source i of Application a into an app, as Argo CD
// renders it; skip is true for a source that renders nothing.
func (r *Repo) sourceApp(ctx context.Context, a *argocd.Application, i int, s argocd.Source, repoURL string) (app App, skip bool) {
	field := a.SourceField(i)
	fail := func(err error) App {
		app := App{Name: a.Name, Path: argocd.CleanPath(s.Path), Kind: KindPlain, DefinedIn: a.Where(), Err: err}
		if a.Multi {
			app.Name = fmt.Sprintf("%s[%d]", a.Name, i)
		}
		return app
	}
	switch {
	case a.Multi && s.Path == "" && s.Chart == "":
		// Argo CD renders nothing for a source of a multi-source
		// Application with neither path nor chart, a values-only `ref:`
		// source among them (GenerateManifest and its operation in
		// reposerver/repository/repository.go).
		return App{}, true
	case s.Chart != "" && s.IsOCI():
		// Argo CD up to 3.0 reads this as the Helm chart host/path/chart;
		// 3.1+ tests IsOCI before IsHelm (runRepoOperation in
		// reposerver/repository/repository.go) and syncs the artifact
		// host/path itself, ignoring chart. The gate cannot know which
		// content the cluster runs, so it judges neither.
		app := fail(fmt.Errorf("Application %s (%s): %s: repoURL %s with chart %q is read two ways: Argo CD 3.1+ fetches the OCI artifact %s and ignores chart, earlier versions fetch the Helm chart %s/%s; write a Helm OCI chart as repoURL %s (no oci://) with chart, or an OCI artifact without chart",
			a.Name, a.Where(), field, s.RepoURL, s.Chart, s.RepoURL, strings.TrimSuffix(s.RepoURL, "/"), s.Chart, strings.TrimPrefix(s.RepoURL, "oci://")))
		app.Kind = KindHelm
		return app, false
	case s.Chart != "" || s.IsOCI():
		what := fmt.Sprintf("Helm chart %q from %s", s.Chart, s.RepoURL)
		if s.Chart == "" {
			what = "OCI artifact " + s.RepoURL
		}
		if r.sourceAllowed(s.RepoURL) {
			if s.Chart != "" {
				return r.chartSourceApp(ctx, a, i, s, fail), false
			}
			return r.artifactSourceApp(ctx, a, i, s, fail), false
		}
		app := fail(fmt.Errorf("Application %s (%s): %s: %s is not in this repository and the gate's configuration does not allow this source (--allow-source), so its images cannot be checked: %w",
			a.Name, a.Where(), field, what, ErrUnsupported))
		app.Kind = KindHelm
		if s.Chart == "" {
			app.Kind = KindPlain
		}
		return app, false
	case argocd.NormalizeRepoURL(s.RepoURL) != repoURL:
		if !r.sourceAllowed(s.RepoURL) {
			return fail(fmt.Errorf("Application %s (%s): %s: repository %s is not this repository (%s) and the gate's configuration does not allow it (--allow-source), so its images cannot be checked: %w",
				a.Name, a.Where(), field, s.RepoURL, orUnknown(repoURL), ErrUnsupported)), false
		}
		rr, err := r.remote(ctx, s.RepoURL, s.TargetRevision)
		if err != nil {
			return fail(fmt.Errorf("Application %s (%s): %s: allowed source %s at %q: %w", a.Name, a.Where(), field, s.RepoURL, orHEAD(s.TargetRevision), err)), false
		}
		app := rr.repo.argoSourceApp(a, i, s)
		app.Remote = &RemoteSource{RepoURL: s.RepoURL, Revision: s.TargetRevision, Commit: rr.commit}
		return app, false
	}
	if !r.isThisRevision(s.TargetRevision) {
		// This repository, but not the commit under review: Argo CD syncs
		// what that revision holds.
		rr, err := r.remote(ctx, s.RepoURL, s.TargetRevision)
		if err != nil {
			return fail(fmt.Errorf("Application %s (%s): %s: targetRevision %q is not the revision being checked (%s), and it cannot be fetched: %w",
				a.Name, a.Where(), field, s.TargetRevision, strings.Join(r.opts.Revisions, ", "), err)), false
		}
		app := rr.repo.argoSourceApp(a, i, s)
		app.Remote = &RemoteSource{RepoURL: s.RepoURL, Revision: s.TargetRevision, Commit: rr.commit}
		return app, false
	}
	return r.argoSourceApp(a, i, s), false
}

// chartSourceApp fetches the chart of an allowed Helm repository or OCI
// registry that source i of Application a names, at its targetRevision
// (a version or a semver range), and builds its app; the app's Remote
// shows the version and digest the revision resolved to.
func (r *Repo) chartSourceApp(ctx context.Context, a *argocd.Application, i int, s argocd.Source, fail func(error) App) App {
	fc, err := r.fetchChart(ctx, s.RepoURL, s.Chart, s.TargetRevision)
	if err != nil {
		app := fail(fmt.Errorf("Application %s (%s): %s: Helm chart %q %s from allowed source %s: %w", a.Name, a.Where(), a.SourceField(i), s.Chart, orAny(s.TargetRevision), s.RepoURL, err))
		app.Kind = KindHelm
		return app
	}
	local := s
	local.Path = filepath.Base(fc.chart.Dir)
	app := fc.repo.argoSourceApp(a, i, local)
	app.Remote = &RemoteSource{RepoURL: s.RepoURL, Revision: s.TargetRevision, Chart: s.Chart, Version: fc.chart.Version, Digest: fc.chart.Digest}
	return app
}

func orAny(rev string) string {
	if rev == "" {
		return "(any version)"
	}
	return rev
}

// isThisRevision reports whether Argo CD renders a source of this
// repository at targetRevision from the checkout (Options.Revisions).
func (r *Repo) isThisRevision(rev string) bool {
	if len(r.opts.Revisions) == 0 {
		return true
	}
	norm := func(s string) string {
		s = strings.TrimPrefix(strings.TrimSpace(s), "refs/heads/")
		if s == "" {
			return "HEAD"
		}
		return s
	}
	for _, o := range r.opts.Revisions {
		if norm(o) == norm(rev) {
			return true
		}
	}
	return false
}

// argoSourceApp builds the app of a source whose files are in r: it merges
// the .argocd-source files and decides the tool as Argo CD does.
func (r *Repo) argoSourceApp(a *argocd.Application, i int, s argocd.Source) App {
	path := argocd.CleanPath(s.Path)
	// A source that cannot render whatever its directory holds (a plugin,
	// an option not implemented) says so first.
	pathErr := func(err error) App {
		app := a.ToApp(i, s)
		if app.Err == nil {
			app.Kind, app.Err = KindPlain, err
		}
		return app
	}
	dir, err := r.abs(path)
	if err != nil {
		return pathErr(fmt.Errorf("Application %s (%s): %s.path: %w", a.Name, a.Where(), a.SourceField(i), err))
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return pathErr(&FileError{File: path, Err: fmt.Errorf("Application %s (%s) points at a path that does not exist in this repository", a.Name, a.Where())})
	}
	merged, files, err := r.mergeSourceFiles(s, dir, a.Instance)
	if err != nil {
		app := a.ToApp(i, argocd.Source{Path: s.Path})
		app.Kind, app.Err = KindPlain, fmt.Errorf("Application %s (%s): %s: Argo CD source overrides: %w", a.Name, a.Where(), a.SourceField(i), err)
		return app
	}
	app := a.ToApp(i, merged)
	app.SourceFiles = files
	if app.Err != nil && len(files) > 0 {
		app.Err = fmt.Errorf("%w (after merging %s)", app.Err, strings.Join(files, ", "))
	}
	if app.Err == nil && app.Kind == "" {
		app.Kind = argoDetectKind(dir)
	}
	if app.Kind == "" {
		app.Kind = KindPlain
	}
	return app
}

// argoDetectKind is Argo CD's discovery.AppType for a source without a tool
// section: the files of the directory in lexical order, the last one that
// names a tool wins — a name ending in Chart.yaml means Helm, a
// kustomization file Kustomize (util/app/discovery/discovery.go). Anything
// else is a directory app (Jsonnet files in it are refused one by one).
func argoDetectKind(dir string) Kind {
	entries, _ := os.ReadDir(dir) // sorted by name, as filepath.Walk
	kind := KindPlain
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		n := e.Name()
		if strings.HasSuffix(n, "Chart.yaml") {
			kind = KindHelm
		}
		for _, k := range kustomizationFileNames {
			if n == k {
				kind = KindKustomize
			}
		}
	}
	return kind
}

// sourceAllowed reports whether the gate's configuration lists repoURL.
func (r *Repo) sourceAllowed(repoURL string) bool {
	u := argocd.NormalizeRepoURL(repoURL)
	for _, a := range r.opts.AllowSources {
		if argocd.NormalizeRepoURL(a) == u {
			return true
		}
	}
	return false
}

// remote fetches an allowed Git source once per evaluation, through the
// caller's fetcher, and opens it with this repository's options.
func (r *Repo) remote(ctx context.Context, repoURL, revision string) (*remoteRepo, error) {
	if r.opts.Sources == nil {
		return nil, fmt.Errorf("no fetcher for other repositories is configured: %w", ErrUnsupported)
	}
	v, _ := r.remotes.LoadOrStore(argocd.NormalizeRepoURL(repoURL)+"@"+revision, &remoteRepo{})
	rr := v.(*remoteRepo)
	rr.once.Do(func() {
		dir, commit, err := r.opts.Sources.FetchGit(ctx, repoURL, orHEAD(revision))
		if err != nil {
			rr.err = err
			return
		}
		opts := r.opts
		opts.RepoURL = repoURL
		rr.repo, rr.err = Open(dir, opts)
		rr.commit = commit
	})
	return rr, rr.err
}

func orHEAD(rev string) string {
	if rev == "" {
		return "HEAD"
	}
	return rev
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// definedByLayout is the DefinedIn of apps found by the layout rules.
const definedByLayout = "layout"

// uniqueNames suffixes repeated app names so that reports stay addressable.
func uniqueNames(apps []App) []App {
	seen := map[string]int{}
	for i := range apps {
		n := apps[i].Name
		seen[n]++
		if seen[n] > 1 {
			apps[i].Name = fmt.Sprintf("%s#%d", n, seen[n])
		}
	}
	return apps
}

// layout is what a walk of the tree found.
type layout struct {
	kustomizations      []string        // directories with a kustomization
	charts              []string        // Helm chart directories
	plainDirs           []string        // directories with Kubernetes-looking manifests
	jsonnetDirs         []string        // directories with Jsonnet and no manifests
	usedByKustomize     map[string]bool // directories a kustomization loads from
	kustomizationFiles  []string        // the kustomization file of each of kustomizations
	applicationFiles    []string        // plain files that may hold Applications
	mentionsApplication map[string]bool // app path -> its files mention Applications
}

var (
	looksKubernetes = regexp.MustCompile(`(?m)(^|[{,\s"])"?(apiVersion|kind)"?\s*:`)
	mentionsApp     = regexp.MustCompile(`(?m)kind"?\s*:\s*"?Application(Set)?\b`)
)

func (r *Repo) scanLayout(ctx context.Context) (*layout, error) {
	lay := &layout{usedByKustomize: map[string]bool{}, mentionsApplication: map[string]bool{}}
	root, err := r.listTree(ctx)
	if err != nil {
		return nil, fmt.Errorf("scanning %s: %w", r.root, err)
	}
	r.walkLayout(root, lay)
	// Reading and parsing every kustomization for what it loads is most
	// of a large repository's discovery: in parallel, after the walk.
	used := make([][]string, len(lay.kustomizationFiles))
	sem := make(chan struct{}, r.opts.Concurrency)
	var wg sync.WaitGroup
	for i, kf := range lay.kustomizationFiles {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			used[i] = r.kustomizeUses(kf)
		}()
	}
	wg.Wait()
	for _, u := range used {
		for _, p := range u {
			lay.usedByKustomize[p] = true
		}
	}
	return lay, nil
}

// listedDir is one directory of the tree as discovery reads it: its
// listing, and what the heads of its manifest files say.
type listedDir struct {
	dir     string
	entries []fs.DirEntry
	// chart: the directory holds a Chart.yaml (nothing below it is
	// listed); chartMentions: one of its files mentions an Application.
	chart, chartMentions bool
	// heads classify the manifest files, by entry index.
	heads map[int]headClass
	// children are the listed subdirectories, by entry index.
	children map[int]*listedDir
}

type headClass struct{ mentionsApp, kubernetes bool }

// listTree lists the repository and reads the head of every manifest
// file, directories in parallel: on a monorepo these are thousands of
// system calls that need not wait on one another. walkLayout then
// classifies the listing in one ordered pass.
func (r *Repo) listTree(ctx context.Context) (*listedDir, error) {
	// A fixed number of workers drain a stack of directories to list: a
	// goroutine per directory, waiting for a slot, would be thousands of
	// goroutines and their stacks for a pull request that adds thousands
	// of directories side by side.
	root := &listedDir{dir: r.root}
	var mu sync.Mutex
	more := sync.NewCond(&mu)
	todo := []*listedDir{root}
	pending := 1 // directories queued or being listed
	var firstErr error
	var wg sync.WaitGroup
	for range max(r.opts.Concurrency, 4) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				for len(todo) == 0 && pending > 0 {
					more.Wait()
				}
				if pending == 0 {
					mu.Unlock()
					return
				}
				d := todo[len(todo)-1]
				todo = todo[:len(todo)-1]
				mu.Unlock()
				sub, err := r.listDir(ctx, d)
				mu.Lock()
				firstErr = cmp.Or(firstErr, err)
				todo = append(todo, sub...)
				pending += len(sub) - 1
				mu.Unlock()
				more.Broadcast()
			}
		}()
	}
	wg.Wait()
	return root, firstErr
}

// listDir lists one directory of the tree, reads the heads of its manifest
// files, and returns its subdirectories to list.
func (r *Repo) listDir(ctx context.Context, d *listedDir) ([]*listedDir, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, nil // unreadable directories surface when an app that needs them renders
	}
	d.entries = entries
	r.inputs.entries.Store(d.dir, entries)
	for _, e := range entries {
		if e.Name() == "Chart.yaml" && !e.IsDir() {
			d.chart, d.chartMentions = true, r.dirMentions(d.dir, true)
			return nil, nil // templates are not plain manifests
		}
	}
	var sub []*listedDir
	for i, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		p := filepath.Join(d.dir, name)
		if e.IsDir() {
			c := &listedDir{dir: p}
			if d.children == nil {
				d.children = map[int]*listedDir{}
			}
			d.children[i] = c
			sub = append(sub, c)
			continue
		}
		if isManifestFile(name) {
			head := r.head(p)
			if d.heads == nil {
				d.heads = map[int]headClass{}
			}
			d.heads[i] = headClass{mentionsApp: mentionsApp.Match(head), kubernetes: looksKubernetes.Match(head)}
		}
	}
	return sub, nil
}

// walkLayout classifies a listed directory and, in order, its
// subdirectories.
func (r *Repo) walkLayout(d *listedDir, lay *layout) {
	if d.entries == nil {
		return
	}
	if d.chart {
		lay.charts = append(lay.charts, d.dir)
		if d.chartMentions {
			lay.mentionsApplication[r.rel(d.dir)] = true
		}
		return
	}
	names := make(map[string]fs.DirEntry, len(d.entries))
	for _, e := range d.entries {
		names[e.Name()] = e
	}
	isKust := false
	for _, n := range kustomizationFileNames {
		if e, ok := names[n]; ok && !e.IsDir() {
			isKust = true
			lay.kustomizations = append(lay.kustomizations, d.dir)
			lay.kustomizationFiles = append(lay.kustomizationFiles, filepath.Join(d.dir, n))
			break
		}
	}
	plain, jsonnet := false, false
	for i, e := range d.entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if e.IsDir() {
			if c := d.children[i]; c != nil {
				r.walkLayout(c, lay)
			}
			continue
		}
		switch {
		case filepath.Ext(name) == ".jsonnet":
			jsonnet = true
		case isManifestFile(name):
			h := d.heads[i]
			if h.mentionsApp {
				if isKust {
					lay.mentionsApplication[r.rel(d.dir)] = true
				} else {
					lay.applicationFiles = append(lay.applicationFiles, filepath.Join(d.dir, name))
				}
			}
			plain = plain || (!isKust && h.kubernetes)
		}
	}
	if plain {
		lay.plainDirs = append(lay.plainDirs, d.dir)
	}
	if jsonnet && !plain && !isKust {
		lay.jsonnetDirs = append(lay.jsonnetDirs, d.dir)
	}
}

// head returns the file's content for classification, or nil when it
// cannot be read (the error surfaces when the app that holds it renders).
// It reads through the cache, so rendering does not read the file again.
func (r *Repo) head(p string) []byte {
	data, err := r.readFile(p)
	if err != nil {
		return nil
	}
	return data
}

func (r *Repo) dirMentions(dir string, recursive bool) bool {
	found := false
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found {
			return fs.SkipAll
		}
		if d.IsDir() {
			if p != dir && !recursive {
				return fs.SkipDir
			}
			return nil
		}
		if isManifestFile(d.Name()) || strings.HasSuffix(d.Name(), ".tpl") {
			found = mentionsApp.Match(r.head(p))
		}
		return nil
	})
	return found
}

// kustomizeUses are the directories a kustomization loads from (a file
// entry marks its directory with "/*"):
// they are bases or parts of it, not apps of their own.
func (r *Repo) kustomizeUses(kfile string) []string {
	data, err := r.readFile(kfile)
	if err != nil {
		return nil
	}
	var used []string
	dir := filepath.Dir(kfile)
	for _, s := range kustomizeEntries(data) {
		p := filepath.Join(dir, filepath.FromSlash(s))
		if st, err := os.Stat(p); err == nil {
			if st.IsDir() {
				used = append(used, p)
			} else {
				used = append(used, filepath.Dir(p)+string(filepath.Separator)+"*")
			}
		}
	}
	return used
}

// kustomizeEntries are the resources, bases, components and crds a
// kustomization file lists. They depend on its content alone, so they are
// kept by content hash: a service evaluating commit after commit of one
// monorepo parses each distinct kustomization once.
func kustomizeEntries(data []byte) []string {
	key := sha256.Sum256(data)
	if entries, ok := kustomizeEntryCache.load(key); ok {
		return entries
	}
	var doc yaml.Node
	var entries []string
	if yaml.Unmarshal(data, &doc) == nil && len(doc.Content) > 0 {
		for _, f := range []string{"resources", "bases", "components", "crds"} {
			seq := mapGet(doc.Content[0], f)
			if seq == nil || seq.Kind != yaml.SequenceNode {
				continue
			}
			for _, n := range seq.Content {
				if s, ok := scalarString(n); ok {
					entries = append(entries, s)
				}
			}
		}
	}
	kustomizeEntryCache.store(key, entries)
	return entries
}

// The cache lives as long as the process and holds what the authors of the
// repositories under review wrote: it is bounded in bytes as well as in
// entries, and a kustomization too large to keep is parsed every time
// (one file of 4 MiB listing short paths is tens of MiB of strings).
// (Variables so that a test can lower them.)
var (
	maxKustomizeEntryCache            = 100_000
	maxKustomizeEntryCacheBytes int64 = 32 << 20
	maxCachedKustomizationBytes int64 = 256 << 10
)

var kustomizeEntryCache entryCache

// entryCache maps a kustomization's content hash to its entries, with
// what they hold counted under one lock, so concurrent discoveries can
// neither overshoot the bound nor lose count of what is held.
type entryCache struct {
	mu    sync.RWMutex
	m     map[[sha256.Size]byte][]string
	bytes int64
}

func (c *entryCache) load(key [sha256.Size]byte) ([]string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.m[key]
	return e, ok
}

func (c *entryCache) store(key [sha256.Size]byte, entries []string) {
	size := entriesSize(entries)
	if size > maxCachedKustomizationBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok {
		return
	}
	if c.m == nil || len(c.m) >= maxKustomizeEntryCache || c.bytes+size > maxKustomizeEntryCacheBytes {
		// Start over rather than grow with every commit's edits.
		c.m, c.bytes = map[[sha256.Size]byte][]string{}, 0
	}
	c.m[key] = entries
	c.bytes += size
}

// entriesSize is what entries hold in memory, with the map entry: string
// headers and bytes (an alias repeated shares its bytes; counted each time,
// the bound errs on the safe side).
func entriesSize(entries []string) int64 {
	n := int64(sha256.Size + 24 + 16*cap(entries))
	for _, s := range entries {
		n += int64(len(s))
	}
	return n
}

// resetKustomizeEntryCache empties the cache (tests).
func resetKustomizeEntryCache() {
	kustomizeEntryCache.mu.Lock()
	defer kustomizeEntryCache.mu.Unlock()
	kustomizeEntryCache.m, kustomizeEntryCache.bytes = nil, 0
}

func (lay *layout) apps(r *Repo) []App {
	var apps []App
	add := func(dir string, kind Kind) {
		rel := r.rel(dir)
		apps = append(apps, App{Name: rel, Path: rel, Kind: kind, DefinedIn: definedByLayout,
			Directory: DirectoryOptions{Recurse: false}})
	}
	for _, d := range lay.kustomizations {
		if !lay.usedByKustomize[d] {
			add(d, KindKustomize)
		}
	}
	for _, d := range lay.charts {
		add(d, KindHelm)
	}
	for _, d := range lay.plainDirs {
		// A directory whose files a kustomization lists is part of that
		// kustomization; the files are rendered through it.
		if !lay.usedByKustomize[d] && !lay.usedByKustomize[d+string(filepath.Separator)+"*"] {
			add(d, KindPlain)
		}
	}
	for _, d := range lay.jsonnetDirs {
		add(d, KindJsonnet)
	}
	return apps
}

// gitOriginURL reads the origin remote of a checkout without running git.
func gitOriginURL(root string) string {
	data, err := os.ReadFile(filepath.Join(root, ".git", "config"))
	if err != nil {
		return ""
	}
	inOrigin := false
	for _, line := range bytes.Split(data, []byte("\n")) {
		l := strings.TrimSpace(string(line))
		if strings.HasPrefix(l, "[") {
			inOrigin = l == `[remote "origin"]`
			continue
		}
		if k, v, ok := strings.Cut(l, "="); inOrigin && ok && strings.TrimSpace(k) == "url" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
