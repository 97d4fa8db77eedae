package main

import (
	"errors"
	"fmt"
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
	var app, appNS, job, jobNS string
	var srv argocd.Server
	var cluster argocd.Cluster
	cmd := &cobra.Command{
		Use:   "presync",
		Short: "Argo CD PreSync hook: refuse a sync whose revision has not passed the gate",
		Long: `Presync runs in a Job that Argo CD starts before a sync (argocd.argoproj.io/hook: PreSync).
It finds its Application (--app, else the tracking annotation or instance label that Argo CD puts
on the hook's Job, read through the Kubernetes API), reads the Application's running sync, and
judges every source of it at the commit being synced (status.operationState.syncResult), rendered
with the source's own options. With --server it asks the gate service (https; --server-ca for a
private CA) for each source and checks that each answer is about that source; without it, it
evaluates each source itself. It exits 0 only when every image of every source passes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			ns, name := appNS, app
			if name == "" {
				if job == "" || jobNS == "" {
					return &exitError{exitUsage, errors.New("--app is required: it was expected from --app or ARGOCD_APP_NAME, or from the hook's own Job (--job/GITOPS_GATE_JOB and --job-namespace/POD_NAMESPACE, set by deploy/presync/job.yaml through the downward API), whose Argo CD tracking annotation names the Application")}
				}
				var err error
				if ns, name, err = cluster.AppOfJob(ctx, jobNS, job, appNS); err != nil {
					return &exitError{exitUsage, fmt.Errorf("--app is required: it was expected from the hook's Job %s/%s: %w", jobNS, job, err)}
				}
			}
			if srv.URL != "" {
				if _, err := srv.BaseURL(); err != nil {
					return &exitError{exitUsage, err}
				}
			}
			a, err := cluster.Sync(ctx, ns, name)
			if err != nil {
				return &exitError{exitOperational, err}
			}
			rep := judgeSync(cmd, a, func(s *argocd.Source, spec *argocd.Spec) (*gate.Report, error) {
				if srv.URL != "" {
					q := &argocd.Question{Repo: argocd.RepoName(s.RepoURL), Revision: s.Revision, Ref: fetchRef(s),
						Apps: []string{s.AppPath()}, Trigger: "argocd", Application: spec}
					rep, link, err := srv.Ask(ctx, q)
					if link != "" {
						fmt.Fprintf(cmd.ErrOrStderr(), "gitops-gate: verdict %s\n", link)
					}
					return rep, err
				}
				return evaluateLocally(cmd, &ef, s, spec)
			})
			return verdictExit(cmd, rep)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&app, "app", os.Getenv("ARGOCD_APP_NAME"), "the Application being synced (default: named by the hook's Job)")
	fl.StringVar(&appNS, "app-namespace", "argocd", "the Application's namespace, when the tracking annotation does not name one")
	fl.StringVar(&job, "job", os.Getenv("GITOPS_GATE_JOB"), "the hook's own Job, whose tracking annotation names the Application")
	fl.StringVar(&jobNS, "job-namespace", os.Getenv("POD_NAMESPACE"), "the namespace of the hook's Job")
	fl.StringVar(&srv.URL, "server", os.Getenv("GITOPS_GATE_SERVER"), "URL of the gate service, https (empty: evaluate here)")
	fl.StringVar(&srv.Token, "token", os.Getenv("GITOPS_GATE_TOKEN"), "bearer token for the gate service")
	fl.StringVar(&srv.CAFile, "server-ca", os.Getenv("GITOPS_GATE_SERVER_CA"), "PEM file of the CA that signs the gate service's certificate (default: the system's)")
	fl.BoolVar(&srv.InsecureHTTP, "insecure-http", false, "allow a plain http --server (the token and verdicts travel unprotected)")
	fl.DurationVar(&srv.Wait, "wait", 5*time.Minute, "how long to wait for the verdict")
	fl.StringVar(&cluster.APIServer, "kube-api", "", "Kubernetes API URL (default: in-cluster)")
	fl.StringVar(&cluster.TokenFile, "kube-token-file", "", "Kubernetes bearer token file (default: the service account's)")
	fl.StringVar(&cluster.CAFile, "kube-ca-file", "", "Kubernetes CA file (default: the service account's)")
	ef.register(cmd)
	return cmd
}

// judgeSync judges every source of the sync and returns one report. Each
// source that cannot be judged is an app error in it, never skipped; a
// sync with no source to judge is an error too.
func judgeSync(cmd *cobra.Command, a *argocd.Application, judge func(*argocd.Source, *argocd.Spec) (*gate.Report, error)) *gate.Report {
	all := &gate.Report{APIVersion: gate.APIVersion}
	fail := func(s *argocd.Source, err error) {
		all.Apps = append(all.Apps, gate.AppVerdict{Name: a.Name + " " + s.Field, Path: s.AppPath(), Error: err.Error()})
	}
	for i := range a.Sources {
		s := &a.Sources[i]
		switch {
		case s.ValuesOnly():
			// Argo CD renders nothing from it; its files reach the
			// other sources through $<ref>, checked below.
			fmt.Fprintf(cmd.ErrOrStderr(), "gitops-gate: %s (ref %s) only lends value files\n", s.Field, s.Ref)
			continue
		case s.Chart != "":
			fail(s, fmt.Errorf("chart %s %s from %s: %w", s.Chart, s.TargetRevision, s.RepoURL, argocd.ErrChartSource))
			continue
		}
		if err := refsAtSameCommit(a, s); err != nil {
			fail(s, err)
			continue
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "gitops-gate: checking %s %s at %s (%s, path %s)\n", a.Name, s.Field, s.Revision, s.RepoURL, s.AppPath())
		rep, err := judge(s, a.Spec(s.Index))
		if err != nil {
			fail(s, err)
			continue
		}
		all.Apps = append(all.Apps, rep.Apps...)
	}
	if len(all.Apps) == 0 {
		all.Apps = append(all.Apps, gate.AppVerdict{Name: a.Name, Error: "no source of the Application renders anything the gate can judge"})
	}
	all.Recount()
	return all
}

// refsAtSameCommit refuses value files taken from another source ($ref)
// at a commit other than the one this source is judged at: the gate reads
// them from this source's checkout.
func refsAtSameCommit(a *argocd.Application, s *argocd.Source) error {
	for _, o := range a.Sources {
		if o.Ref == "" || o.Index == s.Index || !strings.Contains(string(s.Raw), "$"+o.Ref+"/") {
			continue
		}
		if o.Revision != s.Revision {
			return fmt.Errorf("value files from %s ($%s) are at commit %s, and this source at %s: the gate reads them from one checkout", o.Field, o.Ref, o.Revision, s.Revision)
		}
	}
	return nil
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

// evaluateLocally fetches the source's repository at the synced commit and
// judges it through the same code the gate service uses for the hook.
func evaluateLocally(cmd *cobra.Command, ef *engineFlags, s *argocd.Source, spec *argocd.Spec) (*gate.Report, error) {
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
	return argocd.CheckSource(cmd.Context(), eng, dir, spec, manifests.Options{HelmSandbox: helmSandbox(manifests.DefaultHelmTimeout, 0)})
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
