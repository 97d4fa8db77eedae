package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gitops-gate/gitops-gate/manifests"
)

func newRenderCmd() *cobra.Command {
	var rf repoFlags
	cmd := &cobra.Command{
		Use:   "render DIR",
		Short: "Print the rendered manifests of every app (or one with --app)",
		Long: `Render discovers the apps of the repository in DIR (see docs/apps.md), renders each
one in-process (plain YAML, Kustomize, Helm) and prints them as one YAML stream,
each app preceded by a comment naming it. Errors go to stderr; the exit code is 1
when any app could not be rendered.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := rf.open(args[0])
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
	return cmd
}
