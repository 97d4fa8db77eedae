package ivpol_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/policy"
	_ "github.com/gitops-gate/gitops-gate/gate/policy/ivpol"
)

const minimal = `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata:
  name: p
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["pods"]
  attestors:
    - name: a
      cosign:
        keyless:
          identities:
            - issuer: https://token.actions.githubusercontent.com
              subject: https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1
  validations:
    - expression: >-
        images.containers.map(i, verifyImageSignatures(i, [attestors.a])).all(n, n > 0)
      message: not signed
`

func load(t *testing.T, doc string, o policy.LoadOptions) (*policy.Set, error) {
	t.Helper()
	return policy.ParseSet("ivpol.yaml", []byte(doc), o)
}

func TestLoadsEveryVersionAndKind(t *testing.T) {
	for _, v := range []string{"v1alpha1", "v1beta1", "v1"} {
		for _, k := range []string{"ImageValidatingPolicy", "NamespacedImageValidatingPolicy"} {
			doc := strings.Replace(strings.Replace(minimal, "v1\nkind: ImageValidatingPolicy", v+"\nkind: "+k, 1), "name: p\n", "name: p\n  namespace: team\n", 1)
			set, err := load(t, doc, policy.LoadOptions{})
			if k == "NamespacedImageValidatingPolicy" && v == "v1alpha1" {
				if err == nil || !strings.Contains(err.Error(), "v1beta1, v1") {
					t.Errorf("%s %s: %v, want an apiVersion error (added in v1beta1)", k, v, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s %s: %v", k, v, err)
			}
			p := set.Policies[0]
			if p.Kind != k || len(p.Rules) != 1 || p.Rules[0].Verify[0].Program == nil {
				t.Errorf("%s %s: loaded %+v", k, v, p)
			}
			if k == "NamespacedImageValidatingPolicy" && p.Namespace != "team" {
				t.Errorf("namespace %q", p.Namespace)
			}
		}
	}
}

// Every problem is a load error naming file:line and the field.
func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, old, new string
		want           string
	}{
		{"unknown field", "  validations:", "  validationz: []\n  validations:", "ivpol.yaml:19: spec.validationz: field is not supported"},
		{"typo in attestor", "      cosign:", "      cosing: {}\n      cosign:", "ivpol.yaml:14: spec.attestors[0].cosing"},
		{"pullSecrets spelt Kyverno's wrong way", "        keyless:", "        source: {pullSecrets: []}\n        keyless:", "spec.attestors[0].cosign.source.pullSecrets: field is not supported"},
		{"notary", "      cosign:", "      notary: {certs: {value: x}}\n    - name: b\n      cosign:", "ivpol.yaml:14: spec.attestors[0].notary: Notation is not supported"},
		// A TUF repository other than public-good's: the gate fetches none,
		// and would never verify against its own root in its place.
		{"tuf mirror", "        keyless:", "        tuf: {mirror: https://tuf.example}\n        keyless:", "ivpol.yaml:15: spec.attestors[0].cosign.tuf.mirror: TUF mirror \"https://tuf.example\" is not supported"},
		{"tuf root path", "        keyless:", "        tuf: {root: {path: /var/run/tuf/root.json}}\n        keyless:", "ivpol.yaml:15: spec.attestors[0].cosign.tuf.root.path: a TUF root read from \"/var/run/tuf/root.json\" is not supported"},
		{"tuf root data", "        keyless:", "        tuf:\n          mirror: https://tuf-repo-cdn.sigstore.dev\n          root:\n            data: e30=\n        keyless:", "ivpol.yaml:18: spec.attestors[0].cosign.tuf.root.data: a custom TUF root is not supported"},
		{"tuf unknown field", "        keyless:", "        tuf: {mirrors: x}\n        keyless:", "spec.attestors[0].cosign.tuf.mirrors: field is not supported"},
		{"trustedRoot not a trusted root", "        keyless:", "        trustedRoot: {value: x}\n        keyless:", "ivpol.yaml:15: spec.attestors[0].cosign.trustedRoot.value: trusted root: not a Sigstore trusted_root.json"},
		{"trustedRoot empty", "        keyless:", "        trustedRoot: {}\n        keyless:", "spec.attestors[0].cosign.trustedRoot.value: missing"},
		{"trustedRoot expression", "        keyless:", "        trustedRoot: {expression: \"'x'\"}\n        keyless:", "spec.attestors[0].cosign.trustedRoot.expression: a trusted root from an expression is not supported"},
		{"trustedRoot path is not Kyverno's", "        keyless:", "        trustedRoot: {path: /etc/trusted_root.json}\n        keyless:", "spec.attestors[0].cosign.trustedRoot.path: field is not supported"},
		{"kms", "        keyless:\n          identities:\n            - issuer: https://token.actions.githubusercontent.com\n              subject: https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1\n",
			"        key: {kms: 'awskms:///x'}\n", "spec.attestors[0].cosign.key.kms: KMS keys are not supported"},
		{"subjectExpression", "              subject: https", "              subjectExpression: \"'x'\"\n              subject: https", "identities[0].subjectExpression: is not supported"},
		{"tagPrefix with a slash", "        keyless:", "        source: {tagPrefix: a/b-}\n        keyless:", "ivpol.yaml:15: spec.attestors[0].cosign.source.tagPrefix: \"a/b-\": a tag prefix cannot hold"},
		{"key expression", "        keyless:\n          identities:\n            - issuer: https://token.actions.githubusercontent.com\n              subject: https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1\n",
			"        key: {expression: \"'x'\"}\n", "spec.attestors[0].cosign.key.expression: a key from an expression is not supported"},
		{"JSON mode", "  validations:", "  evaluation: {mode: JSON}\n  validations:", "spec.evaluation.mode: \"JSON\" is not supported"},
		{"images extractor without name", "  validations:", "  images: [{expression: \"[object.spec.image]\"}]\n  validations:", "spec.images[0].name: missing"},
		{"images extractor that does not compile", "  validations:", "  images: [{name: x, expression: \"object.spec.image +\"}]\n  validations:", "spec.images[0].expression: CEL error"},
		{"Deny and Warn", "  validations:", "  validationActions: [Deny, Warn]\n  validations:", "Deny and Warn may not be used together"},
		{"invalid action", "  validations:", "  validationActions: [test]\n  validations:", "spec.validationActions[0]: \"test\": want Deny, Warn or Audit"},
		{"no identity", "            - issuer: https://token.actions.githubusercontent.com\n              subject: https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1\n", "            - {}\n", "identities[0]: neither subject nor issuer"},
		{"no resourceRules", "    resourceRules:", "    resourceRulez:", "spec.matchConstraints.resourceRulez"},
		{"CEL unknown function", "images.containers.map(i, verifyImageSignatures(i, [attestors.a])).all(n, n > 0)", "verifyImage(images.containers[0])",
			"ivpol.yaml:21: spec.validations[0].expression: CEL error at line 1, column 12 of the expression: undeclared reference to 'verifyImage'"},
		{"CEL type error", "images.containers.map(i, verifyImageSignatures(i, [attestors.a])).all(n, n > 0)", "verifyImageSignatures(images.containers[0], [attestors.a]) > 'x'",
			"spec.validations[0].expression: CEL error at line 1"},
		{"CEL not a bool", "images.containers.map(i, verifyImageSignatures(i, [attestors.a])).all(n, n > 0)", "verifyImageSignatures(images.containers[0], [attestors.a])",
			"spec.validations[0].expression: CEL error at line 1, column 1 of the expression: the expression is of type int, want bool"},
		{"CEL error in a literal block, second line", "    - expression: >-\n        images.containers.map(i, verifyImageSignatures(i, [attestors.a])).all(n, n > 0)",
			"    - expression: |\n        true &&\n          nope(1)", "ivpol.yaml:22: spec.validations[0].expression: CEL error at line 2, column 7"},
		{"matchCondition error", "  attestors:", "  matchConditions: [{name: c, expression: \"object.metadata.name ==\"}]\n  attestors:", "spec.matchConditions[0].expression: CEL error"},
		{"matchImageReferences expression uses image", "  attestors:", "  matchImageReferences: [{expression: \"image.registry() == 'ghcr.io'\"}]\n  attestors:",
			"spec.matchImageReferences[0].expression: CEL error at line 1, column 1 of the expression: undeclared reference to 'image'"},
		{"bad glob", "  attestors:", "  matchImageReferences: [{glob: \"ghcr.io/[\"}]\n  attestors:", "spec.matchImageReferences[0].glob"},
		{"bad autogen controller", "  attestors:", "  autogen: {podControllers: {controllers: [pods]}}\n  attestors:", "spec.autogen.podControllers.controllers[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(minimal, c.old) {
				t.Fatalf("fixture lacks %q", c.old)
			}
			_, err := load(t, strings.Replace(minimal, c.old, c.new, 1), policy.LoadOptions{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v\nwant it to contain %q", err, c.want)
			}
			var le *policy.LoadError
			if err != nil && !errors.As(err, &le) {
				t.Errorf("%v is not a LoadError", err)
			}
		})
	}
}

func TestExceptionLoadErrors(t *testing.T) {
	exc := "---\napiVersion: policies.kyverno.io/v1beta1\nkind: PolicyException\nmetadata: {name: e}\nspec:\n  policyRefs: [{name: REF, kind: ImageValidatingPolicy}]\n  expiresAt: EXP\n"
	for _, c := range []struct{ ref, exp, want string }{
		{"p", "tomorrow", "spec.expiresAt: \"tomorrow\": want an RFC 3339 time"},
		{"q", "2030-01-01T00:00:00Z", "names no loaded ImageValidatingPolicy (ImageValidatingPolicy/q)"},
	} {
		_, err := load(t, minimal+strings.NewReplacer("REF", c.ref, "EXP", c.exp).Replace(exc), policy.LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
	twice := strings.NewReplacer("REF", "p", "EXP", "2030-01-01T00:00:00Z").Replace(exc)
	if _, err := load(t, minimal+twice+twice, policy.LoadOptions{}); err == nil || !strings.Contains(err.Error(), "PolicyException default/e is also defined in ivpol.yaml") {
		t.Errorf("an exception defined twice: %v", err)
	}
}

// namespaceSelector reads labels from the gate's configuration; a
// namespace it does not list cannot be decided: an error, never a skip.
func TestNamespaceSelectorFailsClosed(t *testing.T) {
	doc := strings.Replace(minimal, "    resourceRules:", "    namespaceSelector:\n      matchLabels: {env: prod}\n    resourceRules:", 1)
	set, err := load(t, doc, policy.LoadOptions{NamespaceLabels: map[string]map[string]string{"shop": {"env": "prod"}, "dev": {"env": "dev"}}})
	if err != nil {
		t.Fatal(err)
	}
	r := set.Policies[0].Rules[0]
	check := func(ns string, want bool, wantErr string) {
		t.Helper()
		direct, _, err := r.AppliesTo(context.Background(), policy.Resource{APIVersion: "v1", Kind: "Pod", Namespace: ns, Name: "x"})
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%s: err %v, want %q", ns, err, wantErr)
			}
			return
		}
		if err != nil || direct != want {
			t.Errorf("%s: applies %v (%v), want %v", ns, direct, err, want)
		}
	}
	check("shop", true, "")
	check("dev", false, "")
	check("unlisted", false, `needs the labels of namespace "unlisted"`)
	check("", false, "namespace of Pod/x is not known")

	byName := strings.Replace(minimal, "    resourceRules:", "    namespaceSelector:\n      matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system]}]\n    resourceRules:", 1)
	set, err = load(t, byName, policy.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r = set.Policies[0].Rules[0]
	check("unlisted", true, "")
	check("kube-system", false, "")
}

// objectSelector and matchConditions need the object; without it the
// rule cannot decide.
func TestObjectNeededFailsClosed(t *testing.T) {
	doc := strings.Replace(minimal, "  attestors:", "  matchConditions: [{name: prod, expression: \"object.metadata.labels.prod == 'true'\"}]\n  attestors:", 1)
	set, err := load(t, doc, policy.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := set.Policies[0].Rules[0]
	if _, _, err := r.AppliesTo(context.Background(), policy.Resource{APIVersion: "v1", Kind: "Pod", Namespace: "x", Name: "p"}); err == nil {
		t.Error("a matchCondition without the object decided")
	}
	pod := map[string]any{"metadata": map[string]any{"labels": map[string]any{"prod": "true"}}}
	direct, _, err := r.AppliesTo(context.Background(), policy.Resource{APIVersion: "v1", Kind: "Pod", Namespace: "x", Name: "p", Object: pod})
	if err != nil || !direct {
		t.Errorf("with the object: %v %v", direct, err)
	}
}

// Resource rules: kinds by resource name, exclusions, operations, and the
// Pods of controllers.
func TestResourceRules(t *testing.T) {
	doc := strings.Replace(minimal, `      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["pods"]`, `      - apiGroups: ["apps"]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["deployments", "statefulsets"]
    excludeResourceRules:
      - apiGroups: ["apps"]
        apiVersions: ["*"]
        operations: ["*"]
        resources: ["statefulsets"]
        resourceNames: ["legacy"]`, 1)
	set, err := load(t, doc, policy.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := set.Policies[0].Rules[0]
	for _, c := range []struct {
		apiVersion, kind, name string
		direct, viaPods        bool
	}{
		{"apps/v1", "Deployment", "web", true, false},
		{"apps/v1", "StatefulSet", "db", true, false},
		{"apps/v1", "StatefulSet", "legacy", false, false},
		{"apps/v1", "DaemonSet", "agent", false, false},
		{"v1", "Pod", "p", false, false},
		{"apps/v2", "Deployment", "web", false, false},
	} {
		d, v, err := r.AppliesTo(context.Background(), policy.Resource{APIVersion: c.apiVersion, Kind: c.kind, Namespace: "ns", Name: c.name})
		if err != nil || d != c.direct || v != c.viaPods {
			t.Errorf("%s %s/%s: direct %v viaPods %v (%v), want %v %v", c.apiVersion, c.kind, c.name, d, v, err, c.direct, c.viaPods)
		}
	}
	// A pod policy with autogen narrowed to deployments still judges the
	// Pods a StatefulSet creates (Kyverno admits every Pod through it).
	narrowed := strings.Replace(minimal, "  attestors:", "  autogen: {podControllers: {controllers: [deployments]}}\n  attestors:", 1)
	set, err = load(t, narrowed, policy.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r = set.Policies[0].Rules[0]
	if d, v, _ := r.AppliesTo(context.Background(), policy.Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "ns", Name: "w"}); !d || !v {
		t.Errorf("autogen deployment: direct %v viaPods %v, want both (autogen and the Pods it creates)", d, v)
	}
	if d, v, _ := r.AppliesTo(context.Background(), policy.Resource{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: "ns", Name: "s"}); d || !v {
		t.Errorf("statefulset: direct %v viaPods %v, want its Pods judged", d, v)
	}
}

// A NamespacedImageValidatingPolicy applies only in its namespace.
func TestNamespacedPolicy(t *testing.T) {
	doc := strings.Replace(strings.Replace(minimal, "kind: ImageValidatingPolicy", "kind: NamespacedImageValidatingPolicy", 1), "name: p\n", "name: p\n  namespace: team\n", 1)
	set, err := load(t, doc, policy.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := set.Policies[0].Rules[0]
	if d, _, _ := r.AppliesTo(context.Background(), policy.Resource{APIVersion: "v1", Kind: "Pod", Namespace: "other", Name: "p"}); d {
		t.Error("applies in another namespace")
	}
	if d, _, _ := r.AppliesTo(context.Background(), policy.Resource{APIVersion: "v1", Kind: "Pod", Namespace: "team", Name: "p"}); !d {
		t.Error("does not apply in its namespace")
	}
}

// matchImageReferences globs are gobwas globs on the raw string: * crosses
// '/', and nothing is normalised.
func TestMatchImageReferences(t *testing.T) {
	doc := strings.Replace(minimal, "  attestors:", "  matchImageReferences:\n    - glob: ghcr.io/*\n    - expression: \"parseImageReference(ref).registry() == 'quay.io'\"\n  attestors:", 1)
	set, err := load(t, doc, policy.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prog := set.Policies[0].Rules[0].Verify[0].Program
	for img, want := range map[string]bool{
		"ghcr.io/acme/app:v1":     true, // * crosses /
		"ghcr.io/app":             true,
		"docker.io/library/nginx": false,
		"nginx":                   false, // not normalised to docker.io
		"quay.io/acme/app@sha256:" + strings.Repeat("a", 64): true,
		"quay.io.evil.com/acme/app":                          false,
	} {
		got, err := prog.MatchImage(img)
		if err != nil || got != want {
			t.Errorf("%s: %v (%v), want %v", img, got, err, want)
		}
	}
}

// The trust and source fields of item 4 load into the model: a public-good
// tuf block marks the attestor (the verifier checks the gate's root is
// public-good's), trustedRoot.value is kept as given, source.tagPrefix
// beside source.repository.
func TestLoadsTrustAndSource(t *testing.T) {
	ss, err := gatetest.New()
	if err != nil {
		t.Fatal(err)
	}
	js, err := ss.TrustedRootJSON()
	if err != nil {
		t.Fatal(err)
	}
	attestor := func(extra string) *policy.Attestor {
		t.Helper()
		set, err := load(t, strings.Replace(minimal, "        keyless:", extra+"\n        keyless:", 1), policy.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return set.Policies[0].Rules[0].Verify[0].Attestors[0].Entries[0]
	}
	for _, tuf := range []string{"        tuf: {}", "        tuf:\n          mirror: https://tuf-repo-cdn.sigstore.dev/"} {
		if a := attestor(tuf); !a.PublicGoodTUF || a.TrustedRoot != "" {
			t.Errorf("public-good %q: %+v", tuf, a)
		}
	}
	if a := attestor(""); a.PublicGoodTUF {
		t.Errorf("no tuf block marked public-good: %+v", a)
	}
	value := "        trustedRoot:\n          value: |\n            " + strings.ReplaceAll(strings.TrimSpace(string(js)), "\n", "\n            ")
	a := attestor(value)
	if strings.TrimSpace(a.TrustedRoot) != strings.TrimSpace(string(js)) || a.PublicGoodTUF {
		t.Errorf("trustedRoot not kept: PublicGoodTUF %v, %d bytes", a.PublicGoodTUF, len(a.TrustedRoot))
	}
	// trustedRoot wins over a public-good tuf block (as Kyverno's
	// resolveTrustedMaterial).
	if a := attestor(value + "\n        tuf: {mirror: https://tuf-repo-cdn.sigstore.dev}"); a.PublicGoodTUF || a.TrustedRoot == "" {
		t.Errorf("trustedRoot with public-good tuf: %+v", a)
	}
	if a := attestor("        source: {repository: reg.example/sigs, tagPrefix: team-a-}"); a.Repository != "reg.example/sigs" || a.TagPrefix != "team-a-" {
		t.Errorf("source: %+v", a)
	}
}
