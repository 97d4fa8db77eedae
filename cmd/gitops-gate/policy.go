package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitops-gate/gitops-gate/gate/policy"
	_ "github.com/gitops-gate/gitops-gate/gate/policy/ivpol" // ImageValidatingPolicy and PolicyException
)

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Work with verifyImages policies and ImageValidatingPolicies"}
	var ignore []string
	lint := &cobra.Command{
		Use:   "lint FILE...",
		Short: "Load policies as the gate would, and report errors and risky settings",
		Long: `Lint loads each file (or directory) as the gate does. A field the gate does not implement,
a Notary rule, a keyless attestor that would accept any signer, a CEL expression that
does not compile, a YAML document in a policy directory that is not a kyverno.io
ClusterPolicy or Policy nor a policies.kyverno.io ImageValidatingPolicy,
NamespacedImageValidatingPolicy or PolicyException (unless --policy-ignore excludes its
file), and a set with no verifyImages rule at all are errors (exit 2);
risky settings Kyverno also accepts (an unanchored subjectRegExp, no subject, ignoreTlog)
are warnings.`,
		Example: `  gitops-gate policy lint policies/
  gitops-gate policy lint policies/ --policy-ignore kustomization.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			failed := 0
			out := cmd.OutOrStdout()
			for _, f := range args {
				set, err := policy.LoadWith(policy.LoadOptions{Ignore: ignore}, f)
				if err != nil {
					failed++
					fmt.Fprintf(out, "ERROR %v\n", err)
					continue
				}
				for _, ig := range set.Ignored {
					fmt.Fprintf(out, "SKIP  %s\n", ig)
				}
				for _, p := range set.Policies {
					rules := len(p.Rules)
					what := fmt.Sprintf("%d verifyImages rule(s)", rules)
					if rules == 1 && len(p.Rules[0].Verify) == 1 && p.Rules[0].Verify[0].Program != nil {
						what = "CEL validations"
					}
					fmt.Fprintf(out, "OK    %s: %s %s, %s\n", p.File, p.Kind, p.Name, what)
					if rules == 0 {
						fmt.Fprintf(out, "WARN  %s: %s %s has no verifyImages rule: the gate verifies nothing with it\n", p.File, p.Kind, p.Name)
					}
					if len(p.Controllers) > 0 {
						fmt.Fprintf(out, "      Pod rules also apply to %v (Kyverno auto-generation)\n", p.Controllers)
					}
					for _, w := range policy.Lint(p) {
						fmt.Fprintf(out, "WARN  %s\n", w)
					}
					for _, w := range p.Warnings {
						fmt.Fprintf(out, "WARN  %s: %s %s: %s\n", p.File, p.Kind, p.Name, w)
					}
				}
				now := time.Now()
				for _, x := range set.Exceptions {
					state := "no expiry"
					switch {
					case x.Expired(now):
						state = "EXPIRED " + x.ExpiresAt.UTC().Format(time.RFC3339) + ": no longer applies"
					case !x.ExpiresAt.IsZero():
						state = "expires " + x.ExpiresAt.UTC().Format(time.RFC3339)
					}
					fmt.Fprintf(out, "OK    %s: %s %s exempts from %s (%s)\n", x.File, x.Kind, x.Name, strings.Join(x.Policies, ", "), state)
				}
			}
			if failed > 0 {
				return &exitError{exitUsage, errors.New("policy errors found")}
			}
			return nil
		},
	}
	lint.Flags().StringArrayVar(&ignore, "policy-ignore", nil, "glob of files in a policy directory that are not policies, e.g. kustomization.yaml (repeatable)")
	cmd.AddCommand(lint)
	return cmd
}
