package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const githubPolicy = `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: verify-acme
spec:
  validationFailureAction: Enforce
  background: false
  webhookTimeoutSeconds: 30
  rules:
    - name: check-image
      match:
        any:
        - resources:
            kinds: [Pod]
      verifyImages:
      - imageReferences: ["ghcr.io/acme/*"]
        skipImageReferences: ["ghcr.io/acme/scratch*"]
        attestors:
        - count: 1
          entries:
          - keyless:
              subject: "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*"
              issuer: "https://token.actions.githubusercontent.com"
              additionalExtensions:
                githubWorkflowRepository: "acme/*"
              rekor:
                url: https://rekor.sigstore.dev
    - name: a-validate-rule-the-gate-ignores
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate:
        message: "whatever"
        pattern: {spec: {containers: [{name: "*"}]}}
`

func TestLoadGitHubPolicyAndAutogen(t *testing.T) {
	pols, err := Parse("verify.yaml", []byte(githubPolicy))
	if err != nil {
		t.Fatal(err)
	}
	if len(pols) != 1 || len(pols[0].Rules) != 1 {
		t.Fatalf("got %d policies", len(pols))
	}
	r := pols[0].Rules[0]
	for _, kind := range []string{"Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "ReplicationController"} {
		if !r.Applies("", kind, "prod") {
			t.Errorf("a Pod rule must also apply to %s (Kyverno autogen)", kind)
		}
	}
	if r.Applies("", "Rollout", "prod") {
		t.Error("autogen does not cover Rollout")
	}
	v := r.Verify[0]
	if m, s := v.Match(mustParse(t, "ghcr.io/acme/api:v1")); !m || s {
		t.Errorf("match = %v, skip = %v", m, s)
	}
	if m, s := v.Match(mustParse(t, "ghcr.io/acme/scratch:1")); !m || !s {
		t.Errorf("skip pattern: match = %v, skip = %v", m, s)
	}
	if !v.Required || !v.VerifyDigest || !v.MutateDigest || v.Audit {
		t.Errorf("defaults: %+v", v)
	}
	k := v.Attestors[0].Entries[0].Keyless
	if k.AdditionalExtensions["githubWorkflowRepository"] != "acme/*" {
		t.Errorf("extensions %v", k.AdditionalExtensions)
	}
}

func TestAutogenAnnotation(t *testing.T) {
	for _, c := range []struct {
		annotation string
		deployment bool
		cronjob    bool
	}{
		{"none", false, false},
		{"Deployment", true, false},
		{"Deployment,CronJob", true, true},
	} {
		doc := strings.Replace(githubPolicy, "  name: verify-acme\n", "  name: verify-acme\n  annotations:\n    pod-policies.kyverno.io/autogen-controllers: "+c.annotation+"\n", 1)
		pols, err := Parse("p.yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		r := pols[0].Rules[0]
		if r.Applies("", "Deployment", "x") != c.deployment || r.Applies("", "CronJob", "x") != c.cronjob || !r.Applies("", "Pod", "x") {
			t.Errorf("%q: Deployment %v CronJob %v", c.annotation, r.Applies("", "Deployment", "x"), r.Applies("", "CronJob", "x"))
		}
	}
	mixed := strings.Replace(githubPolicy, "kinds: [Pod]\n      verifyImages", "kinds: [Pod, Service]\n      verifyImages", 1)
	pols, err := Parse("p.yaml", []byte(mixed))
	if err != nil {
		t.Fatal(err)
	}
	if pols[0].Rules[0].Applies("apps/v1", "Deployment", "x") {
		t.Error("mixed Pod and other kinds disable autogen, as in Kyverno")
	}
}

func TestMatchAndExcludeNamespaces(t *testing.T) {
	doc := strings.Replace(githubPolicy, "            kinds: [Pod]\n      verifyImages", "            kinds: [Pod]\n            namespaces: [\"prod-*\"]\n      exclude:\n        any:\n        - resources:\n            namespaces: [prod-sandbox]\n      verifyImages", 1)
	pols, err := Parse("p.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	r := pols[0].Rules[0]
	for ns, want := range map[string]bool{"prod-eu": true, "dev": false, "prod-sandbox": false, "": true} {
		if got := r.Applies("apps/v1", "Deployment", ns); got != want {
			t.Errorf("namespace %q: applies %v, want %v", ns, got, want)
		}
	}
}

func TestLoadErrorsNameFileLineAndField(t *testing.T) {
	cases := []struct {
		name, old, new, want string
	}{
		{"unknown keyless field", "issuer: \"https://token", "issuerr: \"https://token", "verify.yaml:24: spec.rules[0].verifyImages[0].attestors[0].entries[0].keyless.issuerr: field is not supported by gitops-gate"},
		{"notary", "- imageReferences:", "- type: Notary\n        imageReferences:", "spec.rules[0].verifyImages[0].type: Notary signatures are not supported"},
		{"any signer", "              subject: \"https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*\"\n              issuer: \"https://token.actions.githubusercontent.com\"\n", "", "keyless: neither subject nor issuer: Kyverno would accept a certificate of any signer"},
		{"bad extension", "githubWorkflowRepository: \"acme/*\"", "githubWorkflowColour: blue", "invalid certificate extension githubWorkflowColour"},
		{"count too high", "count: 1", "count: 3", "attestors[0].count: count 3: want 1 to 1"},
		{"attestation without attestors", "        attestors:", "        attestations:\n        - type: https://slsa.dev/provenance/v0.2\n        attestors:", "verifyImages[0].attestations[0].attestors: no attestors: Kyverno would accept an attestation signed by anyone"},
		{"attestation short type", "        attestors:", "        attestations:\n        - type: slsaprovenance1\n        attestors:", "write https://slsa.dev/provenance/v1"},
		{"attestation unknown operator", "        attestors:", "        attestations:\n        - type: https://slsa.dev/provenance/v1\n          attestors: [{entries: [{keyless: {subject: s, issuer: i}}]}]\n          conditions: [{all: [{key: '{{ a }}', operator: Matches, value: x}]}]\n        attestors:", "attestations[0].conditions[0].all[0]: operator \"Matches\""},
		{"attestation unimplemented field", "        attestors:", "        attestations:\n        - type: https://slsa.dev/provenance/v1\n          attestors: [{entries: [{keyless: {subject: s, issuer: i}}]}]\n          conditions: [{all: [{key: '{{ a }}', operator: Equals, value: x, severity: high}]}]\n        attestors:", "all[0].severity: field is not supported"},
		{"preconditions", "      verifyImages:", "      preconditions: {all: []}\n      verifyImages:", "spec.rules[0].preconditions: field is not supported"},
		{"audit needs mutateDigest false", "validationFailureAction: Enforce", "validationFailureAction: Audit", "mutateDigest must be set to false for 'Audit' failure action"},
		{"bad regexp", "subject: \"https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*\"", "subjectRegExp: \"(unclosed\"", "keyless.subjectRegExp: invalid regular expression"},
		{"selector", "            kinds: [Pod]\n      verifyImages", "            kinds: [Pod]\n            selector: {matchLabels: {a: b}}\n      verifyImages", "resources.selector: field is not supported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := strings.Replace(githubPolicy, c.old, c.new, 1)
			if doc == githubPolicy {
				t.Fatal("test edit did not apply")
			}
			_, err := Parse("verify.yaml", []byte(doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, c.want)
			}
			var le *LoadError
			if err != nil && !errors.As(err, &le) {
				t.Errorf("want a *LoadError, got %T", err)
			}
		})
	}
}

func TestKeysExpandAndCount(t *testing.T) {
	k1, k2 := testPEM(t), testPEM(t)
	doc := `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: keys}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Deployment]}}]}
    verifyImages:
    - imageReferences: ["*"]
      mutateDigest: false
      attestors:
      - count: 2
        entries:
        - keys:
            publicKeys: |-
` + indent(k1+k2, "              ") + `
            rekor: {ignoreTlog: true}
`
	pols, err := Parse("keys.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	set := pols[0].Rules[0].Verify[0].Attestors[0]
	if len(set.Entries) != 2 || set.Required() != 2 || !set.Entries[0].Key.Rekor.IgnoreTlog {
		t.Errorf("want two key attestors, both required: %+v", set)
	}
	if pols[0].Rules[0].Applies("v1", "Pod", "x") {
		t.Error("a Deployment rule is not a Pod rule")
	}
}

func TestNative(t *testing.T) {
	set, err := Native([]string{"https://token.actions.githubusercontent.com=https://github\\.com/acme/.*"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := set.Policies[0].Rules[0].Verify[0].Attestors[0].Entries[0].Keyless
	if k.SubjectRegExp != "^(?:https://github\\.com/acme/.*)$" || k.IssuerRegExp != "^https://token\\.actions\\.githubusercontent\\.com$" {
		t.Errorf("keyless %+v: want anchored, exact issuer", k)
	}
	if _, err := Native([]string{"no-equals-sign"}, nil); err == nil {
		t.Error("want an error for a malformed --identity")
	}
}

const listedPolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: NAME}
spec:
  rules:
  - name: signed
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["PATTERN"]
      attestors:
      - entries:
        - keyless: {issuer: "https://token.actions.githubusercontent.com", subject: "https://github.com/acme/*"}
`

// Policies exported with kubectl get clusterpolicy -o yaml (a kind: List)
// in a policy directory are loaded, not skipped in silence: kubectl apply -f
// creates each item of a List, so the cluster enforces them, and an image
// only they cover must not pass unmatched.
func TestPolicyListIsExpanded(t *testing.T) {
	dir := t.TempDir()
	one := strings.NewReplacer("NAME", "other", "PATTERN", "docker.io/other/*").Replace(listedPolicy)
	os.WriteFile(filepath.Join(dir, "other.yaml"), []byte(one), 0o644)
	listed := strings.NewReplacer("NAME", "acme", "PATTERN", "ghcr.io/acme/*").Replace(listedPolicy)
	// As kubectl get -o yaml writes it: each item indented under "- ".
	list := "apiVersion: v1\nkind: List\nmetadata: {resourceVersion: \"\"}\nitems:\n- " + strings.TrimPrefix(indent(listed, "  "), "  ") + "\n"
	os.WriteFile(filepath.Join(dir, "exported.yaml"), []byte(list), 0o644)
	set, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(set.Policies) != 2 {
		t.Errorf("loaded %d policies, want 2 (other and the List's acme)", len(set.Policies))
	}
	info := mustParse(t, "ghcr.io/acme/app:v1")
	for _, r := range set.Rules() {
		for _, v := range r.Verify {
			if m, _ := v.Match(info); m {
				return
			}
		}
	}
	t.Errorf("policy directory with a kind: List of ClusterPolicies loaded %d policies and no rule covers ghcr.io/acme/app:v1; the List was skipped in silence:\n%s", len(set.Policies), list)
}

// An items field on a policy does not make it a list to expand (which
// would drop the policy): the policy is parsed, and its unknown field refused.
func TestPolicyWithItemsIsNotDropped(t *testing.T) {
	doc := strings.NewReplacer("NAME", "acme", "PATTERN", "ghcr.io/acme/*").Replace(listedPolicy) + "items:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}\n"
	if ps, err := Parse("p.yaml", []byte(doc)); err == nil && len(ps) != 1 {
		t.Errorf("policy with items: %d policies, no error: dropped in silence", len(ps))
	}
}
