// Package pin plans and applies the source edits that pin images to
// digests: for each image of a rendered app it finds where the value is
// written (a manifest's image field, a kustomization's images: entry, an
// Application's kustomize.images override, Helm values) and rewrites only
// that scalar, and it writes files back without following symlinks out of
// the repository. The digests come from the caller; this package talks to
// no registry.
package pin
