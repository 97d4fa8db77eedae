package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	yaml "go.yaml.in/yaml/v3"

	"github.com/gitops-gate/gitops-gate/manifests"
)

// repoFlags are the flags every command that reads a repository shares.
type repoFlags struct {
	app         string
	repoURL     string
	extractors  string
	maxFileSize int64
}

func (f *repoFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.app, "app", "", "only this app (its name or path)")
	cmd.Flags().StringVar(&f.repoURL, "repo-url", "", "URL of the repository, to match Argo CD Applications (default: the checkout's origin, else inferred)")
	cmd.Flags().StringVar(&f.extractors, "extractors", "", "YAML file of Kyverno-style imageExtractors (kind: [{path, value, key}]) for custom resources")
	cmd.Flags().Int64Var(&f.maxFileSize, "max-file-size", manifests.DefaultMaxFileSize, "largest manifest file read, in bytes")
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
	opts := manifests.Options{RepoURL: f.repoURL, MaxFileSize: f.maxFileSize}
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
// .gitops-gate.yaml is a configuration error.
func scanError(err error) error {
	if errors.Is(err, manifests.ErrInvalidConfig) || errors.Is(err, os.ErrNotExist) {
		return &exitError{exitUsage, err}
	}
	return &exitError{exitOperational, err}
}

func readRepoFile(root, rel string) ([]byte, error) {
	return os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
}

func manifestsDiff(name string, old, new []byte) string { return manifests.UnifiedDiff(name, old, new) }
