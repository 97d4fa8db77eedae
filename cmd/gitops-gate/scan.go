package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	yaml "go.yaml.in/yaml/v3"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// repoFlags are the flags every command that reads a repository shares.
type repoFlags struct {
	app         string
	repoURL     string
	extractors  string
	maxFileSize int64
	helmTimeout time.Duration
}

func (f *repoFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.app, "app", "", "only this app (its name or path)")
	cmd.Flags().StringVar(&f.repoURL, "repo-url", "", "URL of the repository, to match Argo CD Applications (default: the checkout's origin, else inferred)")
	cmd.Flags().StringVar(&f.extractors, "extractors", "", "YAML file of Kyverno-style imageExtractors (kind: [{path, value, key}]) for custom resources")
	cmd.Flags().Int64Var(&f.maxFileSize, "max-file-size", manifests.DefaultMaxFileSize, "largest manifest file read, in bytes")
	cmd.Flags().DurationVar(&f.helmTimeout, "helm-timeout", manifests.DefaultHelmTimeout, "longest a Helm chart may take to render (its templates run in a child process)")
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
	opts := manifests.Options{RepoURL: f.repoURL, MaxFileSize: f.maxFileSize, HelmSandbox: helmSandbox(f.helmTimeout, 0)}
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
	return opts, nil
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
