package gate_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/registry"
	"github.com/gitops-gate/gitops-gate/gate/verify"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// ivpolSample is Kyverno's own IVPOL test policy
// (kyverno/kyverno test/cli/test-image-validating-policy/sample-policy and
// test/conformance/chainsaw/image-validating-policies/*), adapted to the
// fixture: the Notary attestor (which the gate refuses) becomes a cosign
// keyless attestor of the fixture's Sigstore, the referrer SBOM an in-toto
// CycloneDX attestation (so .bomFormat is read under .predicate), and
// ghcr.io the fixture registry. VERSION, ACTIONS, FAILURE and CONFIG are
// replaced per case.
const ivpolSample = `
apiVersion: policies.kyverno.io/VERSION
kind: ImageValidatingPolicy
metadata:
  name: ivpol-sample
spec:
  failurePolicy: FAILURE
  validationConfigurations: CONFIG
  validationActions: ACTIONS
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["pods"]
  matchConditions:
    - name: "check-prod-label"
      expression: >-
        has(object.metadata.labels) && has(object.metadata.labels.prod) && object.metadata.labels.prod == 'true'
  matchImageReferences:
    - glob: REGISTRY/*
  attestors:
    - name: cosign
      cosign:
        keyless:
          identities:
            - issuer: https://token.actions.githubusercontent.com
              subject: https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0
  attestations:
    - name: sbom
      intoto:
        type: https://cyclonedx.org/bom
  validations:
    - expression: >-
        images.containers.map(image, verifyImageSignatures(image, [attestors.cosign])).all(e, e > 0)
      message: failed to verify image with cosign keyless
    - expression: >-
        images.containers.map(image, verifyAttestationSignatures(image, attestations.sbom ,[attestors.cosign])).all(e, e > 0)
      message: failed to verify attestation with cosign keyless
    - expression: >-
        images.containers.map(image, extractPayload(image, attestations.sbom).predicate.bomFormat == 'CycloneDX').all(e, e)
      message: sbom is not a cyclone dx sbom
`

// blockEphemeral is chainsaw subresources/block-ephemeral-containers,
// its Notary attestor (unused by the expression) made cosign.
const blockEphemeral = `
apiVersion: policies.kyverno.io/v1beta1
kind: ImageValidatingPolicy
metadata:
  name: block-ephemeral-containers
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["pods", "pods/ephemeralcontainers"]
  matchImageReferences:
    - glob: "*"
  validationConfigurations:
    mutateDigest: false
    verifyDigest: false
    required: false
  attestors:
    - name: cosign
      cosign:
        keyless:
          identities: [{issuer: "https://token.actions.githubusercontent.com", subjectRegExp: "^https://github\\.com/acme/"}]
  validations:
    - expression: >-
        object.spec.?ephemeralContainers.orValue([]).size() == 0
      message: "Ephemeral (debug) containers are not permitted."
`

// sampleWith fills ivpolSample's placeholders.
func sampleWith(version, actions, failure, config string) string {
	r := strings.NewReplacer("VERSION", version, "ACTIONS", actions, "FAILURE", failure, "CONFIG", config)
	return r.Replace(ivpolSample)
}

// ivpolSet parses IVPOL documents (and exceptions) as the loader does.
func (e *env) ivpolSet(doc string, o policy.LoadOptions) *policy.Set {
	e.t.Helper()
	doc = strings.ReplaceAll(doc, "REGISTRY", e.w.Registry.Host)
	set, err := policy.ParseSet("ivpol.yaml", []byte(doc), o)
	if err != nil {
		e.t.Fatal(err)
	}
	return set
}

// object is a resource holding image in its first container.
type object struct {
	kind, name, namespace string
	labels                map[string]any
	annotations           map[string]any
	podSpec               map[string]any // extra pod spec fields
	field                 string         // image field path; default the kind's containers[0]
}

func (o object) build(image string) (manifests.ImageRef, map[string]any) {
	apiVersion := "v1"
	podSpec := map[string]any{"containers": []any{map[string]any{"name": "app", "image": image}}}
	meta := map[string]any{"name": o.name, "namespace": o.namespace}
	if o.labels != nil {
		meta["labels"] = o.labels
	}
	if o.annotations != nil {
		meta["annotations"] = o.annotations
	}
	for k, v := range o.podSpec {
		podSpec[k] = v
	}
	obj := map[string]any{"apiVersion": apiVersion, "kind": o.kind, "metadata": meta, "spec": podSpec}
	field := "spec.containers[0].image"
	switch o.kind {
	case "Pod":
	case "CronJob":
		apiVersion, field = "batch/v1", "spec.jobTemplate.spec.template.spec.containers[0].image"
		obj["spec"] = map[string]any{"jobTemplate": map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{"labels": o.labels}, "spec": podSpec}}}}
		meta["labels"] = nil
	default:
		apiVersion, field = "apps/v1", "spec.template.spec.containers[0].image"
		obj["spec"] = map[string]any{"template": map[string]any{"metadata": map[string]any{"labels": o.labels}, "spec": podSpec}}
		delete(meta, "labels")
	}
	if o.kind == "Job" {
		apiVersion = "batch/v1"
	}
	obj["apiVersion"] = apiVersion
	if o.field != "" {
		field = o.field
	}
	ref := manifests.ImageRef{App: "app", Image: image, File: "app/r.yaml", Line: 10, FieldPath: field, Container: "app",
		Resource: manifests.ResourceID{APIVersion: apiVersion, Kind: o.kind, Namespace: o.namespace, Name: o.name}}
	return ref, obj
}

// judgeObject evaluates one image of one object against the set.
func (e *env) judgeObject(set *policy.Set, o object, image string, mods ...func(*gate.Options, *verify.Options)) gate.ImageVerdict {
	e.t.Helper()
	ref, obj := o.build(image)
	res, err := registry.New(e.ropts)
	if err != nil {
		e.t.Fatal(err)
	}
	vo := verify.Options{Trusted: e.tr, Registry: res}
	opts := gate.Options{Policies: set, Resolver: res}
	for _, m := range mods {
		m(&opts, &vo)
	}
	if opts.Verifier, err = verify.New(vo); err != nil {
		e.t.Fatal(err)
	}
	ev, err := gate.New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	app := manifests.AppImages{Name: "app", Path: "app", Kind: manifests.KindPlain, Images: []manifests.ImageRef{ref}}
	rep := ev.EvaluateObjects(e.ctx, &manifests.Inventory{APIVersion: manifests.InventoryAPIVersion, Apps: []manifests.AppImages{app}},
		func(manifests.ImageRef) map[string]any { return obj })
	return rep.Apps[0].Images[0]
}

// world is the fixture the conformance table runs in: a signed and
// SBOM-attested image, a signed image without SBOM, an image signed by
// someone else, an unsigned image, and one signed with a key.
type ivpolWorld struct {
	good, noSBOM, other, unsigned, keyed, bundled name.Digest
	key                                           *gatetest.KeyPair
}

func (e *env) ivpolWorld() ivpolWorld {
	e.t.Helper()
	var w ivpolWorld
	sbom := gatetest.AttestOptions{PredicateType: gatetest.PredicateCycloneDX, Predicate: gatetest.CycloneDXBOM()}
	w.good = e.push("acme/good:v1")
	e.sign(w.good, gatetest.SignOptions{})
	e.attest(w.good, sbom)
	w.noSBOM = e.push("acme/nosbom:v1")
	e.sign(w.noSBOM, gatetest.SignOptions{})
	w.other = e.push("acme/other:v1")
	id := gatetest.DefaultGitHubIdentity()
	id.Repository = "evil/app"
	e.sign(w.other, gatetest.SignOptions{Identity: id})
	w.unsigned = e.push("acme/unsigned:v1")
	w.bundled = e.push("acme/bundled:v1")
	if err := e.w.Sigstore.SignImageNewBundle(e.ctx, w.bundled, gatetest.SignOptions{}); err != nil {
		e.t.Fatal(err)
	}
	sb := sbom
	sb.Format = gatetest.AttestBundle
	e.attest(w.bundled, sb)
	var err error
	if w.key, err = gatetest.NewKeyPair(); err != nil {
		e.t.Fatal(err)
	}
	w.keyed = e.push("acme/keyed:v1")
	if err := e.w.Sigstore.SignImageWithKey(e.ctx, w.keyed, w.key, gatetest.SignOptions{}); err != nil {
		e.t.Fatal(err)
	}
	return w
}

var prodPod = object{kind: "Pod", name: "good-pod", namespace: "default", labels: map[string]any{"prod": "true"}}

// TestIVPOLConformance is Kyverno's IVPOL test corpus, adapted to the
// fixture, with the verdict Kyverno gives beside each case.
func TestIVPOLConformance(t *testing.T) {
	e := newEnv(t)
	w := e.ivpolWorld()
	tag := func(d name.Digest) string { return e.w.Ref(d.RepositoryStr() + ":v1") }
	pinned := func(d name.Digest) string { return d.String() }
	noDigest := "{verifyDigest: false}"
	deny := "[Deny]"

	cases := []struct {
		name, from string
		policy     string
		obj        object
		image      string
		want       gate.Status
		reason     string
	}{
		// test/cli/test-image-validating-policy/sample-policy: good-pod pass, bad-pod fail.
		{"sample good pod", "cli/sample-policy", sampleWith("v1beta1", deny, "Ignore", noDigest), prodPod, tag(w.good), gate.StatusPass, ""},
		{"sample bad pod: unsigned", "cli/sample-policy", sampleWith("v1beta1", deny, "Ignore", noDigest), prodPod, tag(w.unsigned), gate.StatusFail, "failed to verify image with cosign keyless"},
		{"sample: signed by another identity", "cli/sample-policy", sampleWith("v1", deny, "Fail", noDigest), prodPod, tag(w.other), gate.StatusFail, "failed to verify image with cosign keyless"},
		{"sample: signed, no SBOM", "cli/sample-policy", sampleWith("v1", deny, "Fail", noDigest), prodPod, tag(w.noSBOM), gate.StatusFail, "failed to verify attestation with cosign keyless"},
		{"sample: bundle format detected", "chainsaw/standard (cosign v3 bundles)", sampleWith("v1", deny, "Fail", noDigest), prodPod, tag(w.bundled), gate.StatusPass, ""},
		{"sample v1alpha1", "cli/empty-message (v1alpha1)", sampleWith("v1alpha1", deny, "Fail", noDigest), prodPod, pinned(w.good), gate.StatusPass, ""},
		// chainsaw match-conditions: a pod without prod=true is not matched.
		{"match-conditions: no prod label", "chainsaw/match-conditions", sampleWith("v1beta1", deny, "Ignore", noDigest),
			object{kind: "Pod", name: "bad-pod", namespace: "default"}, tag(w.unsigned), gate.StatusUnmatched, ""},
		// chainsaw validation-actions: Warn and Audit admit with a report.
		{"validation-actions warn", "chainsaw/validation-actions/warn", sampleWith("v1beta1", "[Warn]", "Fail", "{mutateDigest: false, verifyDigest: false, required: false}"), prodPod, tag(w.unsigned), gate.StatusAudit, "failed to verify image"},
		{"validation-actions audit", "chainsaw/validation-actions/audit", sampleWith("v1beta1", "[Audit]", "Fail", "{mutateDigest: false, verifyDigest: false, required: false}"), prodPod, tag(w.unsigned), gate.StatusAudit, "reported, not enforced"},
		{"validation-actions deny", "chainsaw/validation-actions/deny", sampleWith("v1beta1", "[Deny, Audit]", "Fail", noDigest), prodPod, tag(w.unsigned), gate.StatusFail, "failed to verify image"},
		// autogen-deployments-cronjobs: the policy judges the Deployment's Pods.
		{"autogen deployment good", "chainsaw/autogen/autogen-deployments-cronjobs", sampleWith("v1beta1", deny, "Ignore", noDigest),
			object{kind: "Deployment", name: "good-deployment", namespace: "default", labels: map[string]any{"prod": "true"}}, tag(w.good), gate.StatusPass, ""},
		{"autogen deployment bad", "chainsaw/autogen/autogen-deployments-cronjobs", sampleWith("v1beta1", deny, "Ignore", noDigest),
			object{kind: "Deployment", name: "bad-deployment", namespace: "default", labels: map[string]any{"prod": "true"}}, tag(w.unsigned), gate.StatusFail, "failed to verify image"},
		{"autogen cronjob bad", "chainsaw/autogen/autogen-deployments-cronjobs", sampleWith("v1beta1", deny, "Ignore", noDigest),
			object{kind: "CronJob", name: "bad-cronjob", namespace: "default", labels: map[string]any{"prod": "true"}}, tag(w.unsigned), gate.StatusFail, "failed to verify image"},
		{"autogen statefulset without prod label", "chainsaw/autogen/autogen-deployments-statefulsets", sampleWith("v1beta1", deny, "Ignore", noDigest),
			object{kind: "StatefulSet", name: "s", namespace: "default"}, tag(w.unsigned), gate.StatusUnmatched, ""},
		// matchImageReferences: an image outside the glob is not checked.
		{"image outside matchImageReferences", "chainsaw/match-conditions (glob)", strings.Replace(sampleWith("v1", deny, "Fail", noDigest), "glob: REGISTRY/*", "glob: ghcr.io/*", 1),
			prodPod, tag(w.unsigned), gate.StatusUnmatched, ""},
		// validationConfigurations (Kyverno 1.19): verifyDigest with
		// mutateDigest pins the tag first; without mutateDigest a tag is refused.
		{"verifyDigest after mutateDigest", "chainsaw/mutate-digest", sampleWith("v1", deny, "Fail", "{}"), prodPod, tag(w.good), gate.StatusPass, ""},
		{"verifyDigest without mutateDigest", "chainsaw/mutate-digest-disabled", sampleWith("v1", deny, "Fail", "{mutateDigest: false}"), prodPod, tag(w.good), gate.StatusFail, "missing digest"},
		// security/forged-verification-annotation: a client-supplied
		// verification outcome is never believed.
		{"forged verification annotation", "chainsaw/security/forged-verification-annotation", sampleWith("v1", deny, "Fail", noDigest),
			object{kind: "Pod", name: "forged", namespace: "default", labels: map[string]any{"prod": "true"}, annotations: map[string]any{
				"kyverno.io/image-verification-outcomes": `{"ivpol-sample":{"name":"ivpol-sample","status":"pass","message":"forged: verification already passed"}}`}},
			tag(w.unsigned), gate.StatusFail, "failed to verify image"},
		// subresources/block-ephemeral-containers: an expression over the
		// object (optional field syntax), no verification function.
		{"block ephemeral containers", "chainsaw/subresources/block-ephemeral-containers", blockEphemeral,
			object{kind: "Pod", name: "debug", namespace: "default", field: "spec.ephemeralContainers[0].image",
				podSpec: map[string]any{"ephemeralContainers": []any{map[string]any{"name": "debug", "image": tag(w.good)}}}},
			tag(w.good), gate.StatusFail, "Ephemeral (debug) containers are not permitted."},
		{"no ephemeral containers: passes unverified", "chainsaw/subresources/block-ephemeral-containers", blockEphemeral,
			prodPod, tag(w.good), gate.StatusUnmatched, "passes unverified"},
		{"verifyDigest without mutateDigest, pinned", "chainsaw/mutate-digest-disabled", sampleWith("v1", deny, "Fail", "{mutateDigest: false}"), prodPod, pinned(w.good), gate.StatusPass, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set := e.ivpolSet(c.policy, policy.LoadOptions{})
			v := e.judgeObject(set, c.obj, c.image)
			t.Logf("%s: %s %q", c.from, v.Status, v.Reason)
			if v.Status != c.want || !strings.Contains(v.Reason, c.reason) {
				t.Errorf("(from %s) verdict %s %q\nwant %s containing %q", c.from, v.Status, v.Reason, c.want, c.reason)
			}
		})
	}
}

// A Deny policy whose image cannot be fetched errors; failurePolicy Ignore
// turns the error into audit and says so.
func TestIVPOLFailurePolicy(t *testing.T) {
	e := newEnv(t)
	missing := e.w.Ref("acme/missing:v1")
	for _, c := range []struct {
		failure string
		want    gate.Status
		reason  string
	}{{"Fail", gate.StatusFail, "does not exist"}, {"Ignore", gate.StatusAudit, "failurePolicy Ignore"}} {
		set := e.ivpolSet(sampleWith("v1", "[Deny]", c.failure, "{verifyDigest: false}"), policy.LoadOptions{})
		v := e.judgeObject(set, prodPod, missing)
		if v.Status != c.want || !strings.Contains(v.Reason, c.reason) {
			t.Errorf("failurePolicy %s: %s %q, want %s containing %q", c.failure, v.Status, v.Reason, c.want, c.reason)
		}
	}
	// An expression error (a runaway expression stopped by the cost limit)
	// is an error under Fail and audit under Ignore: never a pass.
	runaway := strings.Replace(sampleWith("v1", "[Deny]", "FAILURE", "{verifyDigest: false}"),
		"images.containers.map(image, verifyImageSignatures(image, [attestors.cosign])).all(e, e > 0)",
		"[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(f, [1,2,3,4,5,6,7,8,9,10].all(g, a+b+c+d+f+g > 0))))))", 1)
	good := e.push("acme/good:v1")
	e.sign(good, gatetest.SignOptions{})
	v := e.judgeObject(e.ivpolSet(strings.Replace(runaway, "FAILURE", "Fail", 1), policy.LoadOptions{}), prodPod, good.String())
	if v.Status != gate.StatusError || !strings.Contains(v.Reason, "cost limit") {
		t.Errorf("runaway expression: %s %q, want error naming the cost limit", v.Status, v.Reason)
	}
	v = e.judgeObject(e.ivpolSet(strings.Replace(runaway, "FAILURE", "Ignore", 1), policy.LoadOptions{}), prodPod, good.String())
	if v.Status != gate.StatusAudit || !strings.Contains(v.Reason, "cost limit") {
		t.Errorf("runaway expression under Ignore: %s %q, want audit naming the cost limit", v.Status, v.Reason)
	}
}

// exceptionDoc is Kyverno's exceptions/regular exception, with expiresAt.
const exceptionDoc = `
---
apiVersion: policies.kyverno.io/v1beta1
kind: PolicyException
metadata:
  name: check-name
spec:
  policyRefs:
    - name: ivpol-sample
      kind: ImageValidatingPolicy
  matchConditions:
    - name: "check-name"
      expression: "object.metadata.name == 'skipped-pod'"
EXPIRES`

// TestIVPOLExceptions: a PolicyException exempts what its conditions
// match until it expires; an expired one no longer applies.
func TestIVPOLExceptions(t *testing.T) {
	e := newEnv(t)
	unsigned := e.push("acme/unsigned:v1")
	pol := sampleWith("v1beta1", "[Deny]", "Fail", "{verifyDigest: false}")
	skipped := object{kind: "Pod", name: "skipped-pod", namespace: "default", labels: map[string]any{"prod": "true"}}
	future := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)

	active := e.ivpolSet(pol+strings.Replace(exceptionDoc, "EXPIRES", "  expiresAt: "+future, 1), policy.LoadOptions{})
	if v := e.judgeObject(active, skipped, unsigned.String()); v.Status != gate.StatusSkipped || !strings.Contains(v.Reason, "PolicyException default/check-name") || !strings.Contains(v.Reason, "until "+future) {
		t.Errorf("active exception: %s %q, want skipped naming the exception and its expiry", v.Status, v.Reason)
	}
	if v := e.judgeObject(active, prodPod, unsigned.String()); v.Status != gate.StatusFail {
		t.Errorf("exception for another pod: %s %q, want fail", v.Status, v.Reason)
	}
	expired := e.ivpolSet(pol+strings.Replace(exceptionDoc, "EXPIRES", "  expiresAt: "+past, 1), policy.LoadOptions{})
	if v := e.judgeObject(expired, skipped, unsigned.String()); v.Status != gate.StatusFail || !strings.Contains(v.Reason, "expired") {
		t.Errorf("expired exception: %s %q, want fail saying it expired", v.Status, v.Reason)
	}
	if len(active.Exceptions) != 1 || active.Exceptions[0].ExpiresAt.IsZero() {
		t.Errorf("exceptions listed: %+v", active.Exceptions)
	}
	// An exception limited to images exempts only those.
	narrow := e.ivpolSet(pol+strings.Replace(exceptionDoc, "EXPIRES", "  images: [\"REGISTRY/acme/other*\"]", 1), policy.LoadOptions{})
	if v := e.judgeObject(narrow, skipped, unsigned.String()); v.Status != gate.StatusFail {
		t.Errorf("exception for other images: %s %q, want fail", v.Status, v.Reason)
	}
}

// TestIVPOLCounting: verifyImageSignatures counts the attestors that
// verified, and is 0 for an image matchImageReferences does not match
// (even when it is signed).
func TestIVPOLCounting(t *testing.T) {
	e := newEnv(t)
	w := e.ivpolWorld()
	doc := fmt.Sprintf(`
apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata: {name: count}
spec:
  validationConfigurations: {verifyDigest: false, required: false}
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}]
  matchImageReferences:
    - expression: "parseImageReference(ref).repository() != 'acme/other' && !ref.contains('unsigned')"
    - glob: "REGISTRY/acme/good*"
  attestors:
    - name: keyless
      cosign:
        keyless:
          identities:
            - {issuer: "https://token.actions.githubusercontent.com", subjectRegExp: "^https://github\\.com/acme/.*$"}
    - name: key
      cosign:
        key:
          data: |
%s
        ctlog: {insecureIgnoreTlog: true}
  validations:
    - expression: "verifyImageSignatures(images.containers[0], [attestors.keyless, attestors.key]) == WANT"
      messageExpression: "'counted ' + string(verifyImageSignatures(images.containers[0], [attestors.keyless, attestors.key]))"
`, indent(string(w.key.PublicPEM), "            "))
	for _, c := range []struct {
		image string
		want  string
	}{
		{w.good.String(), "1"},
		{w.keyed.String(), "1"},
		{w.noSBOM.String(), "1"},
	} {
		set := e.ivpolSet(strings.Replace(doc, "WANT", c.want, 1), policy.LoadOptions{})
		if v := e.judgeObject(set, prodPod, c.image); v.Status != gate.StatusPass {
			t.Errorf("%s: %s %q, want pass (count %s)", c.image, v.Status, v.Reason, c.want)
		}
	}
	// The image of another identity is outside matchImageReferences: the
	// policy does not apply to it, and an expression that passes it
	// explicitly counts 0.
	set := e.ivpolSet(strings.Replace(doc, "WANT", "0", 1), policy.LoadOptions{})
	if v := e.judgeObject(set, prodPod, w.other.String()); v.Status != gate.StatusUnmatched {
		t.Errorf("unmatched image: %s %q", v.Status, v.Reason)
	}
	zero := strings.Replace(doc, "verifyImageSignatures(images.containers[0], [attestors.keyless, attestors.key]) == WANT",
		"verifyImageSignatures('"+w.other.String()+"', [attestors.keyless]) == 0 && verifyImageSignatures(images.containers[0], [attestors.keyless]) == 1", 1)
	if v := e.judgeObject(e.ivpolSet(zero, policy.LoadOptions{}), prodPod, w.good.String()); v.Status != gate.StatusPass {
		t.Errorf("count of an unmatched image: %s %q, want pass (0)", v.Status, v.Reason)
	}
	// The message expression reports the count.
	set = e.ivpolSet(strings.Replace(doc, "WANT", "2", 1), policy.LoadOptions{})
	if v := e.judgeObject(set, prodPod, w.good.String()); v.Status != gate.StatusFail || !strings.Contains(v.Reason, "counted 1") {
		t.Errorf("messageExpression: %s %q, want fail with 'counted 1'", v.Status, v.Reason)
	}
}

// TestIVPOLKyvernoVersion: verdicts follow Kyverno 1.19; a configured
// older Kyverno adds a warning where it would decide otherwise.
func TestIVPOLKyvernoVersion(t *testing.T) {
	e := newEnv(t)
	good := e.push("acme/good:v1")
	e.sign(good, gatetest.SignOptions{})
	e.attest(good, gatetest.AttestOptions{PredicateType: gatetest.PredicateCycloneDX, Predicate: gatetest.CycloneDXBOM()})
	tag := e.w.Ref("acme/good:v1")
	old := policy.LoadOptions{KyvernoVersion: "1.18.2"}
	for _, c := range []struct {
		config string
		o      policy.LoadOptions
		want   gate.Status
		reason string
	}{
		{"{}", policy.LoadOptions{}, gate.StatusPass, ""},
		{"{}", old, gate.StatusPass, "Kyverno 1.18.2 does not pin tags"},
		{"{mutateDigest: false}", policy.LoadOptions{KyvernoVersion: "v1.19.0"}, gate.StatusFail, "missing digest"},
		{"{mutateDigest: false}", old, gate.StatusFail, "Kyverno 1.18.2 ignores verifyDigest: a tag will be admitted"},
	} {
		set := e.ivpolSet(sampleWith("v1", "[Deny]", "Fail", c.config), c.o)
		v := e.judgeObject(set, prodPod, tag)
		if v.Status != c.want || !strings.Contains(v.Reason, c.reason) {
			t.Errorf("config %s, Kyverno %q: %s %q, want %s containing %q", c.config, c.o.KyvernoVersion, v.Status, v.Reason, c.want, c.reason)
		}
	}
	// required: a policy that checks nothing cannot pass an image under
	// 1.19; 1.18 admits it, and the verdict says so.
	checksNothing := strings.NewReplacer(
		"images.containers.map(image, verifyImageSignatures(image, [attestors.cosign])).all(e, e > 0)", "true",
		"images.containers.map(image, verifyAttestationSignatures(image, attestations.sbom ,[attestors.cosign])).all(e, e > 0)", "true",
		"images.containers.map(image, extractPayload(image, attestations.sbom).predicate.bomFormat == 'CycloneDX').all(e, e)", "true")
	set := e.ivpolSet(checksNothing.Replace(sampleWith("v1", "[Deny]", "Fail", "{verifyDigest: false}")), old)
	v := e.judgeObject(set, prodPod, tag)
	if v.Status != gate.StatusFail || !strings.Contains(v.Reason, "no policy performed a signature or attestation check") || !strings.Contains(v.Reason, "ignores required") {
		t.Errorf("required: %s %q", v.Status, v.Reason)
	}
	// required: false and nothing verified: it passes unverified, and
	// the verdict does not call it verified.
	set = e.ivpolSet(checksNothing.Replace(sampleWith("v1", "[Deny]", "Fail", "{verifyDigest: false, required: false}")), policy.LoadOptions{})
	if v := e.judgeObject(set, prodPod, tag); v.Status != gate.StatusUnmatched || !strings.Contains(v.Reason, "passes unverified") {
		t.Errorf("required false: %s %q, want unmatched", v.Status, v.Reason)
	}
	if v := e.judgeObject(set, prodPod, tag, func(o *gate.Options, _ *verify.Options) { o.RequireMatch = true }); v.Status != gate.StatusFail {
		t.Errorf("required false with --require-match: %s %q, want fail", v.Status, v.Reason)
	}
}
