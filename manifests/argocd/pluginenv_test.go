package argocd

import (
	"github.com/gitops-gate/gitops-gate/manifests/model"
	"reflect"
	"strings"
	"testing"
)

func TestParsePluginEnv(t *testing.T) {
	e, err := ParsePluginEnv([]string{"PATH=/bin", "ARGOCD_APP_NAME=shop", "ARGOCD_APP_NAMESPACE=prod",
		"ARGOCD_ENV_HELM_VALUE_FILES=a.yaml, /envs/prod.yaml\nb.yaml", "ARGOCD_ENV_HELM_PARAMETERS=x=1,list={a,b}",
		"ARGOCD_ENV_HELM_VALUES=image: {tag: v2}", "ARGOCD_ENV_KUSTOMIZE_IMAGES=app=r/app:1, r/b@sha256:00"})
	if err != nil {
		t.Fatal(err)
	}
	if e.AppName != "shop" || e.Namespace != "prod" || !reflect.DeepEqual(e.Helm.ValueFiles, []string{"a.yaml", "/envs/prod.yaml", "b.yaml"}) ||
		!reflect.DeepEqual(e.Helm.Parameters, []model.HelmParameter{{Name: "x", Value: "1,list={a,b}"}}) ||
		!reflect.DeepEqual(e.KustomizeImages, []string{"app=r/app:1", "r/b@sha256:00"}) || e.HelmValues["image"].(map[string]any)["tag"] != "v2" {
		t.Errorf("parsed %+v", e)
	}
	for env, want := range map[string]string{
		"ARGOCD_ENV_HELM_VALUES=[1, 2]":   "ARGOCD_ENV_HELM_VALUES: want a YAML mapping",
		"ARGOCD_ENV_HELM_PARAMETERS=oops": `want --set syntax`,
		"ARGOCD_ENV_POLICY=/tmp/p.yaml":   "ARGOCD_ENV_POLICY: gitops-gate does not know this plugin setting",
	} {
		if _, err := ParsePluginEnv([]string{env}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", env, err, want)
		}
	}
}

func TestPluginEnvApply(t *testing.T) {
	env := PluginEnv{AppName: "shop", Namespace: "prod", HelmValues: map[string]any{"image": map[string]any{"tag": "v2"}},
		Helm: model.HelmOptions{ValueFiles: []string{"prod.yaml"}, Parameters: []model.HelmParameter{{Name: "r", Value: "3"}}}}
	app := model.App{Name: "c", Path: "c", Kind: model.KindHelm, Helm: model.HelmOptions{
		ValueFiles: []string{"base.yaml"}, Parameters: []model.HelmParameter{{Name: "r", Value: "1"}},
		ValuesObject: map[string]any{"image": map[string]any{"repository": "r/x", "tag": "v1"}}}}
	if err := env.Apply(&app); err != nil {
		t.Fatal(err)
	}
	want := model.HelmOptions{ReleaseName: "shop", ValueFiles: []string{"base.yaml", "prod.yaml"},
		Parameters:   []model.HelmParameter{{Name: "r", Value: "1"}, {Name: "r", Value: "3"}},
		ValuesObject: map[string]any{"image": map[string]any{"repository": "r/x", "tag": "v2"}}}
	if app.Namespace != "prod" || !reflect.DeepEqual(app.Helm, want) {
		t.Errorf("applied: %s %+v", app.Namespace, app.Helm)
	}
	// The app's own release name stays unless the env sets one.
	named := model.App{Kind: model.KindHelm, Helm: model.HelmOptions{ReleaseName: "own"}}
	PluginEnv{AppName: "shop"}.Apply(&named)
	if named.Helm.ReleaseName != "own" {
		t.Errorf("release %q", named.Helm.ReleaseName)
	}
	if err := (PluginEnv{Helm: model.HelmOptions{ReleaseName: "x"}}).Apply(&model.App{Path: "k", Kind: model.KindKustomize}); err == nil || !strings.Contains(err.Error(), "app k is a kustomize app, but ARGOCD_ENV_HELM_* settings are set") {
		t.Errorf("helm settings on kustomize: %v", err)
	}
	if err := (PluginEnv{KustomizeImages: []string{"a=b:1"}}).Apply(&model.App{Path: "h", Kind: model.KindHelm}); err == nil {
		t.Error("kustomize images on a chart should be refused")
	}
}
