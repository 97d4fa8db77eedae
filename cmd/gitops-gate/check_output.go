package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/report"
)

// checkFormats are the values of check's -o.
var checkFormats = map[string]bool{"table": true, "json": true, "sarif": true, "markdown": true, "github": true}

// checkFiles are reports written to files in the same run as -o, so one
// evaluation (one set of registry calls) feeds every consumer: the log,
// code scanning and a kept JSON report.
type checkFiles struct {
	sarif string
	json  string
}

func (f *checkFiles) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.sarif, "sarif-file", "", "also write the SARIF report to this file")
	cmd.Flags().StringVar(&f.json, "json-file", "", "also write the JSON report to this file")
}

// writeCheckOutput writes the report files, then the -o format to out.
// Under GitHub Actions, the formats that GitHub reads (sarif, markdown,
// github) give paths relative to the workspace rather than to DIR, so that
// annotations and code-scanning alerts land on the right files; the JSON
// contract keeps DIR-relative paths.
func writeCheckOutput(out io.Writer, dir string, rep *gate.Report, format string, files checkFiles, warnings []string) error {
	gh := rep
	if prefix := workspacePrefix(dir); prefix != "" {
		gh = report.WithPathPrefix(rep, prefix)
	}
	if files.json != "" {
		if err := writeFile(files.json, func(w io.Writer) error { return report.WriteJSON(w, rep) }); err != nil {
			return err
		}
	}
	if files.sarif != "" {
		if err := writeFile(files.sarif, func(w io.Writer) error { return report.WriteSARIF(w, gh, buildVersion()) }); err != nil {
			return err
		}
	}
	md := report.MarkdownOptions{ReportURL: workflowRunURL()}
	switch format {
	case "json":
		return report.WriteJSON(out, rep)
	case "sarif":
		return report.WriteSARIF(out, gh, buildVersion())
	case "markdown":
		return report.WriteMarkdown(out, gh, md)
	case "github":
		if err := report.WriteGitHub(out, gh, report.GitHubOptions{Warnings: warnings}); err != nil {
			return err
		}
		if p := os.Getenv("GITHUB_STEP_SUMMARY"); p != "" {
			// Appended: earlier steps of the job may have written theirs.
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				return fmt.Errorf("step summary: %w", err)
			}
			if err := report.WriteMarkdown(f, gh, md); err != nil {
				f.Close()
				return fmt.Errorf("step summary %s: %w", p, err)
			}
			return f.Close()
		}
		return nil
	}
	return report.WriteTable(out, rep)
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// workspacePrefix is DIR relative to $GITHUB_WORKSPACE, slash-separated,
// or "" when not under Actions, when DIR is the workspace, or when DIR is
// outside it.
func workspacePrefix(dir string) string {
	ws := os.Getenv("GITHUB_WORKSPACE")
	if ws == "" {
		return ""
	}
	abs := func(p string) string {
		p, err := filepath.Abs(p)
		if err != nil {
			return ""
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		return p
	}
	rel, err := filepath.Rel(abs(ws), abs(dir))
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return ""
	}
	return filepath.ToSlash(rel)
}

// workflowRunURL is the current workflow run's page, linked from a summary
// that had to be cut; "" outside Actions.
func workflowRunURL() string {
	server, repo, run := os.Getenv("GITHUB_SERVER_URL"), os.Getenv("GITHUB_REPOSITORY"), os.Getenv("GITHUB_RUN_ID")
	if server == "" || repo == "" || run == "" {
		return ""
	}
	return strings.TrimSuffix(server, "/") + "/" + repo + "/actions/runs/" + run
}
