package main

import (
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
identity, and unsigned), then checks testdata/repos/demo against
testdata/policies/demo.yaml exactly as 'gitops-gate check' would. Nothing leaves
the machine.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := os.MkdirTemp("", "gitops-gate-demo-")
			if err != nil {
				return &exitError{exitOperational, err}
			}
			defer os.RemoveAll(dir)
			d, err := gatetest.NewDemo(cmd.Context(), dir, repoSrc, policySrc)
			if err != nil {
				return &exitError{exitOperational, fmt.Errorf("starting the demo: %w", err)}
			}
			defer d.World.Close()
			eng, err := gate.NewEngine(gate.Config{PolicyPaths: []string{d.PolicyPath},
				Trust: trust.Source{TrustedRootPath: d.World.TrustedRootPath}, Registry: registry.Options{}})
			if err != nil {
				return &exitError{exitOperational, err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Demo registry at %s; policy: images must be signed by a release workflow of github.com/acme/*\n\n", d.World.Registry.Host)
			rep, err := eng.Check(cmd.Context(), d.RepoDir, gate.CheckOptions{})
			if err != nil {
				return &exitError{exitOperational, err}
			}
			return report.WriteTable(cmd.OutOrStdout(), rep)
		},
	}
	cmd.Flags().StringVar(&repoSrc, "repo", "testdata/repos/demo", "the demo GitOps repository to copy")
	cmd.Flags().StringVar(&policySrc, "policy", "testdata/policies/demo.yaml", "the demo policy (REGISTRY is replaced)")
	return cmd
}
