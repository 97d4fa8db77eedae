// Package render is the contract between discovery and the renderers: the
// Rendered output of one app, the Options every renderer reads, and the
// Renderer interface each of render/plain, render/kustomize,
// render/jsonnetapp and render/helmapp implements. Renderers read the
// checkout only through a tree.Tree and never import package manifests.
package render

import (
	"context"
	"errors"
	"path/filepath"
	"strings"

	"github.com/gitops-gate/gitops-gate/manifests/extract"
	"github.com/gitops-gate/gitops-gate/manifests/helm"
	"github.com/gitops-gate/gitops-gate/manifests/model"
	"github.com/gitops-gate/gitops-gate/manifests/tree"
)

// Renderer renders one kind of app. dir is the app's directory, absolute
// and already confined; out carries the app in and its objects and errors
// out (errors are recorded in out.Err, never returned).
type Renderer interface {
	Render(ctx context.Context, dir string, out *Rendered)
}

// Options are the limits and the cluster a renderer works with (see
// manifests.Options, which they are taken from).
type Options struct {
	MaxFileSize      int64
	MaxDocumentNodes int
	// RepoURL is the repository's URL, as $ARGOCD_APP_SOURCE_REPO_URL.
	RepoURL string
	// KubeVersion and APIVersions are the destination cluster's, unless
	// the app sets its own.
	KubeVersion string
	APIVersions []string
	// HelmSandbox, when set, runs Helm templates and Jsonnet programs in a
	// bounded child process.
	HelmSandbox *helm.Sandbox
	// Parsed, when set, shares decoded repository files between the apps
	// of one scan (see Parsed).
	Parsed *Parsed
}

// ReadManifests parses one repository file into objects with exact lines.
func ReadManifests(t tree.Tree, abs string, maxNodes int) ([]model.Resource, error) {
	rel := t.Rel(abs)
	data, err := t.ReadFile(abs)
	if err != nil {
		var fe *model.FileError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, &model.FileError{File: rel, Err: err}
	}
	return decodeFile(rel, data, maxNodes)
}

func decodeFile(rel string, data []byte, maxNodes int) ([]model.Resource, error) {
	out, err := extract.DecodeManifests(data, extract.DecodeOptions{File: rel, MaxNodes: maxNodes})
	for i := range out {
		out[i].ExactLines = true
	}
	return out, err
}

// RedactErr shortens a library's (kustomize's, Helm's loader's) absolute
// paths under root to repository paths so that errors read the same on
// every machine.
func RedactErr(root string, err error) error {
	msg := strings.ReplaceAll(err.Error(), root+string(filepath.Separator), "")
	return errors.New(msg)
}
