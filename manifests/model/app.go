package model

import (
	"errors"
	"fmt"
)

// ConfigFileName is the repository's own app list. It may say where apps
// are and add image extractors; it can never weaken verification, which is
// configured in the gate, not in the repository.
const ConfigFileName = ".gitops-gate.yaml"

// Kind is how an app's manifests are produced.
type Kind string

// The kinds of app. Plugin apps are recognised so that they can be reported
// as not renderable, never silently skipped.
const (
	KindPlain     Kind = "plain"
	KindKustomize Kind = "kustomize"
	KindHelm      Kind = "helm"
	KindJsonnet   Kind = "jsonnet"
	KindPlugin    Kind = "plugin"
)

// App is one deployable unit of a repository: a directory and how to render it.
type App struct {
	// Name identifies the app in reports: the Argo CD Application name, the
	// name given in .gitops-gate.yaml, or the directory path.
	Name string `json:"name"`
	// Path is the app's directory, slash-separated and relative to the
	// repository root ("." for the root itself).
	Path string `json:"path"`
	Kind Kind   `json:"kind"`
	// Namespace is the destination namespace (Helm's .Release.Namespace).
	Namespace string `json:"namespace,omitempty"`
	// DefinedIn says where the app was found: ".gitops-gate.yaml", the file of
	// an Argo CD Application, or "layout" for directory discovery.
	DefinedIn string `json:"definedIn,omitempty"`

	// GeneratedBy is set on apps an ApplicationSet generated.
	GeneratedBy *GeneratedBy `json:"generatedBy,omitempty"`

	Helm      HelmOptions      `json:"helm,omitzero"`
	Kustomize KustomizeOptions `json:"kustomize,omitzero"`
	Directory DirectoryOptions `json:"directory,omitzero"`

	// SourceFiles are the Argo CD override files (.argocd-source*.yaml)
	// merged into the Application's source, repository-relative.
	SourceFiles []string `json:"sourceFiles,omitempty"`
	// Remote is set for an app whose files come from another Git
	// repository, one the gate's configuration allows (Options.AllowSources).
	Remote *RemoteSource `json:"remote,omitempty"`
	// Dependencies are the chart dependencies downloaded for a Helm app
	// (from repositories the gate's configuration allows), as resolved.
	Dependencies []RemoteSource `json:"dependencies,omitempty"`

	// Err is set when discovery already knows the app cannot be rendered
	// faithfully (an unsupported Argo CD source option, a plugin source, a path
	// outside the repository).
	Err error `json:"-"`
}

// RemoteSource names where an app's files were fetched from: a Git
// repository and the commit its revision resolved to, or a Helm chart of a
// Helm repository or OCI registry and the version and archive digest its
// revision (an exact version or a semver range) resolved to.
type RemoteSource struct {
	RepoURL  string `json:"repoURL"`
	Revision string `json:"revision,omitempty"`
	Commit   string `json:"commit,omitempty"`
	// Chart, Version and Digest are set for a chart: its name, the version
	// chosen and the sha256 of its .tgz, verified against the repository's
	// index or the OCI manifest.
	Chart   string `json:"chart,omitempty"`
	Version string `json:"version,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

// HelmOptions are the Helm settings an app renders with, in Argo CD's terms.
type HelmOptions struct {
	ReleaseName string `json:"releaseName,omitempty" yaml:"releaseName"`
	// Namespace is the release namespace (.Release.Namespace) when it is not
	// the app's destination namespace (Argo CD's helm.namespace).
	Namespace string `json:"namespace,omitempty" yaml:"namespace"`
	// ValueFiles are relative to the app directory, applied in order after the
	// chart's values.yaml.
	ValueFiles []string `json:"valueFiles,omitempty" yaml:"valueFiles"`
	// Values is a YAML document applied after the value files.
	Values string `json:"values,omitempty" yaml:"values"`
	// ValuesObject is applied like Values and takes precedence over it.
	ValuesObject map[string]any `json:"valuesObject,omitempty" yaml:"valuesObject"`
	// Parameters are --set style overrides, applied last.
	Parameters              []HelmParameter `json:"parameters,omitempty" yaml:"parameters"`
	IgnoreMissingValueFiles bool            `json:"ignoreMissingValueFiles,omitempty" yaml:"ignoreMissingValueFiles"`
	// KubeVersion and APIVersions are the cluster's Kubernetes version and
	// API versions as the chart sees them (.Capabilities). Empty means the
	// gate's configured ones (Options.KubeVersion, Options.APIVersions).
	KubeVersion string   `json:"kubeVersion,omitempty" yaml:"kubeVersion"`
	APIVersions []string `json:"apiVersions,omitempty" yaml:"apiVersions"`
}

// HelmParameter is one --set (or --set-string when ForceString) override.
type HelmParameter struct {
	Name        string `json:"name" yaml:"name"`
	Value       string `json:"value" yaml:"value"`
	ForceString bool   `json:"forceString,omitempty" yaml:"forceString"`
}

// KustomizeOptions are the Kustomize settings an app renders with.
type KustomizeOptions struct {
	// Images are Argo CD `kustomize.images` overrides, in the syntax of
	// `kustomize edit set image` (e.g. "app=registry/app:1.2" or
	// "registry/app@sha256:..."), applied to the app's kustomization.
	Images []string `json:"images,omitempty" yaml:"images"`
	// Namespace is set on the kustomization, as `kustomize edit set
	// namespace` does (Argo CD's kustomize.namespace).
	Namespace string `json:"namespace,omitempty" yaml:"namespace"`
	// Patches are appended to the kustomization's patches (Argo CD's
	// kustomize.patches).
	Patches []any `json:"patches,omitempty" yaml:"patches"`
	// Components are added to the kustomization's components, as `kustomize
	// edit add component` does; with IgnoreMissingComponents, the ones that
	// do not exist are left out.
	Components              []string `json:"components,omitempty" yaml:"components"`
	IgnoreMissingComponents bool     `json:"ignoreMissingComponents,omitempty" yaml:"ignoreMissingComponents"`
}

// GeneratedBy names the ApplicationSet, and the generator in it, that
// generated an Application.
type GeneratedBy struct {
	ApplicationSet string `json:"applicationSet"`
	// Generator is the generator's place in the ApplicationSet, e.g.
	// "generators[0].matrix".
	Generator string `json:"generator"`
	// File is where the ApplicationSet is written ("file:line").
	File string `json:"file"`
}

// JsonnetOptions are Argo CD's spec.source.directory.jsonnet.
type JsonnetOptions struct {
	TLAs    []JsonnetVar `json:"tlas,omitempty" yaml:"tlas"`
	ExtVars []JsonnetVar `json:"extVars,omitempty" yaml:"extVars"`
	// Libs are library directories relative to the repository root.
	Libs []string `json:"libs,omitempty" yaml:"libs"`
}

// JsonnetVar is a top-level argument or external variable: a string, or
// Jsonnet code when Code is set.
type JsonnetVar struct {
	Name  string `json:"name" yaml:"name"`
	Value string `json:"value" yaml:"value"`
	Code  bool   `json:"code,omitempty" yaml:"code"`
}

// DirectoryOptions are the settings of a plain YAML app.
type DirectoryOptions struct {
	// Recurse reads subdirectories too. Apps found by layout or in
	// .gitops-gate.yaml recurse by default; Argo CD Applications follow Argo
	// CD and recurse only when spec.source.directory.recurse is true.
	Recurse bool `json:"recurse,omitempty" yaml:"recurse"`
	// Include and Exclude are Argo CD style globs on the path relative to the
	// app directory; brace alternatives ({a,b}) are allowed.
	Include string `json:"include,omitempty" yaml:"include"`
	Exclude string `json:"exclude,omitempty" yaml:"exclude"`
	// Jsonnet applies to the .jsonnet files of the directory.
	Jsonnet JsonnetOptions `json:"jsonnet,omitzero" yaml:"jsonnet"`
	// DisableExtensionFilter reads files whatever their extension (Argo
	// CD's directory.disableExtensionFilter); include/exclude still apply.
	DisableExtensionFilter bool `json:"disableExtensionFilter,omitempty" yaml:"disableExtensionFilter"`
	// ArgoCD selects files exactly as Argo CD's repo-server does for a
	// directory Application: hidden files and every subdirectory are read
	// (see renderPlain). Set for apps of Argo CD Applications.
	ArgoCD bool `json:"argoCD,omitempty" yaml:"-"`
}

// ErrUnsupported marks apps or inputs that gitops-gate recognises but cannot
// render; they always end in an error, never in an empty image list.
var ErrUnsupported = errors.New("not supported")

// ErrInvalidConfig marks a .gitops-gate.yaml that cannot be used.
var ErrInvalidConfig = errors.New("invalid " + ConfigFileName)

// ErrOutsideRepo marks a path or symlink that leads out of the repository.
var ErrOutsideRepo = errors.New("outside the repository")

// ErrTooLarge marks a file or document over the configured bounds.
var ErrTooLarge = errors.New("too large")

// FileError locates an error in a repository file. Line is 0 when unknown.
type FileError struct {
	File string
	Line int
	Err  error
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }
