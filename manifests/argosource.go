package manifests

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gitops-gate/gitops-gate/manifests/argocd"
	"github.com/gitops-gate/gitops-gate/manifests/helm"
	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

// mergeSourceFiles applies .argocd-source.yaml and
// .argocd-source-<instance>.yaml from the app's directory to source s, as
// Argo CD's mergeSourceParameters does before it picks the tool: each file
// is a JSON merge patch (RFC 7386) on the source, and only the tool
// settings may change (chart, path, repoURL and targetRevision are put
// back). It returns the files it applied. An override file that would apply
// only if the Application lived in another namespace than the one assumed
// is an error naming it: which one Argo CD reads cannot be known here.
func (r *Repo) mergeSourceFiles(s argocd.Source, dir, instance string) (argocd.Source, []string, error) {
	candidates := argocd.SourceOverrides(dir, instance)
	if len(candidates) == 0 {
		return s, nil, nil
	}
	apply := map[string]bool{
		filepath.Join(dir, argocd.SourceFile):                           true,
		filepath.Join(dir, fmt.Sprintf(argocd.AppSourceFile, instance)): true,
	}
	for _, c := range candidates {
		if !apply[c] {
			return s, nil, &FileError{File: r.rel(c), Err: fmt.Errorf("Argo CD merges this file into the Application's source when the Application is named %q there, which depends on the namespace Argo CD runs in (assumed %q, set with the gate's Argo CD namespace): %w",
				strings.TrimSuffix(strings.TrimPrefix(filepath.Base(c), ".argocd-source-"), ".yaml"), r.opts.ArgoCDNamespace, ErrUnsupported)}
		}
	}
	var merged any
	if s.Node != nil {
		if err := s.Node.Decode(&merged); err != nil {
			return s, nil, err
		}
	}
	merged = helm.JSONCompatible(merged)
	if merged == nil {
		merged = map[string]any{}
	}
	var applied []string
	for _, c := range candidates {
		data, err := r.readFile(c)
		if err != nil {
			return s, nil, err
		}
		rel := r.rel(c)
		if err := checkAliases(rel, data, r.opts.MaxDocumentNodes); err != nil {
			return s, nil, err
		}
		js, err := sigsyaml.YAMLToJSON(data)
		if err != nil {
			return s, nil, &FileError{File: rel, Err: err}
		}
		var patch any
		if err := json.Unmarshal(js, &patch); err != nil {
			return s, nil, &FileError{File: rel, Err: err}
		}
		merged = argocd.MergePatch(merged, patch)
		if _, ok := merged.(map[string]any); !ok {
			return s, nil, &FileError{File: rel, Err: errors.New("the merged source is not an object")}
		}
		applied = append(applied, rel)
	}
	m := merged.(map[string]any)
	for k, v := range map[string]string{"chart": s.Chart, "path": s.Path, "repoURL": s.RepoURL, "targetRevision": s.TargetRevision} {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	js, err := json.Marshal(m)
	if err != nil {
		return s, nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(js, &doc); err != nil || len(doc.Content) == 0 {
		return s, nil, fmt.Errorf("merging %s: %v", strings.Join(applied, ", "), err)
	}
	var out argocd.Source
	if err := doc.Content[0].Decode(&out); err != nil {
		return s, nil, fmt.Errorf("merging %s: %w", strings.Join(applied, ", "), err)
	}
	out.Node = doc.Content[0]
	return out, applied, nil
}
