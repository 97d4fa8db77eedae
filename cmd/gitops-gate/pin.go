package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/report"
)

func newPinCmd() *cobra.Command {
	var rf repoFlags
	var ef engineFlags
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "pin DIR",
		Short: "Rewrite image tags in the repository's files to their verified digests, keeping everything else",
		Long: `Pin verifies every image of the repository in DIR and edits the source files so that each
verified image is pinned to the digest that was verified: image: fields of plain manifests and
Kustomize resources, and the digest: of a kustomization's images: entry when that is where the
tag is set. Comments, key order, quoting, indentation, anchors, document separators and line
endings are kept byte for byte outside the changed values. Images that did not pass are not
pinned (exit 1). With --dry-run it prints a unified diff and changes nothing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, err := ef.engine()
			if err != nil {
				return err
			}
			mopts, err := rf.options()
			if err != nil {
				return err
			}
			repo, plan, rep, err := eng.PlanSourcePins(cmd.Context(), args[0], gate.PinOptions{Manifests: mopts, App: rf.app})
			if err != nil {
				return scanError(err)
			}
			files := 0
			if dryRun {
				prop, err := gate.ProposePins(repo, plan)
				if err != nil {
					return &exitError{exitOperational, err}
				}
				fmt.Fprint(cmd.OutOrStdout(), prop.Diff)
				files = len(prop.Files)
			} else {
				changed, err := repo.Apply(plan)
				if err == nil {
					err = repo.WriteFiles(changed)
				}
				if err != nil {
					return &exitError{exitOperational, err}
				}
				files = len(changed)
			}
			for _, s := range plan.Skipped {
				fmt.Fprintf(cmd.ErrOrStderr(), "not pinned: %s (%s): %s\n", s.Image, s.File, s.Reason)
			}
			verb := "pinned"
			if dryRun {
				verb = "would pin"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s %d image values in %d files; %s\n", verb, len(plan.Edits), files, report.Summary(rep))
			if rep.Result != gate.StatusPass {
				return &exitError{exitDenied, errors.New("some images did not pass and were not pinned")}
			}
			return nil
		},
	}
	rf.register(cmd)
	ef.register(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print a unified diff instead of writing")
	return cmd
}
