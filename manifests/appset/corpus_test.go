package appset

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// corpusDir is Argo CD's applicationset/examples (see testdata/corpus/README.md).
const corpusDir = "../../testdata/corpus/argocd-applicationset-examples"

// corpusClusters is the gate's configured cluster list for the corpus: one
// registered cluster, labelled as the examples' selectors expect, besides
// Argo CD's in-cluster default.
var corpusClusters = []Cluster{{
	Name: "engineering-dev", Server: "https://1.2.3.4",
	Labels: map[string]string{"environment": "dev", "use-kafka": "false"},
}}

// corpusWant is, per example file, the Applications Argo CD generates from
// it (summary(): name, source path, destination server/namespace) or the
// error that names the generator Argo CD would need a service (or another
// repository) for. Each was checked by reading the example: for instance
// git-directories-exclude-example.yaml writes path: '{{.path}}', which in
// Go templates prints the whole path map, as it does in Argo CD, and
// list-and-list-fasttemplate.yaml uses {{path}}, a key no list defines, so
// fasttemplate leaves it as written while the goTemplate version fails on
// missingkey=error.
var corpusWant = map[string]struct {
	apps []string
	err  string
}{
	"applications-sync-policies/create-only.yaml": {apps: []string{
		"engineering-dev-guestbook applicationset/examples/list-generator/guestbook/engineering-dev https://kubernetes.default.svc/guestbook",
		"engineering-prod-guestbook applicationset/examples/list-generator/guestbook/engineering-prod https://kubernetes.default.svc/guestbook"}},
	"applications-sync-policies/create-update.yaml": {apps: []string{
		"engineering-dev-guestbook applicationset/examples/list-generator/guestbook/engineering-dev https://kubernetes.default.svc/guestbook",
		"engineering-prod-guestbook applicationset/examples/list-generator/guestbook/engineering-prod https://kubernetes.default.svc/guestbook"}},
	"cluster/cluster-example-fasttemplate.yaml": {apps: []string{
		"in-cluster-guestbook guestbook https://kubernetes.default.svc/guestbook",
		"engineering-dev-guestbook guestbook https://1.2.3.4/guestbook"}},
	"cluster/cluster-example.yaml": {apps: []string{
		"in-cluster-guestbook guestbook https://kubernetes.default.svc/guestbook",
		"engineering-dev-guestbook guestbook https://1.2.3.4/guestbook"}},
	"clusterDecisionResource/ducktype-example-fasttemplate.yaml": {err: "generators[0]: clusterDecisionResource generator needs a live service"},
	"clusterDecisionResource/ducktype-example.yaml":              {err: "generators[0]: clusterDecisionResource generator needs a live service"},
	// a chart from another repository: the app has no path
	"design-doc/applicationset-fasttemplate.yaml": {apps: []string{
		"in-cluster-guestbook  https://kubernetes.default.svc/guestbook",
		"engineering-dev-guestbook  https://1.2.3.4/guestbook"}},
	"design-doc/applicationset.yaml": {apps: []string{
		"in-cluster-guestbook  https://kubernetes.default.svc/guestbook",
		"engineering-dev-guestbook  https://1.2.3.4/guestbook"}},
	// not goTemplate, yet written with {{.name}}: fasttemplate leaves it
	"design-doc/clusters.yaml": {apps: []string{
		"{{.name}}-guestbook  {{.server}}/guestbook"}},
	"design-doc/git-directory-discovery-fasttemplate.yaml": {err: `generators[0]: git: repoURL "https://github.com/infra-team/cluster-deployments.git": not the repository under review`},
	"design-doc/git-directory-discovery.yaml":              {err: `generators[0]: git: repoURL "https://github.com/infra-team/cluster-deployments.git": not the repository under review`},
	"design-doc/git-files-discovery-fasttemplate.yaml":     {err: `generators[0]: git: repoURL "https://github.com/infra-team/cluster-deployments.git": not the repository under review`},
	"design-doc/git-files-discovery.yaml":                  {err: `generators[0]: git: repoURL "https://github.com/infra-team/cluster-deployments.git": not the repository under review`},
	"design-doc/git-files-literal-fasttemplate.yaml":       {err: `generators[0]: git: repoURL "https://github.com/infra-team/cluster-deployments.git": not the repository under review`},
	"design-doc/git-files-literal.yaml":                    {err: `generators[0]: git: repoURL "https://github.com/infra-team/cluster-deployments.git": not the repository under review`},
	"design-doc/list-fasttemplate.yaml": {apps: []string{
		"engineering-dev-guestbook guestbook/engineering-dev https://1.2.3.4/guestbook",
		"engineering-prod-guestbook guestbook/engineering-prod https://2.4.6.8/guestbook",
		"finance-preprod-guestbook guestbook/finance-preprod https://9.8.7.6/guestbook"}},
	"design-doc/list.yaml": {apps: []string{
		"engineering-dev-guestbook guestbook/engineering-dev https://1.2.3.4/guestbook",
		"engineering-prod-guestbook guestbook/engineering-prod https://2.4.6.8/guestbook",
		"finance-preprod-guestbook guestbook/finance-preprod https://9.8.7.6/guestbook"}},
	// a proposal: "filters" was never implemented by Argo CD
	"design-doc/proposal/filters.yaml": {err: `generators[0]: clusters: field "filters" is not supported`},
	"design-doc/template-override-fasttemplate.yaml": {apps: []string{
		"engineering-dev-guestbook engineering-dev-override https://1.2.3.4/guestbook",
		"engineering-prod-guestbook engineering-prod-override2 https://1.2.3.4/guestbook"}},
	"design-doc/template-override.yaml": {apps: []string{
		"engineering-dev-guestbook engineering-dev-override https://1.2.3.4/guestbook",
		"engineering-prod-guestbook engineering-prod-override2 https://1.2.3.4/guestbook"}},
	"git-generator-directory/excludes/git-directories-exclude-example-fasttemplate.yaml": {apps: []string{
		"argo-workflows applicationset/examples/git-generator-directory/excludes/cluster-addons/argo-workflows https://kubernetes.default.svc/argo-workflows",
		"prometheus-operator applicationset/examples/git-generator-directory/excludes/cluster-addons/prometheus-operator https://kubernetes.default.svc/prometheus-operator"}},
	"git-generator-directory/excludes/git-directories-exclude-example.yaml": {apps: []string{
		"argo-workflows map[basename:argo-workflows basenameNormalized:argo-workflows path:applicationset/examples/git-generator-directory/excludes/cluster-addons/argo-workflows segments:[applicationset examples git-generator-directory excludes cluster-addons argo-workflows]] https://kubernetes.default.svc/argo-workflows",
		"prometheus-operator map[basename:prometheus-operator basenameNormalized:prometheus-operator path:applicationset/examples/git-generator-directory/excludes/cluster-addons/prometheus-operator segments:[applicationset examples git-generator-directory excludes cluster-addons prometheus-operator]] https://kubernetes.default.svc/prometheus-operator"}},
	"git-generator-directory/git-directories-example-fasttemplate.yaml": {apps: []string{
		"argo-workflows applicationset/examples/git-generator-directory/cluster-addons/argo-workflows https://kubernetes.default.svc/argo-workflows",
		"prometheus-operator applicationset/examples/git-generator-directory/cluster-addons/prometheus-operator https://kubernetes.default.svc/prometheus-operator"}},
	"git-generator-directory/git-directories-example.yaml": {apps: []string{
		"argo-workflows applicationset/examples/git-generator-directory/cluster-addons/argo-workflows https://kubernetes.default.svc/argo-workflows",
		"prometheus-operator applicationset/examples/git-generator-directory/cluster-addons/prometheus-operator https://kubernetes.default.svc/prometheus-operator"}},
	"git-generator-files-discovery/excludes/git-files-exclude-example-fasttemplate.yaml": {apps: []string{
		"engineering-prod-guestbook applicationset/examples/git-generator-files-discovery/apps/guestbook https://kubernetes.default.svc/guestbook"}},
	"git-generator-files-discovery/excludes/git-files-exclude-example.yaml": {apps: []string{
		"engineering-prod-guestbook applicationset/examples/git-generator-files-discovery/apps/guestbook https://kubernetes.default.svc/guestbook"}},
	"git-generator-files-discovery/git-generator-files-fasttemplate.yaml": {apps: []string{
		"engineering-dev-guestbook applicationset/examples/git-generator-files-discovery/apps/guestbook https://kubernetes.default.svc/guestbook",
		"engineering-prod-guestbook applicationset/examples/git-generator-files-discovery/apps/guestbook https://kubernetes.default.svc/guestbook"}},
	"git-generator-files-discovery/git-generator-files.yaml": {apps: []string{
		"engineering-dev-guestbook applicationset/examples/git-generator-files-discovery/apps/guestbook https://kubernetes.default.svc/guestbook",
		"engineering-prod-guestbook applicationset/examples/git-generator-files-discovery/apps/guestbook https://kubernetes.default.svc/guestbook"}},
	"list-generator/list-example-fasttemplate.yaml": {apps: []string{
		"engineering-dev-guestbook applicationset/examples/list-generator/guestbook/engineering-dev https://kubernetes.default.svc/guestbook",
		"engineering-prod-guestbook applicationset/examples/list-generator/guestbook/engineering-prod https://kubernetes.default.svc/guestbook"}},
	"list-generator/list-example.yaml": {apps: []string{
		"engineering-dev-guestbook applicationset/examples/list-generator/guestbook/engineering-dev https://kubernetes.default.svc/guestbook",
		"engineering-prod-guestbook applicationset/examples/list-generator/guestbook/engineering-prod https://kubernetes.default.svc/guestbook"}},
	// the selector asks for registered clusters: in-cluster is left out
	"matrix/cluster-and-git-fasttemplate.yaml": {apps: []string{
		"argo-workflows-engineering-dev applicationset/examples/matrix/cluster-addons/argo-workflows https://1.2.3.4/argo-workflows",
		"prometheus-operator-engineering-dev applicationset/examples/matrix/cluster-addons/prometheus-operator https://1.2.3.4/prometheus-operator"}},
	"matrix/cluster-and-git.yaml": {apps: []string{
		"argo-workflows-engineering-dev applicationset/examples/matrix/cluster-addons/argo-workflows https://1.2.3.4/argo-workflows",
		"prometheus-operator-engineering-dev applicationset/examples/matrix/cluster-addons/prometheus-operator https://1.2.3.4/prometheus-operator"}},
	"matrix/list-and-git-fasttemplate.yaml": {apps: []string{
		"argo-workflows-engineering-dev applicationset/examples/matrix/cluster-addons/argo-workflows https://1.2.3.4/argo-workflows",
		"argo-workflows-engineering-prod applicationset/examples/matrix/cluster-addons/argo-workflows https://2.4.6.8/argo-workflows",
		"prometheus-operator-engineering-dev applicationset/examples/matrix/cluster-addons/prometheus-operator https://1.2.3.4/prometheus-operator",
		"prometheus-operator-engineering-prod applicationset/examples/matrix/cluster-addons/prometheus-operator https://2.4.6.8/prometheus-operator"}},
	"matrix/list-and-git.yaml": {apps: []string{
		"argo-workflows-engineering-dev applicationset/examples/matrix/cluster-addons/argo-workflows https://1.2.3.4/argo-workflows",
		"argo-workflows-engineering-prod applicationset/examples/matrix/cluster-addons/argo-workflows https://2.4.6.8/argo-workflows",
		"prometheus-operator-engineering-dev applicationset/examples/matrix/cluster-addons/prometheus-operator https://1.2.3.4/prometheus-operator",
		"prometheus-operator-engineering-prod applicationset/examples/matrix/cluster-addons/prometheus-operator https://2.4.6.8/prometheus-operator"}},
	"matrix/list-and-list-fasttemplate.yaml": {apps: []string{
		"engineering-dev-1 {{path}} https://kubernetes.default.svc/{{path.basename}}",
		"engineering-dev-2 {{path}} https://kubernetes.default.svc/{{path.basename}}",
		"engineering-prod-1 {{path}} https://kubernetes.default.svc/{{path.basename}}",
		"engineering-prod-2 {{path}} https://kubernetes.default.svc/{{path.basename}}"}},
	"matrix/list-and-list.yaml":                           {err: `generators[0].matrix: failed to execute go template {{.path.basename}}`},
	"matrix/matrix-and-union-in-matrix-fasttemplate.yaml": {apps: matrixUnion},
	"matrix/matrix-and-union-in-matrix.yaml":              {apps: matrixUnion},
	// Kafka is turned off by the second clusters generator for the cluster
	// labelled use-kafka=false.
	"merge/merge-clusters-and-list-fasttemplate.yaml": {apps: []string{
		"in-cluster helm-guestbook https://kubernetes.default.svc/default",
		"engineering-dev helm-guestbook https://1.2.3.4/default"}},
	"merge/merge-clusters-and-list.yaml": {apps: []string{
		"in-cluster helm-guestbook https://kubernetes.default.svc/default",
		"engineering-dev helm-guestbook https://1.2.3.4/default"}},
	"merge/merge-two-matrixes-fasttemplate.yaml": {apps: []string{
		"in-cluster-guestbook-staging helm-guestbook https://kubernetes.default.svc/guestbook-non-prod",
		"in-cluster-guestbook-prod helm-guestbook https://kubernetes.default.svc/guestbook",
		"engineering-dev-guestbook-staging helm-guestbook https://1.2.3.4/guestbook-non-prod",
		"engineering-dev-guestbook-prod helm-guestbook https://1.2.3.4/guestbook"}},
	"merge/merge-two-matrixes.yaml": {apps: []string{
		"in-cluster-guestbook-staging helm-guestbook https://kubernetes.default.svc/guestbook-non-prod",
		"in-cluster-guestbook-prod helm-guestbook https://kubernetes.default.svc/guestbook",
		"engineering-dev-guestbook-staging helm-guestbook https://1.2.3.4/guestbook-non-prod",
		"engineering-dev-guestbook-prod helm-guestbook https://1.2.3.4/guestbook"}},
	"pull-request-generator/pull-request-example-fasttemplate.yaml":        {err: "generators[0]: pullRequest generator needs a live service"},
	"pull-request-generator/pull-request-example.yaml":                     {err: "generators[0]: pullRequest generator needs a live service"},
	"scm-provider-generator/scm-provider-example-fasttemplate-gitlab.yaml": {err: "generators[0]: scmProvider generator needs a live service"},
	"scm-provider-generator/scm-provider-example-fasttemplate.yaml":        {err: "generators[0]: scmProvider generator needs a live service"},
	"scm-provider-generator/scm-provider-example.yaml":                     {err: "generators[0]: scmProvider generator needs a live service"},
	"template-override/template-overrides-example-fasttemplate.yaml": {apps: []string{
		"engineering-dev-guestbook applicationset/examples/template-override/engineering-dev-override https://kubernetes.default.svc/guestbook"}},
	"template-override/template-overrides-example.yaml": {apps: []string{
		"engineering-dev-guestbook applicationset/examples/template-override/engineering-dev-override https://kubernetes.default.svc/guestbook"}},
}

// matrixUnion: merge (2 clusters) × matrix (2 suffixes × 2 prefixes).
var matrixUnion = []string{
	"first-engineering-dev-1 applicationset/examples/list-generator/guestbook/engineering-dev https://kubernetes.default.svc/first-engineering-dev-1",
	"second-engineering-dev-1 applicationset/examples/list-generator/guestbook/engineering-dev https://kubernetes.default.svc/second-engineering-dev-1",
	"first-engineering-dev-2 applicationset/examples/list-generator/guestbook/engineering-dev https://kubernetes.default.svc/first-engineering-dev-2",
	"second-engineering-dev-2 applicationset/examples/list-generator/guestbook/engineering-dev https://kubernetes.default.svc/second-engineering-dev-2",
	"first-engineering-prod-1 applicationset/examples/list-generator/guestbook/engineering-prod https://kubernetes.default.svc/first-engineering-prod-1",
	"second-engineering-prod-1 applicationset/examples/list-generator/guestbook/engineering-prod https://kubernetes.default.svc/second-engineering-prod-1",
	"first-engineering-prod-2 applicationset/examples/list-generator/guestbook/engineering-prod https://kubernetes.default.svc/first-engineering-prod-2",
	"second-engineering-prod-2 applicationset/examples/list-generator/guestbook/engineering-prod https://kubernetes.default.svc/second-engineering-prod-2",
}

// TestCorpusExamples expands every ApplicationSet of Argo CD's examples in a
// temporary repository laid out as argo-cd's own, through an os.Root so that
// the file system is the confined one discovery uses.
func TestCorpusExamples(t *testing.T) {
	root := t.TempDir()
	dst := filepath.Join(root, "applicationset", "examples")
	var sets []string
	err := filepath.WalkDir(corpusDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(corpusDir, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		if strings.Contains(string(data), "kind: ApplicationSet") {
			sets = append(sets, filepath.ToSlash(rel))
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sort.Strings(sets)
	opts := Options{
		Repo:       r.FS(),
		IsThisRepo: func(u string) bool { return u == "https://github.com/argoproj/argo-cd.git" },
		Clusters:   corpusClusters,
	}
	seen := map[string]bool{}
	for _, name := range sets {
		data, _ := os.ReadFile(filepath.Join(dst, name))
		var obj map[string]any
		if err := yaml.Unmarshal(data, &obj); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		want, ok := corpusWant[name]
		if !ok {
			t.Errorf("%s: no expectation", name)
			continue
		}
		seen[name] = true
		res := Expand(context.Background(), obj, opts)
		var got []string
		for _, a := range res.Apps {
			got = append(got, summary(a))
		}
		if want.err != "" {
			if len(res.Errors) == 0 || !strings.Contains(errors.Join(res.Errors...).Error(), want.err) {
				t.Errorf("%s: errors %v, want one containing %q", name, res.Errors, want.err)
			}
			continue
		}
		if len(res.Errors) > 0 {
			t.Errorf("%s: %v", name, res.Errors)
		}
		if !slices.Equal(got, want.apps) {
			t.Errorf("%s:\n got %q\nwant %q", name, got, want.apps)
		}
	}
	for name := range corpusWant {
		if !seen[name] {
			t.Errorf("expectation for %s, which is not an ApplicationSet of the corpus", name)
		}
	}
}

// TestGitFilesSymlinkOutOfRepo: a git files generator whose pattern matches
// a symlink to a file outside the repository is an error (the file is
// never read); a symlink inside the repository is read as Argo CD reads it.
func TestGitFilesSymlinkOutOfRepo(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "config.json"), []byte(`{"name":"stolen"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, d := range []string{"envs/evil", "envs/ok", "shared"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "shared", "config.json"), []byte(`{"name":"ok"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../shared/config.json", filepath.Join(root, "envs", "ok", "config.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "config.json"), filepath.Join(root, "envs", "evil", "config.json")); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	doc := func(pattern string) string {
		return `
metadata: {name: files}
spec:
  generators:
  - git: {repoURL: ` + thisRepo + `, files: [{path: '` + pattern + `'}]}
  template: {metadata: {name: '{{name}}'}, spec: {source: {path: '{{path}}'}}}`
	}
	res := expandYAML(t, doc("envs/*/config.json"), Options{Repo: r.FS()})
	if len(res.Apps) != 0 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "envs/evil/config.json") {
		t.Errorf("escaping symlink: apps %d, errors %v", len(res.Apps), res.Errors)
	}
	res = expandYAML(t, doc("envs/ok/config.json"), Options{Repo: r.FS()})
	if len(res.Errors) != 0 || len(res.Apps) != 1 || res.Apps[0].Name() != "ok" {
		t.Errorf("in-repository symlink: apps %v, errors %v", res.Apps, res.Errors)
	}
}
