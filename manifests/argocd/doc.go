// Package argocd is the model of an Argo CD Application as gitops-gate reads
// it: parsing spec.source and spec.sources, the settings each tool honours
// (an unknown one that could change the output is an error), Argo CD's
// environment substitution, the .argocd-source override files and repository
// URL normalisation, and the environment gitops-gate's Config Management
// Plugin is given (ARGOCD_ENV_*, an Application's plugin settings). It turns an Application's source into a model.App; it
// reads no files and renders nothing.
package argocd
