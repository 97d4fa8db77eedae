// Package appset expands Argo CD ApplicationSets offline: it turns one
// decoded ApplicationSet object into the Application objects Argo CD's
// controller would generate from it, each annotated with the ApplicationSet
// and the generator that made it, so that discovery checks them like
// Applications written by hand.
//
// It reads only what it is given: the checkout (an fs.FS rooted at the
// repository, for git generators whose repoURL is this repository) and the
// cluster list of the gate's configuration (for clusters generators). It never
// talks to the network or to a cluster. A generator that needs a live service
// (pullRequest, scmProvider, clusterDecisionResource, plugin), a git generator
// on another repository and any generator field it does not know give an
// error naming the generator: they are never skipped, because an app the gate
// cannot see is an app whose images are not checked.
//
// Templates follow Argo CD's applicationset/utils: fasttemplate "{{key}}"
// replacement with unknown keys left as written, or, with goTemplate: true,
// text/template with sprig (without env, expandenv and getHostByName, which
// Argo CD removes) and goTemplateOptions. Per-generator templates are merged
// under spec.template, and templatePatch is applied last.
package appset
