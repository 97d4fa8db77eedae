package extract

import (
	"github.com/gitops-gate/gitops-gate/manifests/model"

	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// crdExtractors read the images of well-known custom resources that run
// pods, keyed by "group/Kind". Field names follow the upstream types: Argo
// Workflows' WorkflowSpec and Template, Tekton's TaskSpec and PipelineSpec,
// KEDA's ScaledJobSpec, Knative Serving's Service, Configuration and
// Revision.
var crdExtractors = map[string]func(*yaml.Node) []extracted{
	"argoproj.io/Workflow":                workflowSpecImages("spec"),
	"argoproj.io/WorkflowTemplate":        workflowSpecImages("spec"),
	"argoproj.io/ClusterWorkflowTemplate": workflowSpecImages("spec"),
	"argoproj.io/CronWorkflow":            workflowSpecImages("spec", "workflowSpec"),
	"tekton.dev/Task":                     taskSpecImages("spec"),
	"tekton.dev/ClusterTask":              taskSpecImages("spec"),
	"tekton.dev/TaskRun":                  taskSpecImages("spec", "taskSpec"),
	"tekton.dev/Pipeline":                 pipelineSpecImages("spec"),
	"tekton.dev/PipelineRun":              pipelineSpecImages("spec", "pipelineSpec"),
	"tekton.dev/StepAction":               stepActionImages,
	"keda.sh/ScaledJob":                   podSpecAt("spec", "jobTargetRef", "template", "spec"),
	"serving.knative.dev/Service":         podSpecAt("spec", "template", "spec"),
	"serving.knative.dev/Configuration":   podSpecAt("spec", "template", "spec"),
	"serving.knative.dev/Revision":        podSpecAt("spec"),
}

// groupOf is the API group of an apiVersion ("" for the core group).
func groupOf(apiVersion string) string {
	g, _, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return ""
	}
	return g
}

func podSpecAt(path ...string) func(*yaml.Node) []extracted {
	return func(root *yaml.Node) []extracted {
		return podSpecImages(walkKeys(root, path), strings.Join(path, "."))
	}
}

// workflowSpecImages reads an Argo Workflows WorkflowSpec: every template's
// container, script, initContainers, sidecars and containerSet, and the
// templateDefaults that fill a template's missing image.
func workflowSpecImages(path ...string) func(*yaml.Node) []extracted {
	prefix := strings.Join(path, ".")
	return func(root *yaml.Node) []extracted {
		spec := walkKeys(root, path)
		if spec == nil || spec.Kind != yaml.MappingNode {
			return nil
		}
		var refs []extracted
		defaults := model.MapGet(spec, "templateDefaults")
		hasDefault := false
		if defaults != nil && defaults.Kind == yaml.MappingNode {
			refs = append(refs, workflowTemplateImages(defaults, prefix+".templateDefaults", true)...)
			hasDefault = model.MapGet(model.MapGet(defaults, "container"), "image") != nil || model.MapGet(model.MapGet(defaults, "script"), "image") != nil
		}
		if tmpls := model.MapGet(spec, "templates"); tmpls != nil && tmpls.Kind == yaml.SequenceNode {
			for i, t := range tmpls.Content {
				refs = append(refs, workflowTemplateImages(model.Deref(t), fmt.Sprintf("%s.templates[%d]", prefix, i), hasDefault)...)
			}
		}
		refs = append(refs, podSpecPatch(spec, prefix)...)
		return refs
	}
}

func workflowTemplateImages(t *yaml.Node, prefix string, hasDefault bool) []extracted {
	if t == nil || t.Kind != yaml.MappingNode {
		return nil
	}
	var refs []extracted
	for _, f := range []string{"container", "script"} {
		if c := model.MapGet(t, f); c != nil {
			if e, ok := containerImage(c, prefix+"."+f, hasDefault); ok {
				refs = append(refs, e)
			}
		}
	}
	refs = append(refs, containerImages(model.MapGet(t, "initContainers"), prefix+".initContainers", false)...)
	refs = append(refs, containerImages(model.MapGet(t, "sidecars"), prefix+".sidecars", false)...)
	refs = append(refs, containerImages(model.MapGet(model.MapGet(t, "containerSet"), "containers"), prefix+".containerSet.containers", hasDefault)...)
	refs = append(refs, podSpecPatch(t, prefix)...)
	return refs
}

// podSpecPatch: Argo Workflows applies a workflow's or template's
// podSpecPatch to the pod it creates, and the patch can replace any image.
// The gate cannot see what the patch runs, so it is an error.
func podSpecPatch(n *yaml.Node, prefix string) []extracted {
	p := model.MapGet(n, "podSpecPatch")
	if p == nil || p.ShortTag() == "!!null" {
		return nil
	}
	return []extracted{{ref: ImageRef{
		FieldPath: prefix + ".podSpecPatch",
		Line:      p.Line,
		Error:     "podSpecPatch can replace the pod's images when it runs, and the gate cannot verify what it runs: set the images in the template instead",
	}}}
}

// taskSpecImages reads a Tekton TaskSpec: steps, sidecars and the
// stepTemplate whose image fills a step without one.
func taskSpecImages(path ...string) func(*yaml.Node) []extracted {
	prefix := strings.Join(path, ".")
	return func(root *yaml.Node) []extracted {
		return taskSpec(walkKeys(root, path), prefix)
	}
}

func taskSpec(spec *yaml.Node, prefix string) []extracted {
	if spec == nil || spec.Kind != yaml.MappingNode {
		return nil
	}
	var refs []extracted
	hasDefault := false
	if st := model.MapGet(spec, "stepTemplate"); st != nil && model.MapGet(st, "image") != nil {
		hasDefault = true
		e, _ := containerImage(st, prefix+".stepTemplate", false)
		refs = append(refs, e)
	}
	if steps := model.MapGet(spec, "steps"); steps != nil && steps.Kind == yaml.SequenceNode {
		for i, s := range steps.Content {
			// A step that references a StepAction takes its image from it;
			// the StepAction is judged where it is defined.
			optional := hasDefault || model.MapGet(s, "ref") != nil
			if e, ok := containerImage(s, fmt.Sprintf("%s.steps[%d]", prefix, i), optional); ok {
				refs = append(refs, e)
			}
		}
	}
	refs = append(refs, containerImages(model.MapGet(spec, "sidecars"), prefix+".sidecars", false)...)
	return refs
}

// pipelineSpecImages reads a Tekton PipelineSpec: the taskSpec embedded in
// each task and finally task (and a pipelineSpec embedded in a task).
func pipelineSpecImages(path ...string) func(*yaml.Node) []extracted {
	prefix := strings.Join(path, ".")
	return func(root *yaml.Node) []extracted {
		return pipelineSpec(walkKeys(root, path), prefix, 0)
	}
}

func pipelineSpec(spec *yaml.Node, prefix string, depth int) []extracted {
	if spec == nil || spec.Kind != yaml.MappingNode || depth > 16 {
		return nil
	}
	var refs []extracted
	for _, list := range []string{"tasks", "finally"} {
		seq := model.MapGet(spec, list)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for i, t := range seq.Content {
			p := fmt.Sprintf("%s.%s[%d]", prefix, list, i)
			refs = append(refs, taskSpec(model.MapGet(t, "taskSpec"), p+".taskSpec")...)
			refs = append(refs, pipelineSpec(model.MapGet(t, "pipelineSpec"), p+".pipelineSpec", depth+1)...)
		}
	}
	return refs
}

func stepActionImages(root *yaml.Node) []extracted {
	spec := model.MapGet(root, "spec")
	if spec == nil {
		return nil
	}
	e, _ := containerImage(spec, "spec", false)
	return []extracted{e}
}
