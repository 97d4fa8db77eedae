package tree

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitops-gate/gitops-gate/manifests/model"
)

// IsManifestFile reports whether a file name is read as YAML or JSON manifests.
func IsManifestFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// SkipDir reports directories that never hold an app's manifests: hidden
// directories (.git, .github) are CI and tooling, not deployments.
func SkipDir(d fs.DirEntry, isRoot bool) bool {
	return !isRoot && strings.HasPrefix(d.Name(), ".")
}

// DetectKind classifies a directory the way Argo CD does: a Helm chart if it
// has Chart.yaml, a Kustomize app if it has a kustomization file, Jsonnet if
// it has .jsonnet files and no manifests, else plain YAML.
func DetectKind(dir string) model.Kind {
	if FileExists(filepath.Join(dir, "Chart.yaml")) {
		return model.KindHelm
	}
	if KustomizationFile(dir) != "" {
		return model.KindKustomize
	}
	entries, _ := os.ReadDir(dir)
	jsonnet, manifests := false, false
	for _, e := range entries {
		switch {
		case e.IsDir():
		case filepath.Ext(e.Name()) == ".jsonnet":
			jsonnet = true
		case IsManifestFile(e.Name()):
			manifests = true
		}
	}
	if jsonnet && !manifests {
		return model.KindJsonnet
	}
	return model.KindPlain
}

// KustomizationFileNames are the names kustomize accepts, in its order.
var KustomizationFileNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// KustomizationFile returns the path of dir's kustomization file, or "".
func KustomizationFile(dir string) string {
	for _, n := range KustomizationFileNames {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// FileExists reports whether p is a regular file.
func FileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
