package manifests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/gitops-gate/gitops-gate/manifests/argocd"
	"github.com/gitops-gate/gitops-gate/manifests/layout"
	"github.com/gitops-gate/gitops-gate/manifests/tree"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
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
	lay, err := layout.Scan(ctx, r.root, layout.Options{ReadFile: r.readFile, Rel: r.rel, Concurrency: r.opts.Concurrency,
		Listed: func(dir string, entries []fs.DirEntry) {
			tree.Listed(r.files, dir)
			r.inputs.entries.Store(dir, entries)
		}})
	if err != nil {
		return nil, err
	}
	fallback := layoutApps(r, lay)

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
	for _, f := range lay.ApplicationFiles {
		res, _ := r.readManifests(f) // parse errors are reported when the app renders
		collect(res)
	}
	for _, app := range fallback {
		if app.Kind != KindPlain && lay.MentionsApplication[app.Path] {
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

func layoutApps(r *Repo, lay *layout.Layout) []App {
	var apps []App
	add := func(dir string, kind Kind) {
		rel := r.rel(dir)
		apps = append(apps, App{Name: rel, Path: rel, Kind: kind, DefinedIn: definedByLayout,
			Directory: DirectoryOptions{Recurse: false}})
	}
	for _, d := range lay.Kustomizations {
		if !lay.UsedByKustomize[d] {
			add(d, KindKustomize)
		}
	}
	for _, d := range lay.Charts {
		add(d, KindHelm)
	}
	for _, d := range lay.PlainDirs {
		// A directory whose files a kustomization lists is part of that
		// kustomization; the files are rendered through it.
		if !lay.UsedByKustomize[d] && !lay.UsedByKustomize[d+string(filepath.Separator)+"*"] {
			add(d, KindPlain)
		}
	}
	for _, d := range lay.JsonnetDirs {
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
