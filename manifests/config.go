package manifests

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/gitops-gate/gitops-gate/manifests/model"
	"io"
	"os"
	"path/filepath"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// ConfigFileName is the repository's own app list (see model.ConfigFileName).
const ConfigFileName = model.ConfigFileName

// RepoConfig is the content of .gitops-gate.yaml.
type RepoConfig struct {
	Apps            []AppConfig `yaml:"apps"`
	ImageExtractors Extractors  `yaml:"imageExtractors"`
}

// AppConfig is one app of .gitops-gate.yaml.
type AppConfig struct {
	Name      string           `yaml:"name"`
	Path      string           `yaml:"path"`
	Kind      Kind             `yaml:"kind"`
	Namespace string           `yaml:"namespace"`
	Helm      HelmOptions      `yaml:"helm"`
	Kustomize KustomizeOptions `yaml:"kustomize"`
	Directory *struct {
		Recurse *bool  `yaml:"recurse"`
		Include string `yaml:"include"`
		Exclude string `yaml:"exclude"`
	} `yaml:"directory"`
}

// loadConfig reads .gitops-gate.yaml; it returns nil, nil when there is none.
// Unknown fields are errors with their line: a typo must not silently drop
// an app.
func (r *Repo) loadConfig() (*RepoConfig, error) {
	p := filepath.Join(r.root, ConfigFileName)
	if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	data, err := r.readFile(p)
	if err != nil {
		return nil, err
	}
	var cfg RepoConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		fe := &FileError{File: ConfigFileName, Err: errors.New(strings.TrimPrefix(err.Error(), "yaml: "))}
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			fmt.Sscan(m[1], &fe.Line)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, fe)
	}
	if err := cfg.ImageExtractors.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, &FileError{File: ConfigFileName, Err: err})
	}
	return &cfg, nil
}

// apps turns the config into apps, detecting kinds that are not given.
func (cfg *RepoConfig) apps(r *Repo) ([]App, error) {
	apps, err := cfg.buildApps(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return apps, nil
}

func (cfg *RepoConfig) buildApps(r *Repo) ([]App, error) {
	var apps []App
	names := map[string]bool{}
	for i, ac := range cfg.Apps {
		where := fmt.Sprintf("apps[%d]", i)
		if ac.Path == "" {
			return nil, &FileError{File: ConfigFileName, Err: fmt.Errorf("%s: path is required", where)}
		}
		app := App{
			Name: ac.Name, Path: filepath.ToSlash(filepath.Clean(ac.Path)), Kind: ac.Kind, Namespace: ac.Namespace,
			DefinedIn: ConfigFileName, Helm: ac.Helm, Kustomize: ac.Kustomize,
			Directory: DirectoryOptions{Recurse: true},
		}
		if app.Name == "" {
			app.Name = app.Path
		}
		if names[app.Name] {
			return nil, &FileError{File: ConfigFileName, Err: fmt.Errorf("%s: app name %q is used twice", where, app.Name)}
		}
		names[app.Name] = true
		if d := ac.Directory; d != nil {
			if d.Recurse != nil {
				app.Directory.Recurse = *d.Recurse
			}
			app.Directory.Include, app.Directory.Exclude = d.Include, d.Exclude
		}
		dir, err := r.abs(app.Path)
		if err != nil {
			app.Err = fmt.Errorf("%s: %s: %w", ConfigFileName, where, err)
		}
		switch app.Kind {
		case "":
			if err == nil {
				app.Kind = detectKind(dir)
			}
		case KindPlain, KindKustomize, KindHelm:
		default:
			return nil, &FileError{File: ConfigFileName, Err: fmt.Errorf("%s: kind %q: want plain, kustomize or helm", where, app.Kind)}
		}
		apps = append(apps, app)
	}
	return apps, nil
}
