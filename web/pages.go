package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/github"
	"github.com/gitops-gate/gitops-gate/gate/store"
)

var funcs = template.FuncMap{
	"short": func(d string) string {
		if _, h, ok := strings.Cut(d, ":"); ok && len(h) >= 12 {
			return h[:12]
		}
		if len(d) > 12 {
			return d[:12]
		}
		return d
	},
	"ago": func(t time.Time) string {
		d := time.Since(t)
		switch {
		case d < time.Minute:
			return fmt.Sprintf("%ds ago", int(d.Seconds()))
		case d < time.Hour:
			return fmt.Sprintf("%dm ago", int(d.Minutes()))
		case d < 48*time.Hour:
			return fmt.Sprintf("%dh ago", int(d.Hours()))
		}
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	// count says "1 file" or "3 files".
	"count": func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %s", n, many)
	},
	"list": func(s ...string) []string { return s },
	// symbol doubles the badge's colour with a shape: colour is never the
	// only signal.
	"symbol": func(s string) string {
		switch s {
		case "pass":
			return "✓"
		case "fail":
			return "✗"
		case "error":
			return "!"
		case "queued", "running":
			return "…"
		}
		return "–"
	},
	"appNeedsAttention": needsAttention,
	"shortRef":          shortRef,
	"headline":          headline,
	"identity":          identity,
	"compareIdentities": compareIdentities,
	"changeStatus":      changeStatus,
	"changeName":        changeName,
	"duration": func(e *store.Evaluation) string {
		if e.StartedAt == nil || e.FinishedAt == nil {
			return ""
		}
		return e.FinishedAt.Sub(*e.StartedAt).Round(10 * time.Millisecond).String()
	},
	"label": func(s string) string {
		switch s {
		case "pass":
			return "Passed"
		case "fail":
			return "Failed"
		case "error":
			return "Error"
		case "audit":
			return "Audit"
		case "skipped":
			return "Skipped"
		case "unmatched":
			return "Unmatched"
		case "queued":
			return "Queued"
		case "running":
			return "Running"
		case "superseded":
			return "Superseded"
		}
		return s
	},
}

// evaluationView is an evaluation with its report decoded for the page.
type evaluationView struct {
	*store.Evaluation
	Report  *gate.Report
	Status  string // the badge: result when done, else state
	Pending bool
	// PullRequestURL is the pull request on GitHub, when there is one.
	PullRequestURL string
}

func view(e *store.Evaluation) evaluationView {
	v := evaluationView{Evaluation: e, Status: e.State}
	if e.State == store.StateDone || e.State == store.StateFailed {
		v.Status = e.Result
	}
	if len(e.Report) > 0 {
		var r gate.Report
		if json.Unmarshal(e.Report, &r) == nil {
			// Apps that need attention first; images within an app are
			// already ordered that way by the engine.
			sort.SliceStable(r.Apps, func(i, j int) bool { return needsAttention(r.Apps[i]) && !needsAttention(r.Apps[j]) })
			v.Report = &r
		}
	}
	if len(e.Summary) > 0 && v.Report == nil {
		v.Report = &gate.Report{}
		json.Unmarshal(e.Summary, &v.Report.Summary)
	}
	v.Pending = !e.Done()
	return v
}

// view is an evaluation for a page, with its links.
func (h *handlers) view(e *store.Evaluation) evaluationView {
	v := view(e)
	v.PullRequestURL = pullRequestURL(h.o.Service.GitHubWebOrigin(), e.Spec)
	return v
}

// pullRequestURL is the address of the evaluated pull request on the
// configured GitHub (origin: https://github.com, or a GitHub Enterprise
// Server host), or "" for an evaluation that is not of a pull request of
// a GitHub repository: the demo, a local directory, no number, or a name
// that is not owner/name. Each path segment is escaped.
func pullRequestURL(origin string, s store.Spec) string {
	if origin == "" || s.PR <= 0 || s.Local != "" || s.Trigger == "demo" || github.CheckRepo("repo", s.Repo) != nil {
		return ""
	}
	owner, name, _ := strings.Cut(s.Repo, "/")
	return origin + "/" + url.PathEscape(owner) + "/" + url.PathEscape(name) + "/pull/" + strconv.Itoa(s.PR)
}

// summaryWindow is how far back the list page's per-repository summary
// looks.
const summaryWindow = 30 * 24 * time.Hour

// changeStatus is the badge of a branch's or pull request's last
// evaluation: its result when finished, else its state.
func changeStatus(c store.ChangeResult) string {
	switch {
	case c.State == store.StateDone && c.Result != "":
		return c.Result
	case c.State == store.StateFailed:
		return "error"
	}
	return c.State
}

// changeName names a branch or pull request in a summary: #12, main,
// v1.2.0, or the trigger of an evaluation with neither.
func changeName(c store.ChangeResult) string {
	switch {
	case c.PR > 0:
		return "#" + strconv.Itoa(c.PR)
	case c.Ref != "":
		for _, p := range []string{"refs/heads/", "refs/tags/"} {
			if n, ok := strings.CutPrefix(c.Ref, p); ok {
				return n
			}
		}
		return c.Ref
	}
	return c.Trigger + " evaluation"
}

// FileURL links a file at the evaluated commit on GitHub, when the source
// is a GitHub repository.
func (v evaluationView) FileURL(file string, line int) string {
	u, err := url.Parse(v.Spec.CloneURL)
	if err != nil || u.Host == "" || v.Spec.SHA == "" || file == "" {
		return ""
	}
	repo := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	link := fmt.Sprintf("%s://%s/%s/blob/%s/%s", u.Scheme, u.Host, repo, v.Spec.SHA, file)
	if line > 0 {
		link += fmt.Sprintf("#L%d", line)
	}
	return link
}

// CommitURL links the commit on GitHub.
func (v evaluationView) CommitURL() string {
	u, err := url.Parse(v.Spec.CloneURL)
	if err != nil || u.Host == "" {
		return ""
	}
	return fmt.Sprintf("%s://%s/%s/commit/%s", u.Scheme, u.Host, strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git"), v.Spec.SHA)
}

func (h *handlers) listPage(c echo.Context) error {
	f, err := filterOf(c)
	if err != nil {
		return c.String(http.StatusBadRequest, err.Error()+"\n")
	}
	evs, total, err := h.o.Service.List(c.Request().Context(), f)
	if err != nil {
		return c.String(http.StatusInternalServerError, err.Error())
	}
	views := make([]evaluationView, len(evs))
	for i, e := range evs {
		views[i] = h.view(e)
	}
	// The summary heads the first page only: paging through older
	// evaluations does not ask for it again.
	var summaries []store.RepoSummary
	if f.Offset == 0 {
		summaries, err = h.o.Service.Summaries(c.Request().Context(), store.SummaryOptions{Repo: f.Repo, Since: time.Now().Add(-summaryWindow)})
		if err != nil {
			// The list is still worth showing.
			h.o.Logger.Error("repository summaries", "err", err)
			summaries = nil
		}
	}
	next := ""
	if f.Offset+f.Limit < total {
		q := c.QueryParams()
		q.Set("offset", fmt.Sprint(f.Offset+f.Limit))
		next = "/?" + q.Encode()
	}
	prev := ""
	if f.Offset > 0 {
		q := c.QueryParams()
		q.Set("offset", fmt.Sprint(max(0, f.Offset-f.Limit)))
		prev = "/?" + q.Encode()
	}
	return c.Render(http.StatusOK, "list.html", map[string]any{"Evaluations": views, "Total": total, "Filter": f, "Next": next, "Prev": prev, "Summaries": summaries})
}

func (h *handlers) evaluationPage(c echo.Context) error {
	e, err := h.o.Service.Get(c.Request().Context(), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return c.Render(http.StatusNotFound, "notfound.html", c.Param("id"))
	}
	if err != nil {
		return c.String(http.StatusInternalServerError, err.Error())
	}
	return c.Render(http.StatusOK, "evaluation.html", h.view(e))
}

func (h *handlers) imagePage(c echo.Context) error {
	ref := c.QueryParam("ref")
	var hist []store.ImageHistory
	if ref != "" {
		var err error
		if hist, err = h.o.Service.ImageHistory(c.Request().Context(), ref); err != nil {
			return c.String(http.StatusInternalServerError, err.Error())
		}
	}
	// The newest first; the first failure after a run of passes is when the
	// image started failing.
	startedFailing := ""
	for i := 0; i+1 < len(hist); i++ {
		if hist[i].Status != "pass" && hist[i+1].Status == "pass" {
			startedFailing = hist[i].EvaluationID
			break
		}
	}
	return c.Render(http.StatusOK, "image.html", map[string]any{"Ref": ref, "History": hist, "StartedFailing": startedFailing})
}

func (h *handlers) policyPage(c echo.Context) error {
	return c.Render(http.StatusOK, "policies.html", h.o.Service.Policies())
}

func needsAttention(a gate.AppVerdict) bool {
	if a.Error != "" {
		return true
	}
	for _, im := range a.Images {
		if !im.Status.Passing() {
			return true
		}
	}
	return false
}

// shortRef shows an image reference with its digest cut to 12 hex
// characters, so a 64-character digest never wraps mid-word or overflows a
// phone's card; the full reference stays in the link and the title.
func shortRef(image string) string {
	name, digest, ok := strings.Cut(image, "@")
	if !ok {
		return image
	}
	algo, hexPart, ok := strings.Cut(digest, ":")
	if !ok || len(hexPart) <= 12 {
		return image
	}
	return name + "@" + algo + ":" + hexPart[:12] + "…"
}

// headline is the first clause of a reason, for an image whose expected
// and found identities are shown on their own lines: "Signed by another
// identity", "No signatures found at sha256:3104939895fb…".
func headline(reason string) string {
	h, _, _ := strings.Cut(reason, " (want ")
	if before, _, ok := strings.Cut(h, ": got subjects"); ok {
		h = before
	}
	if i := strings.Index(h, "sha256:"); i >= 0 && len(h) >= i+7+64 {
		h = h[:i+7+12] + "…" + h[i+7+64:]
	}
	if h != "" {
		h = strings.ToUpper(h[:1]) + h[1:]
	}
	return h
}

// identity shortens a certificate subject for a table cell: a GitHub
// Actions workflow identity without its https://github.com/ prefix.
func identity(subject string) string {
	return strings.TrimPrefix(subject, githubPrefix)
}

const githubPrefix = "https://github.com/"
