// Package synthrepo writes synthetic GitOps repositories for benchmarks: many
// small Kustomize apps in the shape teams use (a base and a prod overlay that
// changes the namespace, a name prefix and an image tag).
package synthrepo

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteKustomizeApps writes n overlay apps under dir and returns the overlay
// paths, relative to dir.
func WriteKustomizeApps(dir string, n int) ([]string, error) {
	var overlays []string
	for i := 0; i < n; i++ {
		app := fmt.Sprintf("apps/app-%03d", i)
		files := map[string]string{
			app + "/base/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- deployment.yaml\n- service.yaml\n",
			app + "/base/deployment.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%[1]03d
  labels: {app: app-%[1]03d}
spec:
  replicas: 2
  selector:
    matchLabels: {app: app-%[1]03d}
  template:
    metadata:
      labels: {app: app-%[1]03d}
    spec:
      initContainers:
      - name: migrate
        image: registry.example.com/team-%[2]d/migrate:1.0.%[1]d
      containers:
      - name: app
        image: registry.example.com/team-%[2]d/app-%[1]03d:1.0.0
        ports:
        - containerPort: 8080
      - name: proxy
        image: registry.example.com/platform/proxy:2.3.1
`, i, i%20),
			app + "/base/service.yaml":                fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: app-%03d\nspec:\n  selector: {app: app-%03d}\n  ports:\n  - port: 80\n    targetPort: 8080\n", i, i),
			app + "/overlays/prod/kustomization.yaml": fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: team-%d\nnamePrefix: prod-\nresources:\n- ../../base\nimages:\n- name: registry.example.com/team-%d/app-%03d\n  newTag: 1.0.%d\n", i%20, i%20, i, i+1),
		}
		for p, content := range files {
			full := filepath.Join(dir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
				return nil, err
			}
		}
		overlays = append(overlays, app+"/overlays/prod")
	}
	return overlays, nil
}
