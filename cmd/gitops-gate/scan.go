package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	yaml "go.yaml.in/yaml/v3"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/chartsrc"
	"github.com/gitops-gate/gitops-gate/gate/gitsrc"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// repoFlags are the flags every command that reads a repository shares.
type repoFlags struct {
	app         string
	repoURL     string
	extractors  string
	maxFileSize int64
	helmTimeout time.Duration
	clusters    string
	// The cluster Argo CD renders for, and the sources other than this
	// repository that Applications may use: the gate's configuration.
	kubeVersion   string
	apiVersions   []string
	argoNamespace string
	allowSources  []string
	revisions     []string
	sources       *gitsrc.Sources // checkouts of allowed sources; close removes them
	sourcesTmp    string
}

func (f *repoFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.app, "app", "", "only this app (its name or path)")
	cmd.Flags().StringVar(&f.repoURL, "repo-url", "", "URL of the repository, to match Argo CD Applications (default: the checkout's origin, else inferred)")
	cmd.Flags().StringVar(&f.extractors, "extractors", "", "YAML file of Kyverno-style imageExtractors (kind: [{path, value, key}]) for custom resources")
	cmd.Flags().Int64Var(&f.maxFileSize, "max-file-size", manifests.DefaultMaxFileSize, "largest manifest file read, in bytes")
	cmd.Flags().StringVar(&f.clusters, "clusters", "", "YAML list of the Argo CD clusters ({name, server, labels}) that ApplicationSet clusters generators expand to")
	cmd.Flags().DurationVar(&f.helmTimeout, "helm-timeout", manifests.DefaultHelmTimeout, "longest a Helm chart may take to render (its templates run in a child process)")
	cmd.Flags().StringVar(&f.kubeVersion, "kube-version", "", "Kubernetes version of the destination cluster, as Helm charts see it (.Capabilities.KubeVersion) unless an Application sets helm.kubeVersion (default: $KUBE_VERSION, which Argo CD sets for plugins, else "+manifests.DefaultKubeVersion+")")
	cmd.Flags().StringSliceVar(&f.apiVersions, "api-versions", nil, "API versions the destination cluster serves beyond Helm's built-in set (.Capabilities.APIVersions), unless an Application sets helm.apiVersions; repeatable or comma-separated (default: $KUBE_API_VERSIONS, which Argo CD sets for plugins)")
	cmd.Flags().StringVar(&f.argoNamespace, "argocd-namespace", manifests.DefaultArgoCDNamespace, "namespace Argo CD runs in: it decides which .argocd-source-<app>.yaml Argo CD reads")
	cmd.Flags().StringArrayVar(&f.revisions, "revision", nil, "an Application targetRevision that means the commit being checked (e.g. HEAD and the branch the change merges into); repeatable. When set, a source of this repository at another revision is fetched at it (or is an app error)")
	cmd.Flags().StringArrayVar(&f.allowSources, "allow-source", nil, "repository URL (Git, Helm or OCI) other than this one that Applications and chart dependencies may use as a source, as URL or URL=MIRROR (charts are then fetched from the mirror); repeatable. Any other is an app error")
}

func (f *repoFlags) open(dir string) (*manifests.Repo, error) {
	opts, err := f.options()
	if err != nil {
		return nil, err
	}
	repo, err := manifests.Open(dir, opts)
	if err != nil {
		return nil, &exitError{exitUsage, err}
	}
	return repo, nil
}

func (f *repoFlags) options() (manifests.Options, error) {
	var allow []chartsrc.Allowed
	for _, s := range f.allowSources {
		a, err := chartsrc.ParseAllowed(s)
		if err != nil {
			return manifests.Options{}, &exitError{exitUsage, fmt.Errorf("--allow-source %q: %w", s, err)}
		}
		allow = append(allow, a)
	}
	opts := manifests.Options{RepoURL: f.repoURL, MaxFileSize: f.maxFileSize, HelmSandbox: helmSandbox(f.helmTimeout, 0),
		KubeVersion: f.kubeVersion, APIVersions: f.apiVersions, ArgoCDNamespace: f.argoNamespace, AllowSources: chartsrc.URLs(allow),
		Revisions: f.revisions}
	// In Argo CD's plugin, the repo-server passes the destination
	// cluster's version and API versions (getPluginEnvs in
	// reposerver/repository/repository.go).
	if opts.KubeVersion == "" {
		opts.KubeVersion = os.Getenv("KUBE_VERSION")
	}
	if len(opts.APIVersions) == 0 {
		for _, v := range strings.Split(os.Getenv("KUBE_API_VERSIONS"), ",") {
			if v = strings.TrimSpace(v); v != "" {
				opts.APIVersions = append(opts.APIVersions, v)
			}
		}
	}
	if len(f.allowSources) > 0 || len(f.revisions) > 0 {
		// Allowed Git sources are fetched with the checkout's limits into a
		// cache shared between runs, and checked out under a directory of
		// this run's.
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		fetcher, err := gitsrc.New(gitsrc.Options{CacheDir: filepath.Join(cache, "gitops-gate", "git"), PlaceholderOver: max(f.maxFileSize, manifests.DefaultMaxFileSize)})
		if err != nil {
			return opts, &exitError{exitOperational, fmt.Errorf("--allow-source: %w", err)}
		}
		if f.sourcesTmp, err = os.MkdirTemp("", "gitops-gate-sources-"); err != nil {
			return opts, &exitError{exitOperational, err}
		}
		f.sources = &gitsrc.Sources{Fetcher: fetcher, TmpRoot: f.sourcesTmp}
		for _, a := range allow {
			f.sources.Repositories = append(f.sources.Repositories, gitsrc.Repository{URL: a.URL, Mirror: a.Mirror})
		}
		opts.Sources = f.sources
		// Allowed charts are verified against their repository's digest
		// and kept in a cache by that digest.
		charts, err := chartsrc.New(chartsrc.Options{CacheDir: filepath.Join(cache, "gitops-gate", "charts"), Allow: allow})
		if err != nil {
			return opts, &exitError{exitOperational, fmt.Errorf("--allow-source: %w", err)}
		}
		opts.Charts, opts.Artifacts = charts, charts
	}
	if f.extractors != "" {
		data, err := os.ReadFile(f.extractors)
		if err != nil {
			return opts, &exitError{exitUsage, fmt.Errorf("--extractors: %w", err)}
		}
		var ex manifests.Extractors
		if err := yaml.Unmarshal(data, &ex); err != nil {
			return opts, &exitError{exitUsage, fmt.Errorf("--extractors %s: %w", f.extractors, err)}
		}
		if err := ex.Validate(); err != nil {
			return opts, &exitError{exitUsage, fmt.Errorf("--extractors %s: %w", f.extractors, err)}
		}
		opts.Extractors = ex
	}
	if f.clusters != "" {
		data, err := os.ReadFile(f.clusters)
		if err != nil {
			return opts, &exitError{exitUsage, fmt.Errorf("--clusters: %w", err)}
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&opts.Clusters); err != nil && !errors.Is(err, io.EOF) {
			return opts, &exitError{exitUsage, fmt.Errorf("--clusters %s: %w", f.clusters, err)}
		}
		for i, c := range opts.Clusters {
			if c.Name == "" || c.Server == "" {
				return opts, &exitError{exitUsage, fmt.Errorf("--clusters %s: entry %d needs a name and a server", f.clusters, i)}
			}
		}
	}
	return opts, nil
}

// close removes the checkouts of allowed sources.
func (f *repoFlags) close() {
	if f.sources != nil {
		f.sources.Close()
		os.RemoveAll(f.sourcesTmp)
	}
}

// scanError turns a failed scan into the operational exit code; a bad
// .gitops-gate.yaml, a missing directory or one without apps is a
// configuration error.
func scanError(err error) error {
	if errors.Is(err, manifests.ErrInvalidConfig) || errors.Is(err, os.ErrNotExist) || errors.Is(err, gate.ErrNoApps) {
		return &exitError{exitUsage, err}
	}
	return &exitError{exitOperational, err}
}

// helmSandbox renders Helm templates in a child process of this binary (the
// hidden helm-sandbox command), so that a chart whose templates never end
// is stopped. If the binary cannot be found they render in process.
func helmSandbox(timeout time.Duration, memory int64) *manifests.HelmSandbox {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	return &manifests.HelmSandbox{Command: []string{exe, helmSandboxCmd}, Timeout: timeout, MemoryLimit: memory}
}

const helmSandboxCmd = "helm-sandbox"

func newHelmSandboxCmd() *cobra.Command {
	return &cobra.Command{
		Use:    helmSandboxCmd,
		Short:  "Render one Helm chart for a parent gitops-gate (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if code := manifests.RunHelmChild(os.Stdin, os.Stdout); code != 0 {
				return &exitError{code, fmt.Errorf("helm sandbox failed")}
			}
			return nil
		},
	}
}

func manifestsDiff(name string, old, new []byte) string { return manifests.UnifiedDiff(name, old, new) }
