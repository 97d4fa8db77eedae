package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "gitops-gate",
		Short:         "Check that every image a GitOps change would run is pinned and signed by a trusted pipeline",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(),
		newRenderCmd(),
		newImagesCmd(),
		newCheckCmd(),
		newPolicyCmd(),
		newDemoCmd(),
		newServeCmd(),
		newPresyncCmd(),
		newPinCmd(),
		newHelmSandboxCmd(),
	)
	return root
}
