package manifests

import (
	"github.com/gitops-gate/gitops-gate/manifests/argocd"
	"io"

	"github.com/gitops-gate/gitops-gate/manifests/extract"
	"github.com/gitops-gate/gitops-gate/manifests/helm"
	"github.com/gitops-gate/gitops-gate/manifests/model"
)

// The shared types live in package model so that the stages below this
// package (renderers, extraction, pinning) can use them without importing
// it; these aliases keep the names callers have always used.
type (
	Kind             = model.Kind
	App              = model.App
	RemoteSource     = model.RemoteSource
	HelmOptions      = model.HelmOptions
	HelmParameter    = model.HelmParameter
	KustomizeOptions = model.KustomizeOptions
	GeneratedBy      = model.GeneratedBy
	JsonnetOptions   = model.JsonnetOptions
	JsonnetVar       = model.JsonnetVar
	DirectoryOptions = model.DirectoryOptions
	FileError        = model.FileError
	ResourceID       = model.ResourceID
	Resource         = model.Resource
)

// The kinds of app (see model.Kind).
const (
	KindPlain     = model.KindPlain
	KindKustomize = model.KindKustomize
	KindHelm      = model.KindHelm
	KindJsonnet   = model.KindJsonnet
	KindPlugin    = model.KindPlugin
)

// The errors apps record (see package model).
var (
	ErrUnsupported   = model.ErrUnsupported
	ErrInvalidConfig = model.ErrInvalidConfig
	ErrOutsideRepo   = model.ErrOutsideRepo
	ErrTooLarge      = model.ErrTooLarge
)

// YAML helpers of package model, under the names this package's code uses.
var (
	mapGet       = model.MapGet
	scalarString = model.ScalarString
	yamlLineRE   = model.YAMLLineRE
	checkAliases = model.CheckAliases
)

// remoteKey identifies the checkout of a Git RemoteSource within an evaluation.
func remoteKey(s *RemoteSource) string { return argocd.NormalizeRepoURL(s.RepoURL) + "@" + s.Revision }

// Extraction lives in package extract; these keep its names where callers
// have always found them.
type (
	ImageRef        = extract.ImageRef
	ExtractorConfig = extract.ExtractorConfig
	Extractors      = extract.Extractors
	Warning         = extract.Warning
	DecodeOptions   = extract.DecodeOptions
)

// ExtractImages returns the image references of one object (see
// extract.ExtractImages).
func ExtractImages(res *Resource, ex Extractors) []ImageRef { return extract.ExtractImages(res, ex) }

// UnknownImages returns the image-like values of res that no extractor reads
// (see extract.UnknownImages).
func UnknownImages(res *Resource, ex Extractors) []Warning { return extract.UnknownImages(res, ex) }

// DecodeManifests decodes a manifest stream as the applier does (see
// extract.DecodeManifests).
func DecodeManifests(data []byte, opts DecodeOptions) ([]Resource, error) {
	return extract.DecodeManifests(data, opts)
}

// The Helm engine and its sandbox live in package helm.
type HelmSandbox = helm.Sandbox

// Defaults of a HelmSandbox (see package helm).
const (
	DefaultHelmTimeout     = helm.DefaultTimeout
	DefaultHelmMemoryLimit = helm.DefaultMemoryLimit
	DefaultHelmMaxOutput   = helm.DefaultMaxOutput
)

// ErrHelmLimit is the error of a chart or Jsonnet program the sandbox
// stopped (see helm.ErrLimit).
var ErrHelmLimit = helm.ErrLimit

// RunHelmChild is the Helm sandbox's child process (see helm.RunChild); the
// hidden helm-sandbox command runs it.
func RunHelmChild(in io.Reader, out io.Writer) int { return helm.RunChild(in, out) }

// ArgoSourceOverrides lists the .argocd-source override files of an app
// directory (see argocd.SourceOverrides).
func ArgoSourceOverrides(dir, appName string) []string { return argocd.SourceOverrides(dir, appName) }

// The Config Management Plugin's environment is part of the Argo CD model.
type PluginEnv = argocd.PluginEnv

// ParsePluginEnv reads the plugin environment (see argocd.ParsePluginEnv).
func ParsePluginEnv(environ []string) (PluginEnv, error) { return argocd.ParsePluginEnv(environ) }

// ApplicationSettings returns how an Application's source index shapes
// rendering (see argocd.ApplicationSettings).
func ApplicationSettings(doc []byte, index int) (func(*App) error, error) {
	return argocd.ApplicationSettings(doc, index)
}
