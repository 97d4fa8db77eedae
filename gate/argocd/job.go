package argocd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// The marks Argo CD puts on every resource it renders for an app,
// hooks included (reposerver/repository/repository.go, GenerateManifests,
// resourceTracking.SetAppInstance), but not on the pod template inside a
// Job: the hook's pod must read them from its Job.
const (
	// TrackingAnnotation is Argo CD's default tracking (3.x):
	// <app>:<group>/<kind>:<namespace>/<name>, where <app> is the
	// Application's name, or <namespace>_<name> when the Application is
	// not in Argo CD's own namespace (types.go, Application.InstanceName;
	// util/argo/resource_tracking.go, BuildAppInstanceValue).
	TrackingAnnotation = "argocd.argoproj.io/tracking-id"
	// InstanceLabel is the label of label tracking (the 2.x default).
	InstanceLabel = "app.kubernetes.io/instance"
)

// ErrNoApp marks a Job that names no Application.
var ErrNoApp = errors.New("no Argo CD Application is named on the Job")

// AppOfJob reads the Job namespace/job (the hook's own) and returns the
// Application that created it: namespace is the Application's when the
// tracking id names one, else defaultNS.
func (c Cluster) AppOfJob(ctx context.Context, namespace, job, defaultNS string) (appNS, app string, err error) {
	body, err := c.get(ctx, fmt.Sprintf("/apis/batch/v1/namespaces/%s/jobs/%s", url.PathEscape(namespace), url.PathEscape(job)))
	if err != nil {
		return "", "", fmt.Errorf("reading the hook's Job %s/%s: %w", namespace, job, err)
	}
	var j struct {
		Metadata struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(body, &j); err != nil {
		return "", "", fmt.Errorf("Job %s/%s: %w", namespace, job, err)
	}
	return AppOfTracking(j.Metadata.Annotations[TrackingAnnotation], j.Metadata.Labels[InstanceLabel], defaultNS)
}

// AppOfTracking returns the Application named by a tracking annotation
// (preferred: Argo CD 3.x's default) or an instance label.
func AppOfTracking(annotation, label, defaultNS string) (appNS, app string, err error) {
	if annotation != "" {
		name, rest, ok := strings.Cut(annotation, ":")
		if !ok || name == "" || strings.Count(rest, ":") != 1 {
			return "", "", fmt.Errorf("annotation %s %q: want <app>:<group>/<kind>:<namespace>/<name>", TrackingAnnotation, annotation)
		}
		if ns, n, ok := strings.Cut(name, "_"); ok {
			return ns, n, nil
		}
		return defaultNS, name, nil
	}
	if label != "" {
		// Label tracking truncates long names; only a full name is usable.
		return defaultNS, label, nil
	}
	return "", "", fmt.Errorf("%w: neither the annotation %s nor the label %s is set", ErrNoApp, TrackingAnnotation, InstanceLabel)
}
