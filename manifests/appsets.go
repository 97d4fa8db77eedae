package manifests

import (
	"context"
	"errors"
	"fmt"
	"github.com/gitops-gate/gitops-gate/manifests/argocd"
	"io/fs"
	"os"

	"github.com/gitops-gate/gitops-gate/manifests/appset"
	yaml "go.yaml.in/yaml/v3"
)

// Cluster is one Argo CD cluster of the gate's configuration (name, server,
// labels), for ApplicationSet clusters generators.
type Cluster = appset.Cluster

// expandApplicationSets expands each ApplicationSet offline (package
// appset) into the Applications Argo CD would generate from it, read from
// this checkout when a git generator's repoURL is this repository. A
// generator that cannot be expanded becomes an app with an error: the
// Applications it would make are not seen, so they must not pass silently.
func (r *Repo) expandApplicationSets(ctx context.Context, sets []*Resource, repoURL string) ([]*argocd.Application, []App) {
	if len(sets) == 0 {
		return nil, nil
	}
	var root fs.FS
	if rt, err := os.OpenRoot(r.root); err == nil {
		defer rt.Close()
		root = rt.FS()
	}
	opts := appset.Options{
		Repo:        root,
		IsThisRepo:  func(u string) bool { return repoURL != "" && argocd.NormalizeRepoURL(u) == repoURL },
		Clusters:    r.opts.Clusters,
		MaxFileSize: r.opts.MaxFileSize,
	}
	var apps []*argocd.Application
	var errApps []App
	for _, res := range sets {
		where := fmt.Sprintf("%s:%d", res.File, res.Line)
		fail := func(gen string, err error) {
			errApps = append(errApps, App{
				Name: res.Name + "[" + gen + "]", Path: ".", Kind: KindPlain, DefinedIn: where,
				GeneratedBy: &GeneratedBy{ApplicationSet: res.Name, Generator: gen, File: where},
				Err:         fmt.Errorf("%s: %w", where, err),
			})
		}
		var obj map[string]any
		if err := res.Node.Decode(&obj); err != nil {
			fail("spec", fmt.Errorf("ApplicationSet %s: %w", res.Name, err))
			continue
		}
		out := appset.Expand(ctx, obj, opts)
		for _, err := range out.Errors {
			gen := "spec"
			var ge *appset.GeneratorError
			if errors.As(err, &ge) {
				gen = ge.Generator
			}
			if repoURL == "" && errors.Is(err, appset.ErrOtherRepo) {
				err = fmt.Errorf("%w (the repository's URL is not known: set --repo-url, or the checkout's origin)", err)
			}
			fail(gen, err)
		}
		for _, g := range out.Apps {
			var n yaml.Node
			if err := n.Encode(g.Object); err != nil {
				fail(g.Generator, fmt.Errorf("ApplicationSet %s: encoding Application %s: %w", res.Name, g.Name(), err))
				continue
			}
			gres := &Resource{
				ResourceID: ResourceID{APIVersion: "argoproj.io/v1alpha1", Kind: "Application", Name: g.Name()},
				File:       res.File, Line: res.Line, Node: &n,
			}
			a, err := argocd.Parse(gres)
			if err != nil {
				fail(g.Generator, fmt.Errorf("generated Application %s: %w", g.Name(), err))
				continue
			}
			a.Instance = a.InstanceName(r.opts.ArgoCDNamespace)
			a.GeneratedBy = &GeneratedBy{ApplicationSet: res.Name, Generator: g.Generator, File: where}
			apps = append(apps, a)
		}
	}
	return apps, errApps
}
