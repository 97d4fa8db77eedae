package fakegithub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// CheckAnnotation is an annotation the fake GitHub holds.
type CheckAnnotation struct {
	Path               string
	StartLine, EndLine int
	Level              string
	Title, Message     string
}

// CheckAction is a button on a check run.
type CheckAction struct{ Label, Description, Identifier string }

// CheckRun is a check run held by the fake GitHub.
type CheckRun struct {
	ID                   int64
	Repo, SHA, Name      string
	ExternalID           string
	DetailsURL           string
	Status, Conclusion   string
	Title, Summary, Text string
	Annotations          []CheckAnnotation
	Actions              []CheckAction
	AppID                int64
	// Statuses are the statuses it went through, in order; Requests
	// counts the creates and updates it received.
	Statuses      []string
	Requests      int
	Authorization string
}

// CheckRequest is one create or update the fake received.
type CheckRequest struct {
	Method      string
	RunID       int64
	Status      string
	Annotations int
	At          time.Time
}

// checkState is the fake's check-run state (guarded by GitHub.mu).
type checkState struct {
	runs     []*CheckRun
	requests []CheckRequest
	failNext int
	// holds are requests to apply and then hold until released or until
	// the client goes away: a process that dies after GitHub applied its
	// request and before it recorded the answer.
	holds []*hold
	// refusePath makes any annotation whose path contains it refused.
	refusePath string
}

type hold struct {
	match    func(CheckRequest) bool
	applied  chan struct{}
	release  chan struct{}
	consumed bool
}

// CheckRuns returns copies of the check runs, in creation order.
func (f *GitHub) CheckRuns() []CheckRun {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]CheckRun, len(f.checks.runs))
	for i, r := range f.checks.runs {
		out[i] = *r
		out[i].Annotations = append([]CheckAnnotation(nil), r.Annotations...)
		out[i].Statuses = append([]string(nil), r.Statuses...)
	}
	return out
}

// CheckRequests lists the creates and updates received, in order.
func (f *GitHub) CheckRequests() []CheckRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]CheckRequest(nil), f.checks.requests...)
}

// FailChecksNext makes the next n check-run creates and updates fail with
// 502 before they are applied.
func (f *GitHub) FailChecksNext(n int) {
	f.mu.Lock()
	f.checks.failNext = n
	f.mu.Unlock()
}

// RefuseAnnotationPath makes the fake refuse (422) any create or update
// carrying an annotation whose path contains substr, as GitHub refuses a
// value it does not take.
func (f *GitHub) RefuseAnnotationPath(substr string) {
	f.mu.Lock()
	f.checks.refusePath = substr
	f.mu.Unlock()
}

// HoldCheck makes the first create or update that match satisfies be
// applied and then held, unanswered, until release is called or the client
// gives up; applied is closed once it was applied.
func (f *GitHub) HoldCheck(match func(CheckRequest) bool) (applied <-chan struct{}, release func()) {
	h := &hold{match: match, applied: make(chan struct{}), release: make(chan struct{})}
	f.mu.Lock()
	f.checks.holds = append(f.checks.holds, h)
	f.mu.Unlock()
	return h.applied, func() { close(h.release) }
}

var (
	checkConclusions = map[string]bool{"success": true, "failure": true, "neutral": true, "cancelled": true, "skipped": true, "timed_out": true, "action_required": true}
	checkStatuses    = map[string]bool{"queued": true, "in_progress": true, "completed": true}
	annotationLevels = map[string]bool{"notice": true, "warning": true, "failure": true}
	fullSHA          = regexp.MustCompile(`^(?:[0-9a-f]{40}|[0-9a-f]{64})$`)
)

type checkBody struct {
	Name        *string `json:"name"`
	HeadSHA     string  `json:"head_sha"`
	DetailsURL  *string `json:"details_url"`
	ExternalID  *string `json:"external_id"`
	Status      *string `json:"status"`
	Conclusion  *string `json:"conclusion"`
	StartedAt   *string `json:"started_at"`
	CompletedAt *string `json:"completed_at"`
	Output      *struct {
		Title       *string `json:"title"`
		Summary     *string `json:"summary"`
		Text        *string `json:"text"`
		Annotations []struct {
			Path            string `json:"path"`
			StartLine       int    `json:"start_line"`
			EndLine         int    `json:"end_line"`
			AnnotationLevel string `json:"annotation_level"`
			Message         string `json:"message"`
			Title           string `json:"title"`
		} `json:"annotations"`
	} `json:"output"`
	Actions []struct {
		Label       string `json:"label"`
		Description string `json:"description"`
		Identifier  string `json:"identifier"`
	} `json:"actions"`
}

// validate checks a create (create true) or update body against GitHub's
// documented rules and limits; it returns what is wrong, or "".
func (b *checkBody) validate(create bool, current string) string {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	if create && (str(b.Name) == "" || !fullSHA.MatchString(b.HeadSHA)) {
		return "create needs a name and a full head_sha"
	}
	if b.Name != nil && (*b.Name == "" || utf8.RuneCountInString(*b.Name) > 255) {
		return "bad name"
	}
	status, conclusion := str(b.Status), str(b.Conclusion)
	if status != "" && !checkStatuses[status] {
		return "status " + status
	}
	if conclusion != "" && !checkConclusions[conclusion] {
		return "conclusion " + conclusion
	}
	if (status == "completed") != (conclusion != "") {
		return "a conclusion goes with status completed, and only with it"
	}
	if current == "completed" && (status == "queued" || status == "in_progress") {
		return "a completed check run moved back to " + status
	}
	if u := str(b.DetailsURL); u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return "details_url " + u
		}
	}
	if n := utf8.RuneCountInString(str(b.ExternalID)); n > 255 {
		return "external_id too long"
	}
	if o := b.Output; o != nil {
		if str(o.Title) == "" || o.Summary == nil || *o.Summary == "" {
			return "output needs a title and a summary"
		}
		if n := utf8.RuneCountInString(*o.Title); n > 255 {
			return fmt.Sprintf("output.title of %d characters", n)
		}
		if n := utf8.RuneCountInString(*o.Summary); n > 65535 {
			return fmt.Sprintf("output.summary of %d characters: over 65535", n)
		}
		if n := utf8.RuneCountInString(str(o.Text)); n > 65535 {
			return fmt.Sprintf("output.text of %d characters: over 65535", n)
		}
		if len(o.Annotations) > 50 {
			return fmt.Sprintf("%d annotations in one request: at most 50", len(o.Annotations))
		}
		for _, a := range o.Annotations {
			switch {
			case a.Path == "" || a.StartLine < 1 || a.EndLine < a.StartLine:
				return "annotation without a path or lines"
			case !annotationLevels[a.AnnotationLevel]:
				return "annotation_level " + a.AnnotationLevel
			case a.Message == "" || len(a.Message) > 64<<10:
				return "annotation message empty or over 64 KB"
			case utf8.RuneCountInString(a.Title) > 255:
				return "annotation title over 255 characters"
			}
		}
	}
	if len(b.Actions) > 3 {
		return "more than 3 actions"
	}
	for _, a := range b.Actions {
		if a.Label == "" || a.Description == "" || a.Identifier == "" || utf8.RuneCountInString(a.Label) > 20 ||
			utf8.RuneCountInString(a.Description) > 40 || utf8.RuneCountInString(a.Identifier) > 20 {
			return fmt.Sprintf("action %+v: label ≤20, description ≤40, identifier ≤20 characters, none empty", a)
		}
	}
	return ""
}

// apply sets what b says on run.
func (b *checkBody) apply(run *CheckRun) {
	if b.Name != nil {
		run.Name = *b.Name
	}
	if b.DetailsURL != nil {
		run.DetailsURL = *b.DetailsURL
	}
	if b.ExternalID != nil {
		run.ExternalID = *b.ExternalID
	}
	if b.Status != nil && *b.Status != run.Status {
		run.Status = *b.Status
		run.Statuses = append(run.Statuses, run.Status)
	}
	if b.Conclusion != nil {
		run.Conclusion = *b.Conclusion
	}
	if o := b.Output; o != nil {
		run.Title, run.Summary = *o.Title, *o.Summary
		if o.Text != nil {
			run.Text = *o.Text
		}
		// GitHub appends annotations on every update.
		for _, a := range o.Annotations {
			run.Annotations = append(run.Annotations, CheckAnnotation{Path: a.Path, StartLine: a.StartLine, EndLine: a.EndLine,
				Level: a.AnnotationLevel, Title: a.Title, Message: a.Message})
		}
	}
	if b.Actions != nil {
		run.Actions = nil
		for _, a := range b.Actions {
			run.Actions = append(run.Actions, CheckAction{Label: a.Label, Description: a.Description, Identifier: a.Identifier})
		}
	}
	run.Requests++
}

func renderCheckRun(r *CheckRun) map[string]any {
	var conclusion any
	if r.Conclusion != "" {
		conclusion = r.Conclusion
	}
	return map[string]any{"id": r.ID, "name": r.Name, "head_sha": r.SHA, "external_id": r.ExternalID, "details_url": r.DetailsURL,
		"status": r.Status, "conclusion": conclusion, "app": map[string]any{"id": r.AppID},
		"output": map[string]any{"title": r.Title, "summary": r.Summary, "annotations_count": len(r.Annotations)}}
}

// serveChecks answers, for parts of /repos/{owner}/{repo}/...:
// POST .../check-runs, PATCH and GET .../check-runs/{id}, and
// GET .../commits/{sha}/check-runs. The caller holds f.mu.
func (f *GitHub) serveChecks(w http.ResponseWriter, r *http.Request, parts []string) {
	bad := func(code int, why string) {
		f.bad = append(f.bad, r.Method+" "+r.URL.Path+": "+why)
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"message": why})
	}
	repo := parts[0] + "/" + parts[1]
	// Only a GitHub App's installation may create or update check runs
	// (ghinstallation sends "token ghs_..."); a personal token is refused.
	auth := r.Header.Get("Authorization")
	inst, isInstallation := strings.CutPrefix(auth, "token ghs_installation_")
	if !isInstallation {
		bad(http.StatusForbidden, "check runs need a GitHub App installation token, got "+strings.SplitN(auth, " ", 2)[0])
		return
	}
	if id, ok := f.installations[repo]; !ok || strconv.FormatInt(id, 10) != inst {
		bad(http.StatusForbidden, "installation "+inst+" is not installed on "+repo)
		return
	}
	find := func(raw string) *CheckRun {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return nil
		}
		for _, run := range f.checks.runs {
			if run.ID == id && run.Repo == repo {
				return run
			}
		}
		return nil
	}
	switch {
	case len(parts) == 5 && parts[2] == "commits" && parts[4] == "check-runs" && r.Method == http.MethodGet:
		q := r.URL.Query()
		list := []map[string]any{}
		for i := len(f.checks.runs) - 1; i >= 0; i-- {
			run := f.checks.runs[i]
			if run.Repo != repo || run.SHA != parts[3] || (q.Get("check_name") != "" && run.Name != q.Get("check_name")) ||
				(q.Get("app_id") != "" && q.Get("app_id") != strconv.FormatInt(run.AppID, 10)) {
				continue
			}
			list = append(list, renderCheckRun(run))
		}
		json.NewEncoder(w).Encode(map[string]any{"total_count": len(list), "check_runs": list})
	case len(parts) == 4 && parts[2] == "check-runs" && r.Method == http.MethodGet:
		run := find(parts[3])
		if run == nil {
			bad(http.StatusNotFound, "no such check run")
			return
		}
		json.NewEncoder(w).Encode(renderCheckRun(run))
	case (len(parts) == 3 && parts[2] == "check-runs" && r.Method == http.MethodPost) ||
		(len(parts) == 4 && parts[2] == "check-runs" && r.Method == http.MethodPatch):
		if r.Header.Get("Content-Type") != "application/json" {
			bad(http.StatusUnsupportedMediaType, "not JSON")
			return
		}
		var body checkBody
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			bad(http.StatusBadRequest, "body: "+err.Error())
			return
		}
		create := r.Method == http.MethodPost
		var run *CheckRun
		if !create {
			if run = find(parts[3]); run == nil {
				bad(http.StatusNotFound, "no such check run")
				return
			}
			if body.HeadSHA != "" {
				bad(http.StatusUnprocessableEntity, "head_sha is not updatable")
				return
			}
		}
		current := ""
		if run != nil {
			current = run.Status
		}
		why := body.validate(create, current)
		if f.checks.refusePath != "" && body.Output != nil {
			for _, a := range body.Output.Annotations {
				if strings.Contains(a.Path, f.checks.refusePath) {
					why = "annotation path refused: " + a.Path
				}
			}
		}
		if why != "" {
			bad(http.StatusUnprocessableEntity, why)
			return
		}
		if f.checks.failNext > 0 {
			f.checks.failNext--
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		if create {
			run = &CheckRun{ID: int64(1000 + len(f.checks.runs)), Repo: repo, SHA: body.HeadSHA, AppID: f.appID, Authorization: auth}
			if body.Status == nil {
				run.Status = "queued"
				run.Statuses = []string{"queued"}
			}
			f.checks.runs = append(f.checks.runs, run)
		}
		body.apply(run)
		req := CheckRequest{Method: r.Method, RunID: run.ID, Status: run.Status, At: time.Now()}
		if body.Output != nil {
			req.Annotations = len(body.Output.Annotations)
		}
		f.checks.requests = append(f.checks.requests, req)
		for _, h := range f.checks.holds {
			if !h.consumed && h.match(req) {
				h.consumed = true
				close(h.applied)
				// Hold without the lock: other requests go on.
				f.mu.Unlock()
				select {
				case <-h.release:
				case <-r.Context().Done():
				}
				f.mu.Lock()
				break
			}
		}
		if create {
			w.WriteHeader(http.StatusCreated)
		}
		json.NewEncoder(w).Encode(renderCheckRun(run))
	default:
		bad(http.StatusNotFound, "not a check-runs endpoint")
	}
}
