// Package manifests turns a checkout of a GitOps repository into the list of
// container images its apps would run, each with the place it is written.
//
// It discovers apps (from .gitops-gate.yaml, from Argo CD Application
// manifests and the Applications ApplicationSets generate, expanded offline
// by package appset, or from the layout of the tree; see docs/apps.md),
// renders each one (plain YAML, Kustomize through krusty, Helm through the
// Helm SDK, Jsonnet through package jsonnet; Helm and Jsonnet in a bounded
// child process when a HelmSandbox is set), and extracts image references from the fields Kubernetes actually runs:
// the containers, init containers and ephemeral containers of every pod spec,
// image volumes, and any custom resource field named by an ImageExtractor.
// An `image:` key anywhere else (a ConfigMap, a policy CRD) is not an image.
//
// While an app renders, everything it reads is recorded with a hash (its
// InputSet: files, directory listings, paths probed), and Scan can carry an
// app's entry over from an earlier scan instead of rendering it
// (ScanOptions.Reuse); gate/incremental decides when that is safe.
//
// It never talks to a registry and never reads outside the repository: every
// path, symlink and Kustomize base is checked against the repository root,
// remote Kustomize bases and Helm dependencies that would need a download are
// errors, and files and YAML documents are bounded in size and alias
// expansion. Errors are recorded per app (and per image for a field that is
// empty or not a string) instead of aborting the scan, so one broken overlay
// never hides the images of the others.
//
// # Layout
//
// The work is split along the data flow; the arrows run one way (each
// package imports only those below it) and nothing here talks to a
// registry:
//
//	manifests          discovery and orchestration: Open a Repo, find its apps
//	                   (.gitops-gate.yaml, Argo CD Applications and
//	                   ApplicationSets, the layout of the tree, allowed
//	                   remote sources and charts), hand each to its renderer
//	                   and scan; aliases and thin wrappers keep the names of
//	                   the packages below where callers have always used them
//	manifests/pin      pinning images to digests in their sources: plan,
//	                   apply, write back, diff (through a small Tree interface)
//	manifests/render/helmapp    the repository side of Helm apps: chart file
//	                   checks, values, rendering through package helm
//	manifests/render/jsonnetapp Jsonnet apps: file choice, build environment,
//	                   decoding (package jsonnet evaluates)
//	manifests/render/kustomize  Kustomize apps through krusty on a confined
//	                   file system, local-only checks, source locators
//	manifests/render/plain      directory apps (Argo CD's file choice,
//	                   include/exclude globs)
//	manifests/render   the renderers' contract: Rendered, Options, the
//	                   Renderer interface, ReadManifests
//	manifests/argocd   the Argo CD Application model (sources, tool settings,
//	                   env substitution, .argocd-source files, kustomize.images
//	                   syntax, repo URLs, the plugin's ARGOCD_ENV_ settings)
//	manifests/appset   ApplicationSet expansion, offline
//	manifests/helm     Helm's template engine for one chart, and the Sandbox
//	                   child processes (Helm and Jsonnet) with their limits
//	manifests/jsonnet  Jsonnet evaluation confined to the repository
//	manifests/extract  decoding as the applier does, image extraction,
//	                   unknown-image warnings
//	manifests/tree     the confined, cached file access (Tree: Root, Rel,
//	                   Abs, Confine, ReadFile) every renderer and discovery
//	                   read through, and the layout rules (DetectKind)
//	manifests/model    the shared types (App, Kind, Resource, errors) and
//	                   the bounded YAML helpers; imports nothing above
//
// Renderers never import this package: the cross calls that would make a
// cycle (a plain app's Jsonnet files, a chart's missing dependencies, which
// need this package's fetchers) are functions given to them when they are
// built (see renderers.go).
package manifests
