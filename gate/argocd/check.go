package argocd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// ErrChartSource marks a source from a Helm chart repository: the hook
// cannot render it, and refuses it rather than skip it.
var ErrChartSource = errors.New("sources from a Helm chart repository are not verified by gitops-gate")

// ErrSourceOverride marks an app directory that holds .argocd-source.yaml
// or .argocd-source-<app>.yaml.
var ErrSourceOverride = errors.New("Argo CD merges this file into the Application's source before it chooses the tool (reposerver/repository/repository.go, mergeSourceParameters), so it can change or bypass what gitops-gate renders; remove it, or move its settings into the Application")

// SourceOverrides returns the .argocd-source*.yaml files of an app
// directory. Argo CD reads .argocd-source.yaml and
// .argocd-source-<app>.yaml there (where <app> may be <namespace>_<name>),
// whatever the tool; every such name is reported, directories too.
func SourceOverrides(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // no such directory, no such file
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	var found []string
	for _, e := range entries {
		n := e.Name()
		if n == ".argocd-source.yaml" || strings.HasPrefix(n, ".argocd-source-") && strings.HasSuffix(n, ".yaml") {
			found = append(found, filepath.Join(dir, n))
		}
	}
	sort.Strings(found)
	return found, nil
}

// RefuseSourceOverrides returns an error naming the first override file of
// the app directory, if any.
func RefuseSourceOverrides(dir string) error {
	found, err := SourceOverrides(dir)
	if err != nil {
		return err
	}
	if len(found) > 0 {
		return fmt.Errorf("%s: %w", found[0], ErrSourceOverride)
	}
	return nil
}

// CheckSource judges source spec.Source of an Application in dir, a
// checkout of that source's repository at the commit being synced, rendered
// as Argo CD renders it: with the source's own helm, kustomize, directory
// or plugin settings (manifests.ApplicationSettings), after refusing
// override files Argo CD would merge, and with the rendered objects read
// back as Argo CD decodes them (PluginOutput): an image the gate's decoder
// did not see (a duplicate key, a list hidden in any kind) is refused. The
// PreSync hook calls it in local mode and the gate service calls it for
// the hook's requests, so both judge the same thing. A source that cannot
// be judged is an app error in the report.
func CheckSource(ctx context.Context, eng *gate.Engine, dir string, spec *Spec, mopts manifests.Options) (*gate.Report, error) {
	src, err := spec.SourceAt(spec.Source)
	if err != nil {
		return nil, err
	}
	rep, err := checkSource(ctx, eng, dir, spec, src, mopts)
	if err != nil {
		rep = &gate.Report{APIVersion: gate.APIVersion, Apps: []gate.AppVerdict{{Name: src.AppPath(), Path: src.AppPath(), Error: err.Error()}}}
		rep.Recount()
	}
	return rep, nil
}

func checkSource(ctx context.Context, eng *gate.Engine, dir string, spec *Spec, src *Source, mopts manifests.Options) (*gate.Report, error) {
	if src.Chart != "" {
		return nil, fmt.Errorf("Application %s %s: chart %s from %s: %w", spec.Name, src.Field, src.Chart, src.RepoURL, ErrChartSource)
	}
	path := src.AppPath()
	appDir := filepath.Join(dir, filepath.FromSlash(path))
	if rel, err := filepath.Rel(dir, appDir); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("Application %s %s: path %q leaves the repository", spec.Name, src.Field, src.Path)
	}
	if err := RefuseSourceOverrides(appDir); err != nil {
		return nil, fmt.Errorf("Application %s %s: %w", spec.Name, src.Field, err)
	}
	doc, err := spec.Document()
	if err != nil {
		return nil, err
	}
	adjust, err := manifests.ApplicationSettings(doc, spec.Source)
	if err != nil {
		return nil, err
	}
	adjust, destinations := RecordDestinations(adjust)
	stream, rep, err := eng.CheckAndPin(ctx, dir, gate.PinOptions{App: path, Adjust: adjust, Manifests: mopts})
	if err != nil {
		return nil, err
	}
	if len(rep.Apps) == 0 {
		return nil, fmt.Errorf("Application %s %s: no app at %s", spec.Name, src.Field, path)
	}
	if rep.Result == gate.StatusPass {
		if _, err := PluginOutput(stream, Approved(rep, destinations()), mopts.Extractors.Merge(eng.Extractors())); err != nil {
			return nil, fmt.Errorf("Application %s %s: %w", spec.Name, src.Field, err)
		}
	}
	return rep, nil
}
