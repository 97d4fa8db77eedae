package appset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"sigs.k8s.io/yaml"
)

const thisRepo = "https://github.com/example/gitops.git"

// summary is what a test compares: name, source path, destination.
func summary(a App) string {
	path, _ := dig(a.Object, "spec", "source", "path").(string)
	dest, _ := dig(a.Object, "spec", "destination", "server").(string)
	if dest == "" {
		dest, _ = dig(a.Object, "spec", "destination", "name").(string)
	}
	ns, _ := dig(a.Object, "spec", "destination", "namespace").(string)
	return fmt.Sprintf("%s %s %s/%s", a.Name(), path, dest, ns)
}

func expandYAML(t *testing.T, doc string, opts Options) *Result {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatalf("bad test input: %v", err)
	}
	if opts.IsThisRepo == nil {
		opts.IsThisRepo = func(u string) bool { return u == thisRepo }
	}
	return Expand(context.Background(), obj, opts)
}

func repoFS() fstest.MapFS {
	return fstest.MapFS{
		"apps/guestbook/deploy.yaml":        {Data: []byte("kind: Deployment")},
		"apps/billing/deploy.yaml":          {Data: []byte("kind: Deployment")},
		"apps/experimental/deploy.yaml":     {Data: []byte("kind: Deployment")},
		"apps/.hidden/deploy.yaml":          {Data: []byte("kind: Deployment")},
		"clusters/dev/config.json":          {Data: []byte(`{"cluster":{"name":"dev","address":"https://dev"},"replicas":2}`)},
		"clusters/prod/config.json":         {Data: []byte(`{"cluster":{"name":"prod","address":"https://prod"},"replicas":5}`)},
		"clusters/prod/skip/config.json":    {Data: []byte(`{"cluster":{"name":"skipped","address":"https://skip"}}`)},
		"clusters/list/config.yaml":         {Data: []byte("- cluster: {name: a, address: https://a}\n- cluster: {name: b, address: https://b}\n")},
		"envs/staging/apps/web/deploy.yaml": {Data: []byte("kind: Deployment")},
	}
}

var testClusters = []Cluster{
	{Name: "prod-eu", Server: "https://prod-eu", Labels: map[string]string{"env": "prod", "region": "eu"}},
	{Name: "prod-us", Server: "https://prod-us", Labels: map[string]string{"env": "prod", "region": "us"}},
	{Name: "Staging_1", Server: "https://staging", Labels: map[string]string{"env": "staging"}},
}

// TestExpand is a table of ApplicationSets and the Applications Argo CD
// generates from them. "mirrors" names the upstream test
// (argoproj/argo-cd applicationset/...) whose case the row follows.
func TestExpand(t *testing.T) {
	cases := []struct {
		name    string
		mirrors string
		doc     string
		want    []string // summary() of each app, in order
		wantErr string   // substring of the (one) error; "" = none
	}{{
		name:    "list fasttemplate",
		mirrors: "generators/list_test.go TestGenerateListParams; utils/utils_test.go TestRenderTemplateParams",
		doc: `
metadata: {name: guestbook}
spec:
  generators:
  - list:
      elements:
      - {cluster: dev, url: https://dev}
      - {cluster: prod, url: https://prod, values: {ns: prod-ns}}
  template:
    metadata: {name: '{{cluster}}-guestbook'}
    spec:
      source: {repoURL: ` + thisRepo + `, path: 'apps/{{cluster}}'}
      destination: {server: '{{url}}', namespace: '{{values.ns}}'}`,
		// an unknown key stays as written ({{values.ns}} for dev)
		want: []string{"dev-guestbook apps/dev https://dev/{{values.ns}}", "prod-guestbook apps/prod https://prod/prod-ns"},
	}, {
		name:    "list elementsYaml goTemplate",
		mirrors: "generators/list_test.go TestGenerateListParams (elementsYaml)",
		doc: `
metadata: {name: comps}
spec:
  goTemplate: true
  generators:
  - list:
      elementsYaml: "{{ .key.components | toJson }}"
      elements: [{name: one, ns: a}]
  template:
    metadata: {name: '{{.name}}'}
    spec:
      source: {repoURL: ` + thisRepo + `, path: 'charts/{{.name}}'}
      destination: {server: https://kubernetes.default.svc, namespace: '{{.ns}}'}`,
		wantErr: "elementsYaml",
	}, {
		name:    "git directories with excludes",
		mirrors: "generators/git_test.go TestGitGenerateParamsFromDirectories (It filters application according to the paths / exclude)",
		doc: `
metadata: {name: dirs}
spec:
  generators:
  - git:
      repoURL: ` + thisRepo + `
      revision: HEAD
      directories:
      - path: apps/*
      - path: apps/experimental
        exclude: true
  template:
    metadata: {name: '{{path.basename}}'}
    spec:
      source: {repoURL: ` + thisRepo + `, path: '{{path}}'}
      destination: {server: https://kubernetes.default.svc, namespace: '{{path[1]}}'}`,
		want: []string{"billing apps/billing https://kubernetes.default.svc/billing", "guestbook apps/guestbook https://kubernetes.default.svc/guestbook"},
	}, {
		name:    "git directories: exclude beats include in either order",
		mirrors: "generators/git_test.go TestGitGenerateParamsFromDirectories (exclude takes precedence)",
		doc: `
metadata: {name: dirs}
spec:
  goTemplate: true
  generators:
  - git:
      repoURL: ` + thisRepo + `
      directories:
      - {path: apps/b*, exclude: true}
      - {path: apps/*}
  template:
    metadata: {name: '{{.path.basenameNormalized}}'}
    spec:
      source: {repoURL: ` + thisRepo + `, path: '{{.path.path}}'}
      destination: {server: https://kubernetes.default.svc, namespace: '{{index .path.segments 1}}'}`,
		want: []string{"experimental apps/experimental https://kubernetes.default.svc/experimental", "guestbook apps/guestbook https://kubernetes.default.svc/guestbook"},
	}, {
		name:    "git files JSON flattened, with ** and exclude",
		mirrors: "generators/git_test.go TestGitGenerateParamsFromFiles (flattened keys, path params)",
		doc: `
metadata: {name: files}
spec:
  generators:
  - git:
      repoURL: ` + thisRepo + `
      files:
      - path: clusters/**/config.json
      - path: clusters/prod/skip/config.json
        exclude: true
  template:
    metadata: {name: '{{cluster.name}}-{{path.basename}}-{{replicas}}'}
    spec:
      source: {repoURL: ` + thisRepo + `, path: 'apps/guestbook'}
      destination: {server: '{{cluster.address}}', namespace: '{{path[1]}}'}`,
		want: []string{"dev-dev-2 apps/guestbook https://dev/dev", "prod-prod-5 apps/guestbook https://prod/prod"},
	}, {
		name:    "git files YAML list, goTemplate, pathParamPrefix and values",
		mirrors: "generators/git_test.go TestGitGenerateParamsFromFilesGoTemplate (array of objects, pathParamPrefix, values)",
		doc: `
metadata: {name: files}
spec:
  goTemplate: true
  goTemplateOptions: [missingkey=error]
  generators:
  - git:
      repoURL: ` + thisRepo + `
      pathParamPrefix: cfg
      values: {ns: 'ns-{{.cluster.name}}'}
      files: [{path: clusters/list/config.yaml}]
  template:
    metadata: {name: '{{.cluster.name}}-{{.cfg.path.filenameNormalized}}'}
    spec:
      source: {repoURL: ` + thisRepo + `, path: '{{.cfg.path.path}}'}
      destination: {server: '{{.cluster.address}}', namespace: '{{.values.ns}}'}`,
		want: []string{"a-config.yaml clusters/list https://a/ns-a", "b-config.yaml clusters/list https://b/ns-b"},
	}, {
		name:    "git generator on another repository is an error naming it",
		mirrors: "(gate rule: the gate reads only this checkout)",
		doc: `
metadata: {name: other}
spec:
  generators:
  - git: {repoURL: https://github.com/someone/else.git, directories: [{path: '*'}]}
  template: {metadata: {name: x}, spec: {}}`,
		wantErr: `generators[0]: git: repoURL "https://github.com/someone/else.git": not the repository under review`,
	}, {
		name:    "matrix of git directories × list",
		mirrors: "generators/matrix_test.go TestMatrixGenerate (git × list)",
		doc: `
metadata: {name: matrix}
spec:
  goTemplate: true
  generators:
  - matrix:
      generators:
      - git:
          repoURL: ` + thisRepo + `
          directories: [{path: apps/*}, {path: apps/billing, exclude: true}]
      - list:
          elements: [{cluster: dev, url: https://dev}, {cluster: prod, url: https://prod}]
  template:
    metadata: {name: '{{.path.basename}}-{{.cluster}}'}
    spec:
      source: {repoURL: ` + thisRepo + `, path: '{{.path.path}}'}
      destination: {server: '{{.url}}', namespace: '{{.path.basename}}'}`,
		want: []string{
			"experimental-dev apps/experimental https://dev/experimental", "experimental-prod apps/experimental https://prod/experimental",
			"guestbook-dev apps/guestbook https://dev/guestbook", "guestbook-prod apps/guestbook https://prod/guestbook",
		},
	}, {
		name:    "matrix: second generator interpolated with the first's params",
		mirrors: "generators/matrix_test.go TestInterpolatedMatrixGenerate",
		doc: `
metadata: {name: interp}
spec:
  generators:
  - matrix:
      generators:
      - list: {elements: [{env: staging}]}
      - git:
          repoURL: ` + thisRepo + `
          directories: [{path: 'envs/{{env}}/apps/*'}]
  template:
    metadata: {name: '{{env}}-{{path.basename}}'}
    spec:
      source: {repoURL: ` + thisRepo + `, path: '{{path}}'}
      destination: {server: https://kubernetes.default.svc, namespace: '{{env}}'}`,
		want: []string{"staging-web envs/staging/apps/web https://kubernetes.default.svc/staging"},
	}, {
		name:    "matrix with one generator is an error",
		mirrors: "generators/matrix_test.go TestMatrixGenerate (ErrLessThanTwoGenerators)",
		doc: `
metadata: {name: m}
spec:
  generators:
  - matrix: {generators: [{list: {elements: [{a: b}]}}]}
  template: {metadata: {name: x}, spec: {}}`,
		wantErr: "matrix supports exactly two",
	}, {
		name:    "merge by key (fasttemplate override)",
		mirrors: "generators/merge_test.go TestMergeGenerate (merge two lists by one key)",
		doc: `
metadata: {name: merge}
spec:
  generators:
  - merge:
      mergeKeys: [server]
      generators:
      - clusters: {values: {kafka: 'true', redis: 'false'}}
      - list: {elements: [{server: https://prod-eu, values.redis: 'true'}]}
  template:
    metadata: {name: '{{name}}-k{{values.kafka}}-r{{values.redis}}'}
    spec:
      source: {repoURL: ` + thisRepo + `, path: apps/guestbook}
      destination: {server: '{{server}}', namespace: default}`,
		want: []string{
			"in-cluster-ktrue-rfalse apps/guestbook https://kubernetes.default.svc/default",
			"prod-eu-ktrue-rtrue apps/guestbook https://prod-eu/default",
			"prod-us-ktrue-rfalse apps/guestbook https://prod-us/default",
			"Staging_1-ktrue-rfalse apps/guestbook https://staging/default",
		},
	}, {
		name:    "merge: duplicate keys in a later generator is an error",
		mirrors: "generators/merge_test.go TestMergeGenerate (ErrNonUniqueParamSets)",
		doc: `
metadata: {name: merge}
spec:
  generators:
  - merge:
      mergeKeys: [a]
      generators:
      - list: {elements: [{a: '1'}]}
      - list: {elements: [{a: '1'}, {a: '1'}]}
  template: {metadata: {name: x}, spec: {}}`,
		wantErr: "not unique",
	}, {
		name:    "clusters with a selector (in-cluster left out), goTemplate labels",
		mirrors: "generators/cluster_test.go TestGenerateParams (selector matchLabels / matchExpressions)",
		doc: `
metadata: {name: clusters}
spec:
  goTemplate: true
  generators:
  - clusters:
      selector:
        matchLabels: {env: prod}
        matchExpressions: [{key: region, operator: In, values: [eu, ap]}]
  template:
    metadata: {name: '{{.nameNormalized}}-{{.metadata.labels.region}}'}
    spec:
      source: {repoURL: ` + thisRepo + `, path: apps/guestbook}
      destination: {server: '{{.server}}', namespace: guestbook}`,
		want: []string{"prod-eu-eu apps/guestbook https://prod-eu/guestbook"},
	}, {
		name:    "clusters without selector include in-cluster; nameNormalized",
		mirrors: "generators/cluster_test.go TestGenerateParams (no selector: local cluster listed)",
		doc: `
metadata: {name: clusters}
spec:
  generators:
  - clusters: {}
  template:
    metadata: {name: '{{nameNormalized}}'}
    spec:
      source: {repoURL: ` + thisRepo + `, path: apps/guestbook}
      destination: {server: '{{server}}', namespace: '{{metadata.labels.env}}'}`,
		want: []string{
			"in-cluster apps/guestbook https://kubernetes.default.svc/{{metadata.labels.env}}",
			"prod-eu apps/guestbook https://prod-eu/prod", "prod-us apps/guestbook https://prod-us/prod",
			"staging-1 apps/guestbook https://staging/staging",
		},
	}, {
		name:    "generator selector post-filter",
		mirrors: "generators/generator_spec_processor_test.go TestTransForm (selector on list params)",
		doc: `
metadata: {name: sel}
spec:
  generators:
  - list: {elements: [{name: a, env: prod}, {name: b, env: dev}, {name: c}]}
    selector:
      matchExpressions: [{key: env, operator: NotIn, values: [dev]}]
  template:
    metadata: {name: '{{name}}'}
    spec: {source: {repoURL: ` + thisRepo + `, path: 'apps/{{name}}'}, destination: {server: s, namespace: ns}}`,
		want: []string{"a apps/a s/ns", "c apps/c s/ns"},
	}, {
		name:    "goTemplate with index and default, sprig",
		mirrors: "utils/utils_test.go TestRenderTemplateParamsGoTemplate (index, default, sprig)",
		doc: `
metadata: {name: gotmpl}
spec:
  goTemplate: true
  generators:
  - list: {elements: [{name: web, labels: {tier: front}}, {name: db}]}
  template:
    metadata: {name: '{{.name | upper | lower}}-{{index (.labels | default dict) "tier" | default "back"}}'}
    spec:
      source: {repoURL: ` + thisRepo + `, path: '{{printf "apps/%s" .name}}'}
      destination: {server: '{{default "https://kubernetes.default.svc" .server}}', namespace: '{{.name | trunc 2}}'}`,
		want: []string{"web-front apps/web https://kubernetes.default.svc/we", "db-back apps/db https://kubernetes.default.svc/db"},
	}, {
		name:    "goTemplateOptions missingkey=error",
		mirrors: "utils/utils_test.go TestRenderTemplateParamsGoTemplate (missingkey=error)",
		doc: `
metadata: {name: strict}
spec:
  goTemplate: true
  goTemplateOptions: [missingkey=error]
  generators:
  - list: {elements: [{name: web}]}
  template:
    metadata: {name: '{{.name}}-{{.nope}}'}
    spec: {destination: {server: s}}`,
		wantErr: `map has no entry for key "nope"`,
	}, {
		name:    "sprig env is removed as in Argo CD",
		mirrors: "utils/utils.go init (delete env, expandenv, getHostByName)",
		doc: `
metadata: {name: env}
spec:
  goTemplate: true
  generators:
  - list: {elements: [{name: web}]}
  template:
    metadata: {name: '{{env "HOME"}}'}
    spec: {}`,
		wantErr: `function "env" not defined`,
	}, {
		name:    "templatePatch",
		mirrors: "applicationset_controller_test.go TestGenerateAppsUsingTemplatePatch / utils/template_functions_test.go",
		doc: `
metadata: {name: patch}
spec:
  goTemplate: true
  generators:
  - list: {elements: [{name: web, path: apps/web-override, auto: true}, {name: db, auto: false}]}
  template:
    metadata: {name: '{{.name}}'}
    spec:
      source: {repoURL: ` + thisRepo + `, path: 'apps/{{.name}}'}
      destination: {server: https://kubernetes.default.svc, namespace: default}
  templatePatch: |
    spec:
      project: default
    {{- if .path }}
      source:
        path: {{ .path }}
    {{- end }}
    {{- if .auto }}
      syncPolicy: {automated: {}}
    {{- end }}`,
		want: []string{"web apps/web-override https://kubernetes.default.svc/default", "db apps/db https://kubernetes.default.svc/default"},
	}, {
		name:    "per-generator template overrides the spec template",
		mirrors: "generators/generator_spec_processor_test.go TestMergeGeneratorTemplate",
		doc: `
metadata: {name: override}
spec:
  generators:
  - list:
      elements: [{cluster: dev}]
      template:
        metadata: {}
        spec:
          source: {path: 'override/{{cluster}}'}
  template:
    metadata: {name: '{{cluster}}-app'}
    spec:
      source: {repoURL: ` + thisRepo + `, path: default}
      destination: {server: https://kubernetes.default.svc, namespace: x}`,
		want: []string{"dev-app override/dev https://kubernetes.default.svc/x"},
	}, {
		name:    "pullRequest generator is an error naming it",
		mirrors: "(gate rule: generators that need a live service are errors, never skipped)",
		doc: `
metadata: {name: prs}
spec:
  generators:
  - pullRequest: {github: {owner: o, repo: r}}
  template: {metadata: {name: 'pr-{{number}}'}, spec: {}}`,
		wantErr: "generators[0]: pullRequest generator needs a live service",
	}, {
		name:    "a live generator nested in a matrix is an error too",
		mirrors: "(gate rule)",
		doc: `
metadata: {name: nested}
spec:
  generators:
  - matrix:
      generators:
      - list: {elements: [{a: b}]}
      - scmProvider: {github: {organization: o}}
  template: {metadata: {name: x}, spec: {}}`,
		wantErr: "scmProvider generator needs a live service",
	}, {
		name:    "unknown generator field is an error",
		mirrors: "utils/utils.go CheckInvalidGenerators (Argo CD warns; the gate refuses)",
		doc: `
metadata: {name: filters}
spec:
  generators:
  - clusters: {filters: [{expr: x}]}
  template: {metadata: {name: x}, spec: {}}`,
		wantErr: `field "filters" is not supported`,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := expandYAML(t, tc.doc, Options{Repo: repoFS(), Clusters: testClusters})
			var got []string
			for _, a := range res.Apps {
				got = append(got, summary(a))
			}
			if tc.wantErr != "" {
				if len(res.Errors) == 0 || !strings.Contains(errors.Join(res.Errors...).Error(), tc.wantErr) {
					t.Fatalf("errors = %v, want one containing %q (apps %q)", res.Errors, tc.wantErr, got)
				}
				return
			}
			if len(res.Errors) > 0 {
				t.Fatalf("errors: %v", res.Errors)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("apps:\n got %q\nwant %q", got, tc.want)
			}
			for _, a := range res.Apps {
				ann, _ := dig(a.Object, "metadata", "annotations").(map[string]any)
				if ann[AnnotationGeneratedBy] != res.Name || ann[AnnotationGenerator] != a.Generator || a.Generator == "" {
					t.Errorf("%s: annotations %v, generator %q", a.Name(), ann, a.Generator)
				}
				if a.Object["kind"] != "Application" || a.Object["apiVersion"] != "argoproj.io/v1alpha1" {
					t.Errorf("%s: not an Application: %v", a.Name(), a.Object)
				}
			}
		})
	}
}

// TestExpandLimit: a matrix that multiplies past MaxApps stops with an error
// instead of exhausting memory.
func TestExpandLimit(t *testing.T) {
	var elems []string
	for i := range 200 {
		elems = append(elems, fmt.Sprintf("{n: '%d'}", i))
	}
	list := "{elements: [" + strings.Join(elems, ",") + "]}"
	doc := `
metadata: {name: big}
spec:
  generators:
  - matrix: {generators: [{list: ` + list + `}, {list: ` + strings.ReplaceAll(list, "n:", "m:") + `}]}
  template: {metadata: {name: '{{n}}-{{m}}'}, spec: {}}`
	res := expandYAML(t, doc, Options{MaxApps: 1000})
	if !errors.Is(errors.Join(res.Errors...), errTooMany) {
		t.Fatalf("errors = %v, want too many", res.Errors)
	}
}

// TestExpandDuplicateNames: Argo CD rejects an ApplicationSet whose apps
// share a name; the gate reports it and still checks both.
func TestExpandDuplicateNames(t *testing.T) {
	res := expandYAML(t, `
metadata: {name: dup}
spec:
  generators:
  - list: {elements: [{a: '1'}, {a: '2'}]}
  template: {metadata: {name: same}, spec: {source: {path: 'p{{a}}'}}}`, Options{})
	if len(res.Apps) != 2 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "twice") {
		t.Fatalf("apps %d, errors %v", len(res.Apps), res.Errors)
	}
}

// TestGitFilesEitherGlobbing: Argo CD's git files generator globs greedily by
// default ("*" crosses "/", Generators-Git-File-Globbing.md: the pattern
// cluster-charts/*/*/values.yaml also picks a subchart's values.yaml) and with
// doublestar behind --enable-new-git-file-globbing. The gate cannot see which
// one the controller runs, so it generates every app either one would.
func TestGitFilesEitherGlobbing(t *testing.T) {
	repo := fstest.MapFS{
		"cluster-charts/cluster1/mychart/values.yaml":                   {Data: []byte("name: mychart\n")},
		"cluster-charts/cluster1/mychart/charts/mysubchart/values.yaml": {Data: []byte("name: mysubchart\n")},
		"cluster-charts/cluster1/myotherchart/values.yaml":              {Data: []byte("name: myotherchart\n")},
		"some-path/top.yaml":           {Data: []byte("name: top\n")},
		"some-path/deeper/nested.yaml": {Data: []byte("name: nested\n")},
	}
	doc := `
metadata: {name: globbing}
spec:
  generators:
  - git:
      repoURL: https://example.com/this.git
      revision: HEAD
      files:
      - path: cluster-charts/*/*/values.yaml
      - path: some-path/*.yaml
  template: {metadata: {name: '{{name}}'}, spec: {source: {path: '{{path}}'}}}`
	res := expandYAML(t, doc, Options{Repo: repo, IsThisRepo: func(string) bool { return true }})
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	var names []string
	for _, a := range res.Apps {
		names = append(names, a.Object["metadata"].(map[string]any)["name"].(string))
	}
	sort.Strings(names)
	want := []string{"mychart", "myotherchart", "mysubchart", "nested", "top"}
	if !slices.Equal(names, want) {
		t.Fatalf("apps = %v, want %v (the greedy globbing's picks included)", names, want)
	}
}

// TestTemplateErrorIsTheSameEveryRun: of two fields that fail to render,
// the one reported does not depend on Go's map order.
func TestTemplateErrorIsTheSameEveryRun(t *testing.T) {
	e := &expander{spec: &spec{goTemplate: true}}
	tmpl := map[string]any{"spec": map[string]any{"path": "{{.path.path}}"}, "metadata": map[string]any{"name": "{{.path.basename}}"}}
	var first string
	for i := 0; i < 50; i++ {
		_, err := e.replaceDeep(tmpl, map[string]any{"path": "x"})
		if err == nil {
			t.Fatal("a template reading a field of a string rendered")
		}
		if i == 0 {
			first = err.Error()
		} else if err.Error() != first {
			t.Fatalf("run %d reported %q, run 0 %q", i, err, first)
		}
	}
}
