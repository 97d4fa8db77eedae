package manifests

import (
	"context"
	"errors"
	"fmt"
	"github.com/gitops-gate/gitops-gate/manifests/argocd"
	"path/filepath"
	"strings"
	"sync"

	"helm.sh/helm/v3/pkg/chart"
	sigsyaml "sigs.k8s.io/yaml"
)

// ChartFetcher downloads Helm charts from the repositories the gate's
// configuration allows. manifests/ never talks to the network itself: the
// implementation (gate/chartsrc) verifies each archive's digest and unpacks
// it into a content-addressed cache.
type ChartFetcher interface {
	// FetchChart resolves version (an exact version, or a semver
	// constraint as an Argo CD targetRevision or a Chart.yaml dependency
	// may give: the highest matching version) of chart in repoURL — a Helm
	// repository (http/https, index.yaml) or an OCI registry ("oci://host/
	// path", or Argo CD's form without a scheme) — downloads it and returns
	// the unpacked chart. The directory is the fetcher's (a shared cache):
	// callers only read it.
	FetchChart(ctx context.Context, repoURL, chart, version string) (FetchedChart, error)
}

// FetchedChart is an unpacked chart and what its reference resolved to.
type FetchedChart struct {
	// Dir is the chart's directory (it holds Chart.yaml).
	Dir string
	// Version is the chart version the reference resolved to.
	Version string
	// Digest is the sha256 of the chart archive (.tgz), as the Helm
	// repository index or the OCI manifest's layer gives it, verified.
	Digest string
}

// fetchedChart is one chart fetched once per evaluation (by repository,
// chart and requested version).
type fetchedChart struct {
	once  sync.Once
	chart FetchedChart
	repo  *Repo // a Repo rooted at the chart's parent directory
	err   error
}

// fetchChart fetches an allowed chart once per evaluation through the
// caller's ChartFetcher and opens its directory with this repository's
// options.
func (r *Repo) fetchChart(ctx context.Context, repoURL, name, version string) (*fetchedChart, error) {
	if r.opts.Charts == nil {
		return nil, fmt.Errorf("no fetcher for Helm or OCI charts is configured: %w", ErrUnsupported)
	}
	v, _ := r.charts.LoadOrStore(chartKey(repoURL, name, version), &fetchedChart{})
	fc := v.(*fetchedChart)
	fc.once.Do(func() {
		fc.chart, fc.err = r.opts.Charts.FetchChart(ctx, repoURL, name, version)
		if fc.err != nil {
			return
		}
		opts := r.opts
		opts.RepoURL = repoURL
		fc.repo, fc.err = Open(filepath.Dir(fc.chart.Dir), opts)
	})
	return fc, fc.err
}

func chartKey(repoURL, name, version string) string {
	return argocd.NormalizeRepoURL(repoURL) + "|" + name + "@" + version
}

// isLocalDependency reports a dependency that is not downloaded: one
// without a repository, or a file:// path.
func isLocalDependency(repo string) bool {
	return repo == "" || strings.HasPrefix(repo, "file://")
}

// fetchDependencies fetches the dependencies of the chart in dir that are
// not vendored in its charts/ directory, from the repositories the gate's
// configuration allows, at the version its lock file (Chart.lock or
// requirements.lock) pins, else at the version range Chart.yaml gives — as
// `helm dependency build` would. A dependency from any other repository
// is an error naming it. It returns the unpacked charts' directories.
func (r *Repo) fetchDependencies(ctx context.Context, dir string, c *chart.Chart, app *App) ([]string, error) {
	missing := missingDeps(c)
	if len(missing) == 0 {
		return nil, nil
	}
	locked := r.lockedVersions(dir)
	var dirs []string
	var errs []error
	for _, d := range missing {
		if isLocalDependency(d.Repository) || strings.HasPrefix(d.Repository, "@") || strings.HasPrefix(d.Repository, "alias:") {
			errs = append(errs, fmt.Errorf("chart dependency %s %s from %q is not in charts/, and a repository named by alias or a local path cannot be fetched: %w", d.Name, d.Version, d.Repository, ErrUnsupported))
			continue
		}
		if !r.sourceAllowed(d.Repository) {
			errs = append(errs, fmt.Errorf("chart dependency %s %s: repository %s is not allowed by the gate's configuration (--allow-source), so it is not fetched: %w", d.Name, d.Version, d.Repository, ErrUnsupported))
			continue
		}
		version := d.Version
		if v, ok := locked[d.Name+"|"+argocd.NormalizeRepoURL(d.Repository)]; ok {
			version = v
		}
		fc, err := r.fetchChart(ctx, d.Repository, d.Name, version)
		if err != nil {
			errs = append(errs, fmt.Errorf("chart dependency %s %s from %s: %w", d.Name, version, d.Repository, err))
			continue
		}
		if err := fc.repo.checkChartFiles(fc.chart.Dir); err != nil {
			errs = append(errs, fmt.Errorf("chart dependency %s %s from %s: %w", d.Name, fc.chart.Version, d.Repository, err))
			continue
		}
		dirs = append(dirs, fc.chart.Dir)
		app.Dependencies = append(app.Dependencies, RemoteSource{RepoURL: d.Repository, Chart: d.Name, Revision: d.Version, Version: fc.chart.Version, Digest: fc.chart.Digest})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, &FileError{File: r.rel(filepath.Join(dir, "Chart.yaml")), Err: err}
	}
	return dirs, nil
}

// missingDeps are the dependencies Chart.yaml declares that charts/ does
// not hold (helm template's CheckDependencies).
func missingDeps(c *chart.Chart) []*chart.Dependency {
	var missing []*chart.Dependency
	for _, req := range c.Metadata.Dependencies {
		found := false
		for _, d := range c.Dependencies() {
			if d.Name() == req.Name {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, req)
		}
	}
	return missing
}

// lockedVersions reads the chart's lock file: the exact versions `helm
// dependency build` would download, by name and repository.
func (r *Repo) lockedVersions(dir string) map[string]string {
	out := map[string]string{}
	for _, name := range []string{"Chart.lock", "requirements.lock"} {
		data, err := r.readFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		var lock chart.Lock
		if sigsyaml.Unmarshal(data, &lock) != nil {
			continue
		}
		for _, d := range lock.Dependencies {
			if d != nil {
				out[d.Name+"|"+argocd.NormalizeRepoURL(d.Repository)] = d.Version
			}
		}
		break
	}
	return out
}
