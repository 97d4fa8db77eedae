package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gitops-gate/gitops-gate/gate/policy"
)

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Work with verifyImages policies"}
	cmd.AddCommand(&cobra.Command{
		Use:   "lint FILE...",
		Short: "Load policies as the gate would, and report errors and risky settings",
		Long: `Lint loads each file (or directory) as the gate does. A field the gate does not implement,
a Notary rule, or a keyless attestor that would accept any signer is an error (exit 2);
risky settings Kyverno also accepts (an unanchored subjectRegExp, no subject, ignoreTlog)
are warnings.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			failed := 0
			for _, f := range args {
				set, err := policy.Load(f)
				if err != nil {
					failed++
					fmt.Fprintf(cmd.OutOrStdout(), "ERROR %v\n", err)
					continue
				}
				for _, p := range set.Policies {
					rules := len(p.Rules)
					fmt.Fprintf(cmd.OutOrStdout(), "OK    %s: %s %s, %d verifyImages rule(s)\n", p.File, p.Kind, p.Name, rules)
					if len(p.Controllers) > 0 {
						fmt.Fprintf(cmd.OutOrStdout(), "      Pod rules also apply to %v (Kyverno auto-generation)\n", p.Controllers)
					}
					for _, w := range policy.Lint(p) {
						fmt.Fprintf(cmd.OutOrStdout(), "WARN  %s\n", w)
					}
				}
			}
			if failed > 0 {
				return &exitError{exitUsage, errors.New("policy errors found")}
			}
			return nil
		},
	})
	return cmd
}
