package policy

import (
	"regexp"
	"strings"
	"testing"
)

// podRule is a Pod rule whose filters the tests below edit.
const podRule = `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: pods
ANNOTATIONS
spec:
  rules:
  - name: signed
    match:
      any:
      - resources:
          kinds: [Pod]
MATCHOPS
EXCLUDE
    verifyImages:
    - imageReferences: ["ghcr.io/acme/*"]
      attestors:
      - entries:
        - keyless:
            issuer: https://token.actions.githubusercontent.com
            subject: https://github.com/acme/*
`

func parsePodRule(t *testing.T, annotations, matchOps, exclude string) *Rule {
	t.Helper()
	doc := strings.NewReplacer("ANNOTATIONS", annotations, "MATCHOPS", matchOps, "EXCLUDE", exclude).Replace(podRule)
	pols, err := Parse("pods.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return pols[0].Rules[0]
}

// A Pod rule judges the Pods every controller creates, whatever
// auto-generation says: Kyverno admits each Pod through the Pod rule itself
// (kyverno/kyverno pkg/autogen/v1/autogen.go only adds rules for the
// controllers it lists: DaemonSet, Deployment, Job, StatefulSet,
// ReplicaSet, ReplicationController, CronJob; never Rollout or any other
// resource with a pod template, and none with the annotation "none").
func TestPodRuleJudgesPodsOfEveryController(t *testing.T) {
	for _, c := range []struct {
		name, annotations string
		direct            map[string]bool
	}{
		{"default autogen", "", map[string]bool{"Deployment": true, "CronJob": true, "Rollout": false}},
		{"autogen none", "  annotations: {pod-policies.kyverno.io/autogen-controllers: none}", map[string]bool{"Deployment": false, "CronJob": false, "Rollout": false}},
		{"autogen limited", "  annotations: {pod-policies.kyverno.io/autogen-controllers: Deployment}", map[string]bool{"Deployment": true, "CronJob": false, "Rollout": false}},
	} {
		r := parsePodRule(t, c.annotations, "", "")
		for kind, want := range c.direct {
			if got := r.Applies("", kind, "prod"); got != want {
				t.Errorf("%s: rule applies to the %s itself: %v, want %v", c.name, kind, got, want)
			}
		}
		if !r.AppliesToPods("prod") {
			t.Errorf("%s: the Pod rule must judge the Pods every controller creates", c.name)
		}
	}
}

// Operations are honoured per filter, in match and exclude alike (kyverno/
// kyverno pkg/engine/utils/match.go doesResourceMatchConditionBlock returns
// "operation does not match" before looking at anything else). The gate
// judges CREATE, and UPDATE for an object that may already exist.
func TestOperations(t *testing.T) {
	updateOnly := "          operations: [UPDATE]"
	createOnly := "          operations: [CREATE]"
	excludeUpdate := "    exclude:\n      any:\n      - resources:\n          kinds: [Pod]\n          operations: [UPDATE]"
	excludeCreate := "    exclude:\n      any:\n      - resources:\n          kinds: [Pod]\n          operations: [CREATE]"
	excludeDelete := "    exclude:\n      any:\n      - resources:\n          kinds: [Pod]\n          operations: [DELETE]"
	for _, c := range []struct {
		name                     string
		matchOps, exclude        string
		create, update, podsMade bool
	}{
		// The attack: an exclude limited to UPDATE used to exclude every
		// operation, so a new Pod passed unjudged.
		{"exclude on UPDATE does not exclude CREATE", "", excludeUpdate, true, false, true},
		{"exclude on DELETE excludes nothing the gate judges", "", excludeDelete, true, true, true},
		{"exclude on CREATE leaves UPDATE", "", excludeCreate, false, true, false},
		{"match on UPDATE only", updateOnly, "", false, true, false},
		{"match on CREATE only", createOnly, "", true, false, true},
	} {
		r := parsePodRule(t, "", c.matchOps, c.exclude)
		if got := r.AppliesOn("v1", "Pod", "prod", OpCreate); got != c.create {
			t.Errorf("%s: CREATE %v, want %v", c.name, got, c.create)
		}
		if got := r.AppliesOn("v1", "Pod", "prod", OpUpdate); got != c.update {
			t.Errorf("%s: UPDATE %v, want %v", c.name, got, c.update)
		}
		if got := r.Applies("v1", "Pod", "prod"); got != (c.create || c.update) {
			t.Errorf("%s: Applies %v: want it when either operation applies (fail closed)", c.name, got)
		}
		if got := r.AppliesToPods("prod"); got != c.podsMade {
			t.Errorf("%s: Pods created by a controller: %v, want %v", c.name, got, c.podsMade)
		}
	}
	doc := strings.NewReplacer("ANNOTATIONS", "", "MATCHOPS", "          operations: [CREAT]", "EXCLUDE", "").Replace(podRule)
	if _, err := Parse("pods.yaml", []byte(doc)); err == nil || !strings.Contains(err.Error(), `match: any[0].resources.operations[0]: "CREAT"`) {
		t.Errorf("a misspelt operation must be a load error naming it, got %v", err)
	}
}

// --identity anchors the whole regexp: ^(?:RE)$. With ^RE$, the anchors
// bind to the first and last alternative only.
func TestNativeIdentityAnchoredAsAWhole(t *testing.T) {
	const issuer = "https://token.actions.githubusercontent.com"
	set, err := Native([]string{issuer + "=https://github\\.com/acme/app/\\.github/workflows/release\\.yml@refs/heads/main|https://github\\.com/acme/app/\\.github/workflows/release\\.yml@refs/tags/v1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := set.Policies[0].Rules[0].Verify[0].Attestors[0].Entries[0].Keyless
	re := regexp.MustCompile(k.SubjectRegExp)
	const wf = "https://github.com/acme/app/.github/workflows/release.yml@"
	for s, want := range map[string]bool{
		wf + "refs/heads/main":          true,
		wf + "refs/tags/v1":             true,
		wf + "refs/heads/main-attacker": false, // passed before: "^a|b$" left "a" open at the end
		"x" + wf + "refs/tags/v1":       false, // and "b" open at the start
		wf + "refs/tags/v1.evil":        false,
	} {
		if got := re.MatchString(s); got != want {
			t.Errorf("subject %q: match %v, want %v (regexp %s)", s, got, want, k.SubjectRegExp)
		}
	}
	if !regexp.MustCompile(k.IssuerRegExp).MatchString(issuer) || regexp.MustCompile(k.IssuerRegExp).MatchString(issuer+".evil") {
		t.Errorf("issuer regexp %s: want the issuer exactly", k.IssuerRegExp)
	}
}

// Policy regexps keep Kyverno's unanchored semantics (kyverno/kyverno
// pkg/image/verifiers/cpol/cosign/cosign.go matchCertificateData uses
// regexp.MatchString), so the gate predicts Kyverno; lint names every
// alternative that is not anchored.
func TestLintHalfAnchoredAlternation(t *testing.T) {
	for re, anchored := range map[string]bool{
		`^https://github\.com/acme/`:           true,
		`^(?:a|b)`:                             true,
		`^a|^b`:                                true,
		`\Aa`:                                  true,
		`^a|b`:                                 false,
		`https://github\.com/acme/`:            false,
		`(^a)|b$`:                              false,
		`(?:^https://github\.com/acme/.*)|^x$`: true,
	} {
		if got := AnchoredAtStart(re); got != anchored {
			t.Errorf("AnchoredAtStart(%q) = %v, want %v", re, got, anchored)
		}
	}
	doc := strings.Replace(strings.NewReplacer("ANNOTATIONS", "", "MATCHOPS", "", "EXCLUDE", "").Replace(podRule),
		"subject: https://github.com/acme/*", `subjectRegExp: "^https://github\\.com/acme/app/|refs/heads/main"`, 1)
	pols, err := Parse("pods.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	ws := Lint(pols[0])
	if len(ws) == 0 || !strings.Contains(ws[0].Message, "not anchored in every alternative") {
		t.Errorf("lint: %v", ws)
	}
}

// Kyverno's SigstoreBundle path compares subject and issuer exactly
// (kyverno/kyverno pkg/image/verifiers/cpol/cosign/sigstore.go buildPolicy,
// sigstore-go NewShortCertificateIdentity): lint says a wildcard there
// denies everything.
func TestLintWildcardUnderSigstoreBundle(t *testing.T) {
	doc := strings.Replace(strings.NewReplacer("ANNOTATIONS", "", "MATCHOPS", "", "EXCLUDE", "").Replace(podRule),
		"    - imageReferences:", "    - type: SigstoreBundle\n      imageReferences:", 1)
	pols, err := Parse("pods.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range Lint(pols[0]) {
		found = found || strings.Contains(w.Message, "compares subject and issuer exactly")
	}
	if !found {
		t.Errorf("lint: %v", Lint(pols[0]))
	}
}

// Kind selectors are read as Kyverno's ParseKindSelector reads them and
// matched as its CheckKind matches them: group/version/kind/subresource,
// each a wildcard; the gate judges objects, never subresources.
func TestKindSelectors(t *testing.T) {
	for _, c := range []struct {
		sel, apiVersion, kind string
		want                  bool
	}{
		{"Deployment", "apps/v1", "Deployment", true},
		{"Deployment", "", "Deployment", true},
		{"v1/Pod", "v1", "Pod", true},
		{"v1/Pod", "apps/v1", "Pod", true}, // a version, any group
		{"v2/Pod", "v1", "Pod", false},
		{"apps/v1/Deployment", "apps/v1", "Deployment", true},
		{"apps/v1/Deployment", "extensions/v1beta1", "Deployment", false},
		{"batch/v1/*", "batch/v1", "Job", true},
		{"batch/v1/*", "apps/v1", "Deployment", false},
		{"batch/v1/*", "v1", "Pod", false},
		{"batch/*/*", "batch/v1", "CronJob", true},
		{"batch/*/*", "apps/v1", "Deployment", false},
		{"Job/*", "batch/v1", "Job", true}, // Job and its subresources
		{"Job/*", "apps/v1", "Deployment", false},
		{"Pod/status", "v1", "Pod", false}, // only the subresource
		{"Pod.status", "v1", "Pod", false},
		{"*/status", "v1", "Pod", false},
		{"*/*", "apps/v1", "Deployment", true},
		{"*", "v1", "Pod", true},
		{"apps/v1/DaemonSet/*", "apps/v1", "DaemonSet", true},
		{"apps/v1/DaemonSet/*", "apps/v1", "Deployment", false},
		{"networking.k8s.io/v1/Ingress", "networking.k8s.io/v1", "Ingress", true},
		{"a/b/c/d/e", "v1", "Pod", false}, // unparseable: nothing
	} {
		if got := parseKindSelector(c.sel).matches(c.apiVersion, c.kind, false); got != c.want {
			t.Errorf("kind selector %q on %s %s: %v, want %v (%+v)", c.sel, c.apiVersion, c.kind, got, c.want, parseKindSelector(c.sel))
		}
	}
	// An unknown apiVersion meets a group or version in match, not in exclude.
	if !parseKindSelector("apps/v1/Deployment").matches("", "Deployment", true) || parseKindSelector("apps/v1/Deployment").matches("", "Deployment", false) {
		t.Error("unknown apiVersion: want the stricter reading (match yes, exclude no)")
	}
}
