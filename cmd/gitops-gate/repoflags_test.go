package main

import (
	"testing"

	"github.com/spf13/cobra"
)

// TestRepoFlagsCluster: the cluster Helm charts render for comes from the
// flags, else from KUBE_VERSION/KUBE_API_VERSIONS, which Argo CD's
// repo-server sets for a plugin (getPluginEnvs in
// reposerver/repository/repository.go), else the manifests default.
func TestRepoFlagsCluster(t *testing.T) {
	parse := func(args ...string) *repoFlags {
		var rf repoFlags
		cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
		rf.register(cmd)
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		return &rf
	}
	t.Setenv("KUBE_VERSION", "1.31.4")
	t.Setenv("KUBE_API_VERSIONS", "v1,apps/v1,acme.example/v1")
	o, err := parse().options()
	if err != nil {
		t.Fatal(err)
	}
	if o.KubeVersion != "1.31.4" || len(o.APIVersions) != 3 {
		t.Errorf("from Argo CD's env: %q %v", o.KubeVersion, o.APIVersions)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	rf := parse("--kube-version", "v1.29.0", "--api-versions", "x.example/v1", "--allow-source", "https://github.com/acme/other", "--argocd-namespace", "gitops")
	o, err = rf.options()
	if len(o.Revisions) != 0 {
		t.Errorf("revisions %v without --revision", o.Revisions)
	}
	defer rf.close()
	if err != nil {
		t.Fatal(err)
	}
	if o.KubeVersion != "v1.29.0" || len(o.APIVersions) != 1 || o.ArgoCDNamespace != "gitops" || len(o.AllowSources) != 1 || o.Sources == nil {
		t.Errorf("from flags: %+v", o)
	}
}
