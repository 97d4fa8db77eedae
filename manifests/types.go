package manifests

import "github.com/gitops-gate/gitops-gate/manifests/model"

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
	mapKey       = model.MapKey
	deref        = model.Deref
	scalarString = model.ScalarString
	stringValue  = model.StringValue
	describeNode = model.DescribeNode
	yamlLineRE   = model.YAMLLineRE
	checkAliases = model.CheckAliases
	expandedSize = model.ExpandedSize
	objectsOf    = model.ObjectsOf
	objectOf     = model.ObjectOf
)

// remoteKey identifies the checkout of a Git RemoteSource within an evaluation.
func remoteKey(s *RemoteSource) string { return normalizeRepoURL(s.RepoURL) + "@" + s.Revision }
