package manifests

import (
	"context"
	"fmt"

	"github.com/gitops-gate/gitops-gate/manifests/argocd"
)

// Sources outside the checkout that issue 18 added: OCI artifacts as an
// Application's source, and the `ref:` sources of $ref/… Helm value files.
// Discovery calls into this file; render reads valueRepos.

// artifactSourceApp fetches the OCI artifact (Argo CD 3.1+: an oci://
// repoURL without a chart) of an allowed registry that source i of
// Application a names, at its targetRevision (a tag, a digest or a semver
// range), and builds its app from the source's path in the artifact's
// content, as any directory (plain, Kustomize or Helm); the app's Remote
// shows the tag and the manifest digest the revision resolved to.
func (r *Repo) artifactSourceApp(ctx context.Context, a *argocd.Application, i int, s argocd.Source, fail func(error) App) App {
	fa, err := r.fetchArtifact(ctx, s.RepoURL, s.TargetRevision)
	if err != nil {
		return fail(fmt.Errorf("Application %s (%s): %s: OCI artifact %s at %q from an allowed source: %w", a.Name, a.Where(), a.SourceField(i), s.RepoURL, s.TargetRevision, err))
	}
	app := fa.repo.argoSourceApp(a, i, s)
	app.Remote = &RemoteSource{RepoURL: s.RepoURL, Revision: s.TargetRevision, Version: fa.artifact.Tag, Digest: fa.artifact.Digest}
	return app
}

// resolveValueSources finds the ref sources the $ref/… value files of
// app (source i of a) read, as Argo CD does (runManifestGenAsync): the
// ref's repository at its targetRevision, whatever the ref source's path;
// the checkout when that is this repository at the revision under review,
// else fetched when the gate's configuration allows it (or it is this
// repository at another revision), else an app error naming the ref. A
// repository referenced at two revisions, or at another commit than the
// source it renders, is an error, as in Argo CD.
func (r *Repo) resolveValueSources(ctx context.Context, a *argocd.Application, i int, s argocd.Source, repoURL string, app *App) {
	if !a.Multi || app.Err != nil {
		return
	}
	done := map[string]bool{}
	revisions := map[string]string{} // repository -> revision
	for j, vf := range app.Helm.ValueFiles {
		name, _, ok := argocd.RefValueFile(vf)
		if !ok || done[name] {
			continue
		}
		done[name] = true
		fail := func(err error) {
			app.Err = fmt.Errorf("Application %s (%s): %s.helm.valueFiles[%d] %q: %w", a.Name, a.Where(), a.SourceField(i), j, vf, err)
			app.ValueSources = nil
		}
		ref, err := a.RefSource(name)
		if err != nil {
			fail(err)
			return
		}
		repo := argocd.NormalizeRepoURL(ref.RepoURL)
		if prev, ok := revisions[repo]; ok && prev != ref.TargetRevision {
			fail(fmt.Errorf("cannot reference multiple revisions of the same repository (%s at %q and %q), as Argo CD refuses", ref.RepoURL, prev, ref.TargetRevision))
			return
		}
		revisions[repo] = ref.TargetRevision
		vs := RemoteSource{Ref: name, RepoURL: ref.RepoURL, Revision: ref.TargetRevision}
		switch {
		case ref.IsOCI():
			fail(fmt.Errorf("ref source $%s is the OCI repository %s: Argo CD reads value files from Git ref sources only: %w", name, ref.RepoURL, ErrUnsupported))
			return
		case repo == repoURL && r.isThisRevision(ref.TargetRevision):
			// The checkout under review.
		case repo == repoURL || r.sourceAllowed(ref.RepoURL):
			rr, err := r.remote(ctx, ref.RepoURL, ref.TargetRevision)
			if err != nil {
				fail(fmt.Errorf("ref source $%s, %s at %q: %w", name, ref.RepoURL, orHEAD(ref.TargetRevision), err))
				return
			}
			vs.Commit = rr.commit
		default:
			fail(fmt.Errorf("ref source $%s is repository %s, which is not this repository (%s) and the gate's configuration does not allow it (--allow-source), so the values it gives cannot be checked: %w",
				name, ref.RepoURL, orUnknown(repoURL), ErrUnsupported))
			return
		}
		if repo == argocd.NormalizeRepoURL(s.RepoURL) {
			commit := ""
			if app.Remote != nil {
				commit = app.Remote.Commit
			}
			if commit != vs.Commit {
				fail(fmt.Errorf("ref source $%s is %s at %q, another revision of the repository this source renders (%q): Argo CD refuses to reference a different revision of the same repository",
					name, ref.RepoURL, orHEAD(ref.TargetRevision), orHEAD(s.TargetRevision)))
				return
			}
		}
		app.ValueSources = append(app.ValueSources, vs)
	}
}

// valueRepos are the repositories of app's ref sources (App.ValueSources)
// by ref name: r itself for the checkout under review, else the checkout
// discovery fetched.
func (r *Repo) valueRepos(app App) (map[string]*Repo, error) {
	values := map[string]*Repo{}
	for _, vs := range app.ValueSources {
		if vs.Commit == "" {
			values[vs.Ref] = r
			continue
		}
		v, ok := r.remotes.Load(remoteKey(&vs))
		if !ok || v.(*remoteRepo).repo == nil {
			return nil, fmt.Errorf("app %s: ref source $%s (%s) was not fetched", app.Name, vs.Ref, vs.RepoURL)
		}
		values[vs.Ref] = v.(*remoteRepo).repo
	}
	return values, nil
}
