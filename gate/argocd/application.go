package argocd

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Application is what a running sync of an Argo CD Application applies:
// every source, each with the commit being synced.
type Application struct {
	Name      string
	Namespace string
	// DestinationNamespace is spec.destination.namespace.
	DestinationNamespace string
	// Sources are the sources the operation renders, in order. Argo CD
	// renders every one of them (spec.sources) and ignores spec.source
	// when spec.sources is set.
	Sources []Source
}

// Source is one source of a sync.
type Source struct {
	// Index is the source's position in Sources, and Field names it in
	// the Application (spec.source, spec.sources[1]).
	Index int
	Field string
	// Raw is the ApplicationSource as the Application holds it: every
	// option of the source goes to the renderer, in either mode.
	Raw            json.RawMessage
	RepoURL        string
	Path           string
	TargetRevision string
	Chart          string
	Ref            string
	// Revision is the commit being synced for this source.
	Revision string
}

// ValuesOnly reports whether the source only lends files to the other
// sources (`ref:` with no path and no chart): Argo CD renders nothing from
// it (controller/state.go, GetRepoObjs skips such a source).
func (s *Source) ValuesOnly() bool { return s.Ref != "" && s.Path == "" && s.Chart == "" }

// AppPath is the source's path as the gate names apps.
func (s *Source) AppPath() string {
	p := strings.Trim(strings.TrimSpace(s.Path), "/")
	if p == "" {
		return "."
	}
	return p
}

// Spec is the part of an Application that decides how a source renders:
// what the PreSync hook sends to the gate service so that the service
// renders exactly what local mode renders (POST /api/v1/evaluations,
// field "application").
type Spec struct {
	Name string `json:"name"`
	// Namespace is the Application's destination namespace.
	Namespace string            `json:"namespace,omitempty"`
	Sources   []json.RawMessage `json:"sources"`
	// Source is the index in Sources of the source to judge.
	Source int `json:"source"`
}

// Spec returns what the service needs to render source i.
func (a *Application) Spec(i int) *Spec {
	s := &Spec{Name: a.Name, Namespace: a.DestinationNamespace, Source: i}
	for _, src := range a.Sources {
		s.Sources = append(s.Sources, src.Raw)
	}
	return s
}

// Document is the Application as manifests.ApplicationSettings reads it.
func (s *Spec) Document() ([]byte, error) {
	if s.Source < 0 || s.Source >= len(s.Sources) {
		return nil, fmt.Errorf("application.source: %d: the Application has %d sources", s.Source, len(s.Sources))
	}
	return json.Marshal(map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": s.Name},
		"spec": map[string]any{
			"destination": map[string]any{"namespace": s.Namespace},
			"sources":     s.Sources,
		},
	})
}

// SourceAt decodes source i of the spec.
func (s *Spec) SourceAt(i int) (*Source, error) {
	if i < 0 || i >= len(s.Sources) {
		return nil, fmt.Errorf("application.source: %d: the Application has %d sources", i, len(s.Sources))
	}
	var src appSource
	if err := json.Unmarshal(s.Sources[i], &src); err != nil {
		return nil, fmt.Errorf("application.sources[%d]: %w", i, err)
	}
	return &Source{Index: i, Field: fmt.Sprintf("spec.sources[%d]", i), Raw: s.Sources[i], RepoURL: src.RepoURL, Path: src.Path,
		TargetRevision: src.TargetRevision, Chart: src.Chart, Ref: src.Ref}, nil
}

type appSource struct {
	RepoURL        string `json:"repoURL"`
	Path           string `json:"path"`
	TargetRevision string `json:"targetRevision"`
	Chart          string `json:"chart"`
	Ref            string `json:"ref"`
}

// The parts of an Application (pkg/apis/application/v1alpha1/types.go)
// that say what is being synced.
type application struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Source      json.RawMessage   `json:"source"`
		Sources     []json.RawMessage `json:"sources"`
		Destination struct {
			Namespace string `json:"namespace"`
		} `json:"destination"`
	} `json:"spec"`
	Status struct {
		OperationState *struct {
			Phase     string `json:"phase"`
			Operation struct {
				Sync *syncOperation `json:"sync"`
			} `json:"operation"`
			SyncResult *struct {
				Revision  string            `json:"revision"`
				Revisions []string          `json:"revisions"`
				Source    json.RawMessage   `json:"source"`
				Sources   []json.RawMessage `json:"sources"`
			} `json:"syncResult"`
		} `json:"operationState"`
	} `json:"status"`
}

type syncOperation struct {
	Revision  string            `json:"revision"`
	Revisions []string          `json:"revisions"`
	Source    json.RawMessage   `json:"source"`
	Sources   []json.RawMessage `json:"sources"`
}

var commitSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// ErrRevisionUnknown marks a sync whose commit cannot be known: the hook
// must refuse it rather than judge another commit.
var ErrRevisionUnknown = errors.New("the revision being synced is not known")

// howToSetRevision is what the refusal tells the user.
const howToSetRevision = "run presync as an Argo CD PreSync hook of the sync (Argo CD records the commit it resolved in status.operationState.syncResult before it starts hooks), or start the sync with a commit SHA (argocd app sync APP --revision <sha>, or operation.sync.revision when syncing with kubectl)"

// ParseSync reads what the running operation of an Application (as the
// Kubernetes API returns it) syncs: its sources and the commit of each.
//
// Argo CD's controller (controller/sync.go, newSyncOperationResult and
// SyncAppState) snapshots the sources of the operation into
// status.operationState.syncResult.source(s) and, before any hook runs,
// replaces the requested revision (a branch, HEAD, or nothing at all for a
// sync started with kubectl) with the commit it resolved, in
// syncResult.revision (one source) or syncResult.revisions (one per
// source of spec.sources). Those are what the sync applies.
// status.sync.revision is the last comparison, not the sync, and is never
// used. A revision that is only known as a branch name is refused.
func ParseSync(body []byte) (*Application, error) {
	var app application
	if err := json.Unmarshal(body, &app); err != nil {
		return nil, fmt.Errorf("Application: %w", err)
	}
	a := &Application{Name: app.Metadata.Name, Namespace: app.Metadata.Namespace, DestinationNamespace: app.Spec.Destination.Namespace}
	id := a.Namespace + "/" + a.Name
	op := app.Status.OperationState
	if op == nil || op.Operation.Sync == nil {
		return nil, fmt.Errorf("Application %s: no sync operation is running (status.operationState.operation.sync is empty): %w; %s", id, ErrRevisionUnknown, howToSetRevision)
	}
	// Which sources: those of the operation's result, else those the
	// operation names, else the spec's (spec.sources wins over
	// spec.source, as types.go GetSources and HasMultipleSources say).
	var raws []json.RawMessage
	multi := false
	sr := op.SyncResult
	switch {
	case sr != nil && len(sr.Sources) > 0:
		raws, multi = sr.Sources, true
	case sr != nil && isSet(sr.Source):
		raws = []json.RawMessage{sr.Source}
	case len(op.Operation.Sync.Sources) > 0:
		raws, multi = op.Operation.Sync.Sources, true
	case isSet(op.Operation.Sync.Source):
		raws = []json.RawMessage{op.Operation.Sync.Source}
	case len(app.Spec.Sources) > 0:
		raws, multi = app.Spec.Sources, true
	case isSet(app.Spec.Source):
		raws = []json.RawMessage{app.Spec.Source}
	default:
		return nil, fmt.Errorf("Application %s has no source", id)
	}
	// The resolved revisions, and the requested ones for when the result
	// has not resolved them yet: usable only when they already are commits.
	var revs []string
	requested := op.Operation.Sync.Revisions
	if multi {
		if sr != nil {
			revs = sr.Revisions
		}
	} else {
		requested = []string{op.Operation.Sync.Revision}
		if sr != nil {
			revs = []string{sr.Revision}
		}
	}
	for i, raw := range raws {
		var src appSource
		if err := json.Unmarshal(raw, &src); err != nil {
			return nil, fmt.Errorf("Application %s: source %d: %w", id, i, err)
		}
		field := "spec.source"
		if multi {
			field = fmt.Sprintf("spec.sources[%d]", i)
		}
		s := Source{Index: i, Field: field, Raw: raw, RepoURL: src.RepoURL, Path: src.Path, TargetRevision: src.TargetRevision,
			Chart: src.Chart, Ref: src.Ref}
		switch {
		case i < len(revs) && revs[i] != "":
			s.Revision = revs[i]
		case i < len(requested) && commitSHA.MatchString(requested[i]):
			s.Revision = requested[i]
		}
		// A values-only source needs its commit too: the other sources
		// read their value files from it.
		if s.Revision == "" {
			want := ""
			if i < len(requested) {
				want = requested[i]
			}
			return nil, fmt.Errorf("Application %s %s: %w (status.operationState.syncResult has no revision for it, and the operation asks for %q, which is not a commit); %s",
				id, field, ErrRevisionUnknown, want, howToSetRevision)
		}
		a.Sources = append(a.Sources, s)
	}
	return a, nil
}

func isSet(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null" && s != "{}"
}
