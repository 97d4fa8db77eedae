package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/policy/convert"
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
are warnings.

ImageValidatingPolicy documents are also checked for the mistakes Kyverno's own
documentation makes (warnings with file:line): image instead of ref in a
matchImageReferences expression, a * in an exact subject or issuer,
extractPayload(…).builder.id without .predicate, extractPayload before the attestation
was verified, attestors.my-name (a subtraction in CEL), imageverify.verify, Deny with Warn.`,
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
			findings, err := convert.LintPaths(ignore, args...)
			for _, f := range findings {
				fmt.Fprintf(out, "WARN  %s\n", f)
			}
			if err != nil {
				failed++
				fmt.Fprintf(out, "ERROR %v\n", err)
			}
			if failed > 0 {
				return &exitError{exitUsage, errors.New("policy errors found")}
			}
			return nil
		},
	}
	lint.Flags().StringArrayVar(&ignore, "policy-ignore", nil, "glob of files in a policy directory that are not policies, e.g. kustomization.yaml (repeatable)")
	cmd.AddCommand(lint, newPolicyConvertCmd())
	return cmd
}

func newPolicyConvertCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "convert FILE...",
		Short: "Convert ClusterPolicy verifyImages to ImageValidatingPolicy (policies.kyverno.io/v1)",
		Long: `Convert loads each file as the gate does (strictly: a field the gate does not implement
is an error) and prints one ImageValidatingPolicy per verifyImages entry of each
ClusterPolicy or Policy (a Policy becomes a NamespacedImageValidatingPolicy) as YAML on
standard output.

What IVPOL cannot say exactly carries a "# convert:" comment at that field, and the
same notes are listed on standard error: wildcard subjects become anchored
subjectRegExp (IVPOL compares subject exactly), image patterns gain the spellings
Kyverno's normalisation matched, Kyverno before 1.19 ignores verifyDigest, required and
mutateDigest, additionalExtensions are not checked by Kyverno's IVPOL, useCache and
cosignOCI11 have no field. A JMESPath attestation condition with a clear CEL equivalent
(a plain path with Equals, NotEquals, In, AnyIn, NotIn, AllNotIn) becomes a validation
over extractPayload(…).predicate; any other becomes a validation that is false, which
denies until it is rewritten: the converted policy is never weaker in silence.`,
		Example: `  gitops-gate policy convert testdata/policies/demo.yaml > demo-ivpol.yaml
  gitops-gate policy lint demo-ivpol.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := convert.Files(args...)
			if err != nil {
				return &exitError{exitUsage, err}
			}
			out, err := res.YAML()
			if err != nil {
				return &exitError{exitOperational, err}
			}
			if _, err := cmd.OutOrStdout().Write(out); err != nil {
				return &exitError{exitOperational, err}
			}
			for _, n := range res.Notes {
				fmt.Fprintf(cmd.ErrOrStderr(), "NOTE  %s\n", n)
			}
			return nil
		},
	}
}
