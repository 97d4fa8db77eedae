// Package extract reads rendered Kubernetes objects: it decodes manifests
// the way the applier (kubectl, Argo CD) does, so that what is extracted is
// what would run, and it extracts the container images of every pod spec,
// known custom resource and configured ImageExtractor field, and warns about
// image-like values it does not read. It knows nothing of apps, renderers or
// registries.
package extract
