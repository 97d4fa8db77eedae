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
// It never talks to a registry and never reads outside the repository: every
// path, symlink and Kustomize base is checked against the repository root,
// remote Kustomize bases and Helm dependencies that would need a download are
// errors, and files and YAML documents are bounded in size and alias
// expansion. Errors are recorded per app (and per image for a field that is
// empty or not a string) instead of aborting the scan, so one broken overlay
// never hides the images of the others.
package manifests
