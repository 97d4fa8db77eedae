package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	yaml "go.yaml.in/yaml/v3"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/registry"
	"github.com/gitops-gate/gitops-gate/gate/report"
	"github.com/gitops-gate/gitops-gate/gate/service/config"
	"github.com/gitops-gate/gitops-gate/gate/trust"
)

// engineFlags configure the verification engine (shared by every command
// that verifies).
type engineFlags struct {
	policies     []string
	policyIgnore []string
	identities   []string
	keys         []string
	trustedRoot  string
	tuf          bool
	tufCache     string
	requireMatch bool
	strict       bool
	timeout      time.Duration
	retries      int
	concurrency  int
	deny         []string
	bundles      []string    // check --bundle
	ignoreTlog   bool        // check --insecure-ignore-tlog
	ignoreSCT    bool        // check --insecure-ignore-sct
	github       githubFlags // check --attestations github, --signer-repo, ...
	kyverno      string      // --kyverno-version
	nsLabels     string      // --namespace-labels
}

// cliRegistryDeny is --registry-deny's default: link-local addresses
// (cloud metadata). Loopback stays reachable: someone running check on
// their machine expects their local registry (localhost:5000, kind's) to
// work. The service denies loopback too (registries.deny).
var cliRegistryDeny = []string{"169.254.0.0/16", "fe80::/10"}

func (f *engineFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringSliceVar(&f.policies, "policy", nil, "Kyverno policy files or directories: ClusterPolicy/Policy, ImageValidatingPolicy/NamespacedImageValidatingPolicy and their PolicyExceptions (repeatable)")
	fl.StringVar(&f.kyverno, "kyverno-version", "", "the cluster's Kyverno version (e.g. 1.18.2): below 1.19, ImageValidatingPolicy verdicts warn where it decides otherwise")
	fl.StringVar(&f.nsLabels, "namespace-labels", "", "YAML file mapping each namespace to its labels ({shop: {env: prod}}), for ImageValidatingPolicy namespaceSelectors")
	fl.StringArrayVar(&f.policyIgnore, "policy-ignore", nil, "glob of files in a --policy directory that are not policies, e.g. kustomization.yaml (repeatable; any other non-policy YAML there is an error)")
	fl.StringArrayVar(&f.identities, "identity", nil, "trusted keyless identity ISSUER=SUBJECT_REGEXP, exact issuer and anchored regexp (repeatable)")
	fl.StringArrayVar(&f.keys, "key", nil, "trusted cosign public key file (repeatable)")
	fl.StringVar(&f.trustedRoot, "trusted-root", os.Getenv("GITOPS_GATE_TRUSTED_ROOT"), "Sigstore trusted_root.json (private or air-gapped Sigstore)")
	fl.BoolVar(&f.tuf, "tuf", false, "use public-good Sigstore's trust root through TUF (needs network on first use)")
	fl.StringVar(&f.tufCache, "tuf-cache", "", "directory caching TUF metadata (default ~/.sigstore/root)")
	fl.BoolVar(&f.requireMatch, "require-match", false, "fail images that no policy rule matches")
	fl.BoolVar(&f.strict, "strict", false, "fail image fields of resource kinds the gate has no extractor for, instead of warning")
	fl.DurationVar(&f.timeout, "registry-timeout", 30*time.Second, "timeout of each registry request")
	fl.IntVar(&f.retries, "registry-retries", 3, "retries of a registry request on 429, 5xx or a dropped connection")
	fl.IntVar(&f.concurrency, "registry-concurrency", 64, "requests in flight to one registry at most (1 to 1024)")
	fl.StringSliceVar(&f.deny, "registry-deny", cliRegistryDeny, "addresses (IPs or CIDR ranges) never contacted for a registry, checked after DNS; --registry-deny= denies none (the service's registries.deny also denies loopback)")
}

func (f *engineFlags) engine() (*gate.Engine, error) {
	// As registry.concurrency in the service's configuration: 0 or a
	// negative number would silently mean the default.
	if f.concurrency < 1 || f.concurrency > registry.MaxPerRegistry {
		return nil, &exitError{exitUsage, fmt.Errorf("--registry-concurrency %d: want 1 to %d", f.concurrency, registry.MaxPerRegistry)}
	}
	deny, err := config.ParsePrefixes("--registry-deny", f.deny)
	if err != nil {
		return nil, &exitError{exitUsage, err}
	}
	var nsLabels map[string]map[string]string
	if f.nsLabels != "" {
		data, err := os.ReadFile(f.nsLabels)
		if err == nil {
			err = yaml.Unmarshal(data, &nsLabels)
		}
		if err != nil {
			return nil, &exitError{exitUsage, fmt.Errorf("--namespace-labels %s: %w", f.nsLabels, err)}
		}
	}
	cfg := gate.Config{
		PolicyPaths: f.policies, PolicyIgnore: f.policyIgnore, Identities: f.identities, KeyFiles: f.keys,
		KyvernoVersion: f.kyverno, NamespaceLabels: nsLabels,
		Trust:               trust.Source{TrustedRootPath: f.trustedRoot, UseTUF: f.tuf, TUFCacheDir: f.tufCache},
		Registry:            registry.Options{Timeout: f.timeout, Retries: f.retries, PerRegistry: f.concurrency, GitHubToken: os.Getenv("GITHUB_TOKEN"), Deny: deny},
		RequireMatch:        f.requireMatch,
		StrictUnknownImages: f.strict,
		BundleFiles:         f.bundles,
		InsecureIgnoreTlog:  f.ignoreTlog, InsecureIgnoreSCT: f.ignoreSCT,
	}
	if err := f.github.config(&cfg); err != nil {
		return nil, &exitError{exitUsage, err}
	}
	e, err := gate.NewEngine(cfg)
	if err != nil {
		return nil, &exitError{exitUsage, err}
	}
	// A trust root the user named but the gate cannot read is a mistake in
	// the command line: say it once, before any registry is contacted,
	// rather than as the reason of every image.
	if f.trustedRoot != "" && e.TrustErr != nil {
		return nil, &exitError{exitUsage, fmt.Errorf("--trusted-root (or GITOPS_GATE_TRUSTED_ROOT): %w", e.TrustErr)}
	}
	return e, nil
}

func newCheckCmd() *cobra.Command {
	var rf repoFlags
	var ef engineFlags
	var output string
	var files checkFiles
	var state stateFlags
	cmd := &cobra.Command{
		Use:   "check DIR",
		Short: "Verify that every image of the repository in DIR is signed by a trusted identity",
		Long: `Check renders every app of the repository in DIR, resolves each image to a digest and
verifies its cosign signatures against the policies (Kyverno verifyImages, or the native
--identity/--key forms), offline against the trust root.

Exit codes: 0 pass, 1 denied (an image failed), 2 usage or configuration error,
3 operational error (an image or app could not be checked).`,
		Example: `  gitops-gate check . --policy policies/ --trusted-root trusted_root.json
  gitops-gate check . --tuf \
    --identity 'https://token.actions.githubusercontent.com=https://github\.com/acme/.+/\.github/workflows/release\.yml@refs/tags/v.*'
  gitops-gate check . --policy policies/ --trusted-root trusted_root.json -o sarif > gitops-gate.sarif
  gitops-gate check . --policy policies/ --trusted-root trusted_root.json -o github --sarif-file gitops-gate.sarif
  gitops-gate check . --tuf --attestations github --signer-workflow acme/app/.github/workflows/release.yml \
    --source-ref refs/tags/v1.0.0 --deny-self-hosted-runners`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !checkFormats[output] {
				return &exitError{exitUsage, fmt.Errorf("-o %q: want table, json, sarif, markdown or github", output)}
			}
			eng, err := ef.engine()
			if err != nil {
				return err
			}
			if eng.TrustErr != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %v; images that need it will be errors\n", eng.TrustErr)
			}
			// cosign's own warnings for its insecure switches.
			if ef.ignoreTlog {
				fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: Skipping tlog verification is an insecure practice that lacks transparency and auditability verification for the signature.")
			}
			if ef.ignoreSCT {
				fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: Skipping SCT verification is an insecure practice: the certificate's inclusion in a certificate transparency log is not checked.")
			}
			mopts, err := rf.options()
			defer rf.close()
			if err != nil {
				return err
			}
			inc, err := state.load(args[0])
			if err != nil {
				return err
			}
			rep, rec, err := eng.CheckIncremental(cmd.Context(), args[0], gate.CheckOptions{Manifests: mopts, App: rf.app}, inc)
			if err != nil {
				return scanError(err)
			}
			if state.path == "" {
				rep.Rendering = nil // every app rendered, as always without --state
			} else if err := state.save(rec); err != nil {
				return &exitError{exitOperational, err}
			}
			var warnings []string
			if eng.TrustErr != nil {
				warnings = append(warnings, eng.TrustErr.Error()+"; images that need it will be errors")
			}
			if err := writeCheckOutput(cmd.OutOrStdout(), args[0], rep, output, files, warnings); err != nil {
				return &exitError{exitOperational, err}
			}
			return verdictError(rep)
		},
	}
	rf.register(cmd)
	ef.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json, sarif, markdown or github (workflow commands, and the Markdown summary appended to $GITHUB_STEP_SUMMARY)")
	files.register(cmd)
	cmd.Flags().BoolVar(&ef.ignoreTlog, "insecure-ignore-tlog", false, "native form (--identity, --key): do not require a transparency-log entry, as cosign's flag (a keyless signature then needs a trusted RFC 3161 timestamp)")
	cmd.Flags().BoolVar(&ef.ignoreSCT, "insecure-ignore-sct", false, "native form (--identity): do not require the certificate's embedded SCT, as cosign's flag")
	ef.github.register(cmd)
	cmd.Flags().StringArrayVar(&ef.bundles, "bundle", nil, "Sigstore bundle file signing or attesting an image, as cosign verify --bundle (repeatable; admission will not see it)")
	state.register(cmd)
	return cmd
}

// verdictError maps a report to check's exit code: 1 denied, 3 could not
// check, nil for a pass. Every command that prints a verdict uses it.
func verdictError(rep *gate.Report) error {
	switch rep.Result {
	case gate.StatusFail:
		return &exitError{exitDenied, errors.New(report.Summary(rep))}
	case gate.StatusError:
		return &exitError{exitOperational, errors.New(report.Summary(rep))}
	case gate.StatusPass:
		return nil
	}
	return &exitError{exitOperational, fmt.Errorf("unknown result %q", rep.Result)}
}
