package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/argocd"
	"github.com/gitops-gate/gitops-gate/gate/gitsrc"
	"github.com/gitops-gate/gitops-gate/gate/report"
	"github.com/gitops-gate/gitops-gate/manifests"
)

func newPresyncCmd() *cobra.Command {
	var ef engineFlags
	var app, appNS, server, token string
	var wait time.Duration
	var cluster argocd.Cluster
	cmd := &cobra.Command{
		Use:   "presync",
		Short: "Argo CD PreSync hook: refuse a sync whose revision has not passed the gate",
		Long: `Presync runs in a Job that Argo CD starts before a sync (argocd.argoproj.io/hook: PreSync).
It reads the Application through the Kubernetes API with the pod's service account, finds the
revision being synced, and asks the gate service for the verdict of that app at that revision
(POST /api/v1/evaluations?wait=); without --server it evaluates the revision itself. It exits 0
only when every image passes, and prints the failing images otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if app == "" {
				return &exitError{exitUsage, errors.New("--app is required (the Application's name)")}
			}
			src, err := cluster.Sync(cmd.Context(), appNS, app)
			if err != nil {
				return &exitError{exitOperational, err}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "gitops-gate: checking %s at %s (%s, path %s)\n", app, src.Revision, src.RepoURL, src.Path)
			var rep *gate.Report
			if server != "" {
				rep, err = askServer(cmd, server, token, wait, src)
			} else {
				rep, err = evaluateLocally(cmd, &ef, src)
			}
			if err != nil {
				return &exitError{exitOperational, err}
			}
			return verdictExit(cmd, rep)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&app, "app", os.Getenv("ARGOCD_APP_NAME"), "the Application being synced")
	fl.StringVar(&appNS, "app-namespace", "argocd", "the Application's namespace")
	fl.StringVar(&server, "server", os.Getenv("GITOPS_GATE_SERVER"), "URL of the gate service (empty: evaluate here)")
	fl.StringVar(&token, "token", os.Getenv("GITOPS_GATE_TOKEN"), "bearer token for the gate service")
	fl.DurationVar(&wait, "wait", 5*time.Minute, "how long to wait for the verdict")
	fl.StringVar(&cluster.APIServer, "kube-api", "", "Kubernetes API URL (default: in-cluster)")
	fl.StringVar(&cluster.TokenFile, "kube-token-file", "", "Kubernetes bearer token file (default: the service account's)")
	fl.StringVar(&cluster.CAFile, "kube-ca-file", "", "Kubernetes CA file (default: the service account's)")
	ef.register(cmd)
	return cmd
}

var hexSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// fetchRef says what to fetch so that the revision is present: the target
// branch (or ref), HEAD, or the commit itself when the target is one.
func fetchRef(s *argocd.Source) string {
	t := s.TargetRevision
	switch {
	case t == "" || t == "HEAD":
		return "HEAD"
	case hexSHA.MatchString(t):
		return ""
	case strings.HasPrefix(t, "refs/"):
		return t
	}
	return "refs/heads/" + t
}

func askServer(cmd *cobra.Command, server, token string, wait time.Duration, s *argocd.Source) (*gate.Report, error) {
	body, _ := json.Marshal(map[string]any{"repo": argocd.RepoName(s.RepoURL), "cloneUrl": s.RepoURL, "revision": s.Revision,
		"ref": fetchRef(s), "apps": []string{strings.Trim(s.Path, "/")}, "trigger": "argocd"})
	u := strings.TrimRight(server, "/") + "/api/v1/evaluations?wait=" + url.QueryEscape(wait.String())
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: wait + time.Minute}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("asking %s: %w", server, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	var ev struct {
		ID     string          `json:"id"`
		State  string          `json:"state"`
		Error  string          `json:"error"`
		Report json.RawMessage `json:"report"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil || resp.StatusCode >= 300 && resp.StatusCode != http.StatusAccepted {
		return nil, fmt.Errorf("gate service %s: %s: %s", server, resp.Status, strings.TrimSpace(string(raw)))
	}
	if ev.State != "done" {
		return nil, fmt.Errorf("evaluation %s is %s after %v: %s", ev.ID, ev.State, wait, ev.Error)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "gitops-gate: verdict %s/evaluations/%s\n", strings.TrimRight(server, "/"), ev.ID)
	var rep gate.Report
	if err := json.Unmarshal(ev.Report, &rep); err != nil {
		return nil, fmt.Errorf("evaluation %s: %w", ev.ID, err)
	}
	return &rep, nil
}

func evaluateLocally(cmd *cobra.Command, ef *engineFlags, s *argocd.Source) (*gate.Report, error) {
	eng, err := ef.engine()
	if err != nil {
		return nil, err
	}
	cache := filepath.Join(os.TempDir(), "gitops-gate-presync")
	f, err := gitsrc.New(gitsrc.Options{CacheDir: cache})
	if err != nil {
		return nil, err
	}
	dir, cleanup, err := f.Checkout(cmd.Context(), gitsrc.Request{CloneURL: s.RepoURL, Ref: fetchRef(s), SHA: s.Revision, Token: os.Getenv("GITHUB_TOKEN")}, "")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	// The app renders as this Application renders it (its helm,
	// kustomize and directory options, or gitops-gate's plugin env), not
	// only as the repository describes it.
	adjust, err := manifests.ApplicationSettings(s.Application, s.SourceIndex)
	if err != nil {
		return nil, err
	}
	return eng.Check(cmd.Context(), dir, gate.CheckOptions{App: strings.Trim(s.Path, "/"), Adjust: adjust,
		Manifests: manifests.Options{HelmSandbox: helmSandbox(manifests.DefaultHelmTimeout, 0)}})
}

func verdictExit(cmd *cobra.Command, rep *gate.Report) error {
	for _, a := range rep.Apps {
		if a.Error != "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "  app %s: %s\n", a.Name, a.Error)
		}
		for _, im := range a.Images {
			if !im.Status.Passing() {
				fmt.Fprintf(cmd.ErrOrStderr(), "  %s %s (%s:%d): %s\n", strings.ToUpper(string(im.Status)), im.Image, im.File, im.Line, im.Reason)
			}
		}
	}
	fmt.Fprintln(cmd.OutOrStdout(), report.Summary(rep))
	switch rep.Result {
	case gate.StatusPass:
		return nil
	case gate.StatusFail:
		return &exitError{exitDenied, errors.New("the sync is refused: " + report.Summary(rep))}
	}
	return &exitError{exitOperational, errors.New("the sync is refused: " + report.Summary(rep))}
}
