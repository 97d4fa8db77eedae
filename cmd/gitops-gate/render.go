package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/argocd"
	"github.com/gitops-gate/gitops-gate/gate/report"
	"github.com/gitops-gate/gitops-gate/manifests"
)

func newRenderCmd() *cobra.Command {
	var rf repoFlags
	var ef engineFlags
	var pin bool
	cmd := &cobra.Command{
		Use:   "render DIR",
		Short: "Print the rendered manifests of every app (or one with --app)",
		Long: `Render discovers the apps of the repository in DIR (see docs/apps.md), renders each
one in-process (plain YAML, Kustomize, Helm) and prints them as one YAML stream,
each app preceded by a comment naming it. Errors go to stderr; the exit code is 1
when any app could not be rendered.`,
		Args: cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			if pin {
				return renderPinned(cmd, dir, &rf, &ef)
			}
			repo, err := rf.open(dir)
			if err != nil {
				return err
			}
			_, rendered, err := repo.Scan(cmd.Context(), manifests.ScanOptions{App: rf.app})
			if err != nil {
				return scanError(err)
			}
			failed := 0
			for _, rd := range rendered {
				if rd.Err != nil {
					failed++
					fmt.Fprintf(cmd.ErrOrStderr(), "app %s: %v\n", rd.App.Name, rd.Err)
				}
				stream, err := rd.Stream()
				if err != nil {
					return &exitError{exitOperational, err}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "---\n# app: %s (%s, %s)\n", rd.App.Name, rd.App.Kind, rd.App.Path)
				cmd.OutOrStdout().Write(stream)
			}
			if failed > 0 {
				return &exitError{exitDenied, fmt.Errorf("%d of %d apps could not be rendered", failed, len(rendered))}
			}
			return nil
		},
	}
	rf.register(cmd)
	ef.register(cmd)
	cmd.Flags().BoolVar(&pin, "pin", false, "verify every image and print the manifests pinned to the verified digests; print nothing on any failure (Argo CD plugin mode)")
	return cmd
}

// renderPinned is the Argo CD Config Management Plugin mode: the manifests
// with every image pinned to its verified digest on stdout, or nothing on
// stdout and the reasons on stderr (an empty output with prune on would
// delete the app's resources, so failing is the only safe answer).
func renderPinned(cmd *cobra.Command, dir string, rf *repoFlags, ef *engineFlags) error {
	root, app := argoSource(dir)
	if rf.app != "" {
		app = rf.app
	}
	eng, err := ef.engine()
	if err != nil {
		return err
	}
	mopts, err := rf.options()
	if err != nil {
		return err
	}
	// The Application's plugin env shapes the rendering of the one app
	// Argo CD renders.
	env, err := manifests.ParsePluginEnv(os.Environ())
	if err != nil {
		return &exitError{exitUsage, err}
	}
	var adjust func(*manifests.App) error
	switch {
	case app != "":
		adjust = env.Apply
	case env.HasSettings():
		return &exitError{exitUsage, errors.New("ARGOCD_ENV_ settings apply to one app: name it with ARGOCD_APP_SOURCE_PATH or --app")}
	}
	// Argo CD merges .argocd-source*.yaml into the source before it picks
	// the tool: such a file can change what the plugin renders, or route
	// around the plugin altogether. Refused, in the plugin's directory and
	// in the app's.
	for _, d := range overrideDirs(dir, root, app) {
		if err := argocd.RefuseSourceOverrides(d); err != nil {
			return &exitError{exitOperational, err}
		}
	}
	adjust, destinations := argocd.RecordDestinations(adjust)
	stream, rep, err := eng.CheckAndPin(cmd.Context(), root, gate.PinOptions{Manifests: mopts, App: app, Adjust: adjust})
	if err != nil {
		return scanError(err)
	}
	if rep.Result == gate.StatusPass {
		// What is printed is what Argo CD will decode, re-serialised from
		// the decoded objects and checked image by image against what
		// was judged, at the object and field it was judged in (see
		// argocd.PluginOutput).
		stream, err = argocd.PluginOutput(stream, argocd.Approved(rep, destinations()), mopts.Extractors.Merge(eng.Extractors()))
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "gitops-gate: refusing to render %s: %v\n", renderTarget(dir, app), err)
			return &exitError{exitDenied, err}
		}
	}
	stderr := cmd.ErrOrStderr()
	if server := os.Getenv("GITOPS_GATE_SERVER"); server != "" {
		// Best effort: the render's verdict is the one above; the service
		// keeps a record of what Argo CD rendered.
		if id, err := recordOnServer(cmd, server, os.Getenv("GITOPS_GATE_TOKEN"), app); err != nil {
			fmt.Fprintf(stderr, "gitops-gate: not recorded on %s: %v\n", server, err)
		} else {
			fmt.Fprintf(stderr, "gitops-gate: recorded as %s/evaluations/%s\n", strings.TrimRight(server, "/"), id)
		}
	}
	if rep.Result != gate.StatusPass {
		fmt.Fprintf(stderr, "gitops-gate: refusing to render %s:\n", renderTarget(dir, app))
		for _, a := range rep.Apps {
			if a.Error != "" {
				fmt.Fprintf(stderr, "  app %s: %s\n", a.Name, a.Error)
			}
			for _, im := range a.Images {
				if !im.Status.Passing() {
					fmt.Fprintf(stderr, "  %s %s (%s:%d %s/%s): %s\n", strings.ToUpper(string(im.Status)), im.Image, im.File, im.Line, im.Resource.Kind, im.Resource.Name, im.Reason)
				}
			}
		}
		code := exitDenied
		if rep.Result == gate.StatusError {
			code = exitOperational
		}
		return &exitError{code, errors.New(report.Summary(rep))}
	}
	_, err = cmd.OutOrStdout().Write(stream)
	return err
}

// renderTarget names what was refused: the Application and revision from
// Argo CD's environment, or, run by hand where they are not set, the app
// or directory, saying which variable was missing.
func renderTarget(dir, app string) string {
	name := os.Getenv("ARGOCD_APP_NAME")
	if name == "" {
		name = "app " + app
		if app == "" {
			name = "the apps of " + dir
		}
		name += " (ARGOCD_APP_NAME not set)"
	}
	rev := os.Getenv("ARGOCD_APP_REVISION")
	if rev == "" {
		rev = "the working tree (ARGOCD_APP_REVISION not set)"
	}
	return name + " at " + rev
}

// recordOnServer asks the gate service to evaluate (and so record) what
// Argo CD is rendering: the app at ARGOCD_APP_REVISION of
// ARGOCD_APP_SOURCE_REPO_URL.
func recordOnServer(cmd *cobra.Command, server, token, app string) (string, error) {
	repoURL, rev := os.Getenv("ARGOCD_APP_SOURCE_REPO_URL"), os.Getenv("ARGOCD_APP_REVISION")
	if repoURL == "" || rev == "" {
		return "", errors.New("ARGOCD_APP_SOURCE_REPO_URL and ARGOCD_APP_REVISION are needed")
	}
	req := map[string]any{"repo": argocd.RepoName(repoURL), "revision": rev, "apps": []string{app}, "trigger": "argocd"}
	if t := os.Getenv("ARGOCD_APP_SOURCE_TARGET_REVISION"); t != "" {
		req["ref"] = fetchRef(&argocd.Source{TargetRevision: t})
	}
	body, _ := json.Marshal(req)
	hreq, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, strings.TrimRight(server, "/")+"/api/v1/evaluations", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	hreq.Header.Set("Content-Type", "application/json")
	if token != "" {
		hreq.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(hreq)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("%s: %s", resp.Status, out.Error)
	}
	return out.ID, nil
}

// argoSource finds the repository root and the app in Argo CD's plugin
// environment: the plugin runs in <checkout>/<ARGOCD_APP_SOURCE_PATH>.
func argoSource(dir string) (root, app string) {
	src := strings.Trim(os.Getenv("ARGOCD_APP_SOURCE_PATH"), "/")
	abs, err := filepath.Abs(dir)
	if src == "" || src == "." || err != nil {
		return dir, ""
	}
	if strings.HasSuffix(filepath.ToSlash(abs), "/"+src) {
		return strings.TrimSuffix(abs, string(filepath.Separator)+filepath.FromSlash(src)), src
	}
	return dir, ""
}

// overrideDirs are the directories whose .argocd-source*.yaml files Argo
// CD would merge for this render: the plugin's working directory (the
// app's path in Argo CD) and the app's directory.
func overrideDirs(dir, root, app string) []string {
	dirs := []string{dir}
	if app != "" {
		dirs = append(dirs, filepath.Join(root, filepath.FromSlash(app)))
	}
	return dirs
}
