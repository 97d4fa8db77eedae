package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/registry"
	"github.com/gitops-gate/gitops-gate/gate/report"
	"github.com/gitops-gate/gitops-gate/gate/trust"
)

func newDemoCmd() *cobra.Command {
	var repoSrc, policySrc string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Check the demo GitOps repository against an in-process registry and test Sigstore",
		Long: `Demo starts an OCI registry and a test Sigstore inside the process, pushes the demo
repository's images (signed by the trusted release workflow, signed by the wrong
identity, and unsigned), then checks the demo repository (testdata/repos/demo, built
into the binary) against its policy (testdata/policies/demo.yaml) exactly as
'gitops-gate check' would. Nothing leaves the machine.

Exit codes are check's: the demo has a wrongly signed and an unsigned image, so it
exits 1 (denied).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (repoSrc == "") != (policySrc == "") {
				return &exitError{exitUsage, errors.New("--repo and --policy go together")}
			}
			dir, err := os.MkdirTemp("", "gitops-gate-demo-")
			if err != nil {
				return &exitError{exitOperational, err}
			}
			defer os.RemoveAll(dir)
			var d *gatetest.Demo
			if repoSrc != "" {
				d, err = gatetest.NewDemo(cmd.Context(), dir, repoSrc, policySrc)
			} else {
				d, err = gatetest.NewEmbeddedDemo(cmd.Context(), dir)
			}
			if err != nil {
				return &exitError{exitOperational, fmt.Errorf("starting the demo: %w", err)}
			}
			defer d.World.Close()
			eng, err := gate.NewEngine(gate.Config{PolicyPaths: []string{d.PolicyPath},
				Trust: trust.Source{TrustedRootPath: d.World.TrustedRootPath}, Registry: registry.Options{}})
			if err != nil {
				return &exitError{exitUsage, err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Demo registry at %s; policy: images must be signed by a release workflow of github.com/acme/*\n\n", d.World.Registry.Host)
			rep, err := eng.Check(cmd.Context(), d.RepoDir, gate.CheckOptions{})
			if err != nil {
				return scanError(err)
			}
			if err := report.WriteTable(cmd.OutOrStdout(), rep); err != nil {
				return &exitError{exitOperational, err}
			}
			return verdictError(rep)
		},
	}
	cmd.Flags().StringVar(&repoSrc, "repo", "", "a GitOps repository to use instead of the built-in demo (with --policy)")
	cmd.Flags().StringVar(&policySrc, "policy", "", "the policy for --repo (REGISTRY is replaced by the demo registry)")
	return cmd
}
