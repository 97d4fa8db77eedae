package gate_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/gate/policy"
	"github.com/gitops-gate/gitops-gate/gate/registry"
	"github.com/gitops-gate/gitops-gate/gate/verify"
	"github.com/gitops-gate/gitops-gate/manifests"
)

const (
	githubIssuer = "https://token.actions.githubusercontent.com"
	// acmePolicy trusts release workflows of acme/* repositories for every
	// image of the test registry (REGISTRY is replaced by its host).
	acmePolicy = `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: acme}
spec:
  validationFailureAction: Enforce
  rules:
  - name: signed-by-acme
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["REGISTRY/*"]
      skipImageReferences: ["REGISTRY/scratch/*"]
      mutateDigest: MUTATE
      verifyDigest: true
      attestors:
      - entries:
        - keyless:
            issuer: "https://token.actions.githubusercontent.com"
            subject: "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*"
            additionalExtensions:
              githubWorkflowRepository: "acme/*"
`
)

type env struct {
	t     *testing.T
	w     *gatetest.World
	ctx   context.Context
	tr    *root.TrustedRoot
	ropts registry.Options
}

func newEnv(t *testing.T) *env {
	t.Helper()
	w := gatetest.NewWorld(t)
	tr, err := root.NewTrustedRootFromPath(w.TrustedRootPath)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, w: w, ctx: context.Background(), tr: tr,
		ropts: registry.Options{Timeout: 2 * time.Second, BaseBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}}
}

func (e *env) push(repoTag string) name.Digest {
	e.t.Helper()
	d, err := e.w.PushImage(e.ctx, repoTag)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) sign(d name.Digest, o gatetest.SignOptions) {
	e.t.Helper()
	if err := e.w.Sigstore.SignImage(e.ctx, d, o); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) policy(doc string, mutate bool) *policy.Set {
	e.t.Helper()
	m := "true"
	if !mutate {
		m = "false"
	}
	doc = strings.ReplaceAll(strings.ReplaceAll(doc, "REGISTRY", e.w.Registry.Host), "MUTATE", m)
	pols, err := policy.Parse("policy.yaml", []byte(doc))
	if err != nil {
		e.t.Fatal(err)
	}
	return &policy.Set{Policies: pols}
}

// judge evaluates one Deployment image against the policies.
func (e *env) judge(image string, pols *policy.Set, mods ...func(*gate.Options, *verify.Options)) gate.ImageVerdict {
	e.t.Helper()
	rep := e.evaluate(pols, []string{image}, mods...)
	return rep.Apps[0].Images[0]
}

func (e *env) evaluate(pols *policy.Set, images []string, mods ...func(*gate.Options, *verify.Options)) *gate.Report {
	e.t.Helper()
	var refs []manifests.ImageRef
	for i, im := range images {
		refs = append(refs, manifests.ImageRef{App: "app", Image: im, File: "app/d.yaml", Line: 10 + i,
			Resource:  manifests.ResourceID{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "prod", Name: "web"},
			FieldPath: "spec.template.spec.containers[0].image"})
	}
	return e.evaluateRefs(pols, refs, mods...)
}

// evaluateRefs evaluates one app holding refs.
func (e *env) evaluateRefs(pols *policy.Set, refs []manifests.ImageRef, mods ...func(*gate.Options, *verify.Options)) *gate.Report {
	e.t.Helper()
	res, err := registry.New(e.ropts)
	if err != nil {
		e.t.Fatal(err)
	}
	vo := verify.Options{Trusted: e.tr, Registry: res}
	o := gate.Options{Policies: pols, Resolver: res}
	for _, m := range mods {
		m(&o, &vo)
	}
	if o.Verifier, err = verify.New(vo); err != nil {
		e.t.Fatal(err)
	}
	ev, err := gate.New(o)
	if err != nil {
		e.t.Fatal(err)
	}
	app := manifests.AppImages{Name: "app", Path: "app", Kind: manifests.KindPlain, Images: refs}
	return ev.Evaluate(e.ctx, &manifests.Inventory{APIVersion: manifests.InventoryAPIVersion, Apps: []manifests.AppImages{app}})
}

func expect(t *testing.T, v gate.ImageVerdict, status gate.Status, reason string) {
	t.Helper()
	if v.Status != status || !strings.Contains(v.Reason, reason) {
		t.Errorf("verdict %s %q\nwant      %s containing %q", v.Status, v.Reason, status, reason)
	}
}

func TestSignedByTrustedIdentityPasses(t *testing.T) {
	e := newEnv(t)
	d := e.push("acme/api:v1")
	e.sign(d, gatetest.SignOptions{})
	v := e.judge(e.w.Ref("acme/api:v1"), e.policy(acmePolicy, true))
	expect(t, v, gate.StatusPass, "")
	if v.Digest != d.DigestStr() || v.Rule != "acme/signed-by-acme" || v.SignatureFormat != verify.FormatClassic {
		t.Errorf("verdict %+v", v)
	}
	if v.Signer == nil || v.Signer.Issuer != githubIssuer || v.Signer.GitHubWorkflowRepository != "acme/app" ||
		!strings.HasPrefix(v.Signer.Subject, "https://github.com/acme/app/") || v.Signer.SourceRepositoryURI != "https://github.com/acme/app" {
		t.Errorf("signer %+v", v.Signer)
	}
	if v.Tlog == nil || v.Tlog.IntegratedTime.IsZero() {
		t.Errorf("tlog %+v", v.Tlog)
	}
}

func TestFailures(t *testing.T) {
	e := newEnv(t)
	pols := e.policy(acmePolicy, true)

	unsigned := e.push("acme/unsigned:v1")
	expect(t, e.judge(e.w.Ref("acme/unsigned:v1"), pols), gate.StatusFail, "no signatures found at "+unsigned.DigestStr())

	d := e.push("acme/wrong-subject:v1")
	e.sign(d, gatetest.SignOptions{Identity: gatetest.IdentityFor("evil/app", "refs/tags/v1")})
	expect(t, e.judge(e.w.Ref("acme/wrong-subject:v1"), pols), gate.StatusFail, "signed by another identity: got subjects [https://github.com/evil/app/")

	d = e.push("acme/wrong-issuer:v1")
	id := gatetest.DefaultGitHubIdentity()
	id.Issuer = "https://gitlab.com"
	e.sign(d, gatetest.SignOptions{Identity: id})
	expect(t, e.judge(e.w.Ref("acme/wrong-issuer:v1"), pols), gate.StatusFail, "with issuer https://gitlab.com")

	// The SAN is acme's, but the workflow ran in another repository.
	d = e.push("acme/wrong-repo:v1")
	id = gatetest.DefaultGitHubIdentity()
	id.Repository = "acme/app"
	e.sign(d, gatetest.SignOptions{Identity: id})
	wrongRepo := e.policy(strings.Replace(acmePolicy, `githubWorkflowRepository: "acme/*"`, `githubWorkflowRepository: "acme/api"`, 1), true)
	expect(t, e.judge(e.w.Ref("acme/wrong-repo:v1"), wrongRepo), gate.StatusFail, `githubWorkflowRepository is "acme/app", want "acme/api"`)

	// A valid signature copied to another digest.
	good := e.push("acme/good:v1")
	e.sign(good, gatetest.SignOptions{})
	victim := e.push("acme/copied:v1")
	copySignature(t, good, victim)
	expect(t, e.judge(e.w.Ref("acme/copied:v1"), pols), gate.StatusFail, "invalid or missing digest in claim")

	// A certificate from a CA the trust root does not hold.
	other, err := gatetest.New()
	if err != nil {
		t.Fatal(err)
	}
	d = e.push("acme/untrusted-ca:v1")
	if err := other.SignImage(e.ctx, d, gatetest.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	expect(t, e.judge(e.w.Ref("acme/untrusted-ca:v1"), pols), gate.StatusFail, "")

	// The tag re-pushed to unsigned content: the new digest has no signature.
	first := e.push("acme/moved:v1")
	e.sign(first, gatetest.SignOptions{})
	moved := e.push("acme/moved:v1")
	expect(t, e.judge(e.w.Ref("acme/moved:v1"), pols), gate.StatusFail, "no signatures found at "+moved.DigestStr())
}

func TestExpiredCertificate(t *testing.T) {
	e := newEnv(t)
	noTlog := e.policy(strings.Replace(acmePolicy, `            additionalExtensions:`, "            rekor: {ignoreTlog: true}\n            additionalExtensions:", 1), true)
	d := e.push("acme/expired:v1")
	e.sign(d, gatetest.SignOptions{NoTlog: true, CertNotBefore: time.Now().Add(-time.Hour)})
	expect(t, e.judge(e.w.Ref("acme/expired:v1"), noTlog), gate.StatusFail, "expected a signed timestamp to verify an expired certificate")

	// With the transparency log required, a signature without an entry fails offline.
	expect(t, e.judge(e.w.Ref("acme/expired:v1"), e.policy(acmePolicy, true)), gate.StatusFail, "")

	// An expired certificate whose Rekor entry was made while it was valid passes.
	d = e.push("acme/expired-logged:v1")
	e.sign(d, gatetest.SignOptions{CertNotBefore: time.Now().Add(-time.Hour)})
	expect(t, e.judge(e.w.Ref("acme/expired-logged:v1"), e.policy(acmePolicy, true)), gate.StatusPass, "")
}

func TestHostileTimestampDoesNotCrash(t *testing.T) {
	e := newEnv(t)
	evil, err := gatetest.New()
	if err != nil {
		t.Fatal(err)
	}
	noTlog := e.policy(strings.Replace(acmePolicy, `            additionalExtensions:`, "            rekor: {ignoreTlog: true}\n            additionalExtensions:", 1), true)
	d := e.push("acme/hostile-tsa:v1")
	e.sign(d, gatetest.SignOptions{NoTlog: true, TSA: true, TSASigner: evil, CertNotBefore: time.Now().Add(-time.Hour)})
	// The untrusted timestamp is never used as a signing time: the expired
	// certificate then has none, and the verdict is a failure, not a crash.
	expect(t, e.judge(e.w.Ref("acme/hostile-tsa:v1"), noTlog), gate.StatusFail, "its RFC 3161 timestamp was not used")
}

func TestRFC3161TimestampAsSigningTime(t *testing.T) {
	e := newEnv(t)
	noTlog := e.policy(strings.Replace(acmePolicy, `            additionalExtensions:`, "            rekor: {ignoreTlog: true}\n            additionalExtensions:", 1), true)
	d := e.push("acme/timestamped:v1")
	notBefore := time.Now().Add(-time.Hour).Truncate(time.Second)
	e.sign(d, gatetest.SignOptions{NoTlog: true, TSA: true, CertNotBefore: notBefore, TSATime: notBefore.Add(time.Minute)})
	v := e.judge(e.w.Ref("acme/timestamped:v1"), noTlog)
	expect(t, v, gate.StatusPass, "")
	if v.RFC3161Time == nil || !v.RFC3161Time.Equal(notBefore.Add(time.Minute)) || v.Tlog != nil {
		t.Errorf("signing time %v, tlog %v: want the trusted timestamp", v.RFC3161Time, v.Tlog)
	}
}

func TestKeySigned(t *testing.T) {
	e := newEnv(t)
	right, _ := gatetest.NewKeyPair()
	wrong, _ := gatetest.NewKeyPair()
	d := e.push("acme/keyed:v1")
	if err := e.w.Sigstore.SignImageWithKey(e.ctx, d, right, gatetest.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	keyPolicy := func(pem string) *policy.Set {
		return e.policy(`
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: keys}
spec:
  rules:
  - name: key
    match: {any: [{resources: {kinds: [Deployment]}}]}
    verifyImages:
    - imageReferences: ["REGISTRY/*"]
      attestors:
      - entries:
        - keys:
            publicKeys: |-
`+indent(pem, "              ")+"\n", true)
	}
	v := e.judge(e.w.Ref("acme/keyed:v1"), keyPolicy(string(right.PublicPEM)))
	expect(t, v, gate.StatusPass, "")
	if v.Signer == nil || !strings.HasPrefix(v.Signer.PublicKey, "SHA256:") {
		t.Errorf("signer %+v", v.Signer)
	}
	expect(t, e.judge(e.w.Ref("acme/keyed:v1"), keyPolicy(string(wrong.PublicPEM))), gate.StatusFail, "signed with a different key than the policy's")
}

func TestTwoSignaturesOnlySecondTrusted(t *testing.T) {
	e := newEnv(t)
	d := e.push("acme/two:v1")
	e.sign(d, gatetest.SignOptions{Identity: gatetest.IdentityFor("evil/app", "refs/tags/v1")})
	e.sign(d, gatetest.SignOptions{})
	v := e.judge(e.w.Ref("acme/two:v1"), e.policy(acmePolicy, true))
	expect(t, v, gate.StatusPass, "")
	if v.Signer.GitHubWorkflowRepository != "acme/app" {
		t.Errorf("signer %+v: want the trusted one", v.Signer)
	}
}

func TestCountTwo(t *testing.T) {
	e := newEnv(t)
	two := `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: two}
spec:
  rules:
  - name: build-and-release
    match: {any: [{resources: {kinds: [Deployment]}}]}
    verifyImages:
    - imageReferences: ["REGISTRY/*"]
      attestors:
      - count: 2
        entries:
        - keyless: {issuer: "https://token.actions.githubusercontent.com", subject: "https://github.com/acme/app/*"}
        - keyless: {issuer: "https://token.actions.githubusercontent.com", subject: "https://github.com/acme/security/*"}
`
	both := e.push("acme/both:v1")
	e.sign(both, gatetest.SignOptions{})
	e.sign(both, gatetest.SignOptions{Identity: gatetest.IdentityFor("acme/security", "refs/tags/v1")})
	one := e.push("acme/one:v1")
	e.sign(one, gatetest.SignOptions{})
	pols := e.policy(two, true)
	expect(t, e.judge(e.w.Ref("acme/both:v1"), pols), gate.StatusPass, "")
	expect(t, e.judge(e.w.Ref("acme/one:v1"), pols), gate.StatusFail, "1 verified, 2 required")
}

// Signatures are read where Kyverno with the rule reads them (kyverno/
// kyverno pkg/image/verifiers/cpol/cosign/verifier.go VerifySignature):
// type SigstoreBundle reads bundles, type Cosign the .sig tag, and OCI 1.1
// referrer signatures only with cosignOCI11.
func TestBundleAndReferrerFormats(t *testing.T) {
	e := newEnv(t)
	cosignPol := e.policy(acmePolicy, true)
	bundlePol := e.policy(bundlePolicy(acmePolicy), true)
	oci11Pol := e.policy(strings.Replace(acmePolicy, "    - imageReferences:", "    - cosignOCI11: true\n      imageReferences:", 1), true)
	d := e.push("acme/bundled:v1")
	if err := e.w.Sigstore.SignImageNewBundle(e.ctx, d, gatetest.SignOptions{}, ociremote.WithRemoteOptions(remote.WithContext(e.ctx))); err != nil {
		t.Fatal(err)
	}
	v := e.judge(e.w.Ref("acme/bundled:v1"), bundlePol)
	expect(t, v, gate.StatusPass, "")
	if v.SignatureFormat != verify.FormatBundle || v.Signer == nil || v.Signer.GitHubWorkflowRepository != "acme/app" || v.Tlog == nil {
		t.Errorf("bundle verdict %+v signer %+v", v, v.Signer)
	}

	d = e.push("acme/referrer:v1")
	e.sign(d, gatetest.SignOptions{OCI11: true})
	v = e.judge(e.w.Ref("acme/referrer:v1"), oci11Pol)
	expect(t, v, gate.StatusPass, "")
	if v.SignatureFormat != verify.FormatReferrer {
		t.Errorf("format %s, want referrer", v.SignatureFormat)
	}

	// A bundle signed by another identity fails with the identity in the reason.
	d = e.push("acme/bundled-evil:v1")
	if err := e.w.Sigstore.SignImageNewBundle(e.ctx, d, gatetest.SignOptions{Identity: gatetest.IdentityFor("evil/app", "refs/tags/v1")}); err != nil {
		t.Fatal(err)
	}
	expect(t, e.judge(e.w.Ref("acme/bundled-evil:v1"), bundlePol), gate.StatusFail, "evil/app")
	expect(t, e.judge(e.w.Ref("acme/bundled-evil:v1"), cosignPol), gate.StatusFail, "evil/app")
}

func TestMultiArch(t *testing.T) {
	e := newEnv(t)
	pols := e.policy(acmePolicy, true)
	idx, platforms, err := e.w.PushIndex(e.ctx, "acme/multi:v1", 2)
	if err != nil {
		t.Fatal(err)
	}
	e.sign(idx, gatetest.SignOptions{})
	v := e.judge(e.w.Ref("acme/multi:v1"), pols)
	expect(t, v, gate.StatusPass, "")
	if v.Digest != idx.DigestStr() || len(v.Platforms) != 2 || v.Platforms[0].Digest != platforms[0].DigestStr() {
		t.Errorf("want the index digest pinned and the platforms listed: %+v", v)
	}
	// The index is signed, the platform manifest on its own is not.
	expect(t, e.judge(platforms[0].String(), pols), gate.StatusFail, "no signatures found at "+platforms[0].DigestStr())

	// The reverse: platforms signed, index not.
	idx2, platforms2, err := e.w.PushIndex(e.ctx, "acme/multi2:v1", 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range platforms2 {
		e.sign(p, gatetest.SignOptions{})
	}
	expect(t, e.judge(e.w.Ref("acme/multi2:v1"), pols), gate.StatusFail, "no signatures found at "+idx2.DigestStr())
	expect(t, e.judge(platforms2[1].String(), pols), gate.StatusPass, "")
}

func TestTagMovedIsNamed(t *testing.T) {
	e := newEnv(t)
	pinned := e.push("acme/pinned:v1")
	moved := e.push("acme/pinned:v1") // the tag now points at new, unsigned content
	v := e.judge(e.w.Ref("acme/pinned:v1@")+pinned.DigestStr(), e.policy(acmePolicy, true))
	expect(t, v, gate.StatusFail, "tag v1 moved: "+pinned.DigestStr()+" → "+moved.DigestStr())
	if v.Digest != pinned.DigestStr() {
		t.Errorf("digest %s: the pinned digest is what is verified", v.Digest)
	}
}

func TestVerifyDigestAuditSkipUnmatched(t *testing.T) {
	e := newEnv(t)
	d := e.push("acme/tagonly:v1")
	e.sign(d, gatetest.SignOptions{})
	// mutateDigest false + verifyDigest true: Kyverno refuses a tag.
	expect(t, e.judge(e.w.Ref("acme/tagonly:v1"), e.policy(acmePolicy, false)), gate.StatusFail, "missing digest for")
	expect(t, e.judge(d.String(), e.policy(acmePolicy, false)), gate.StatusPass, "")

	audit := e.policy(strings.Replace(acmePolicy, "validationFailureAction: Enforce", "validationFailureAction: Audit", 1), false)
	u := e.push("acme/unsigned-audited:v1")
	rep := e.evaluate(audit, []string{u.String()})
	expect(t, rep.Apps[0].Images[0], gate.StatusAudit, "no signatures found")
	if rep.Result != gate.StatusPass {
		t.Errorf("an Audit failure does not fail the evaluation: %s", rep.Result)
	}

	e.push("scratch/tool:v1")
	expect(t, e.judge(e.w.Ref("scratch/tool:v1"), e.policy(acmePolicy, true)), gate.StatusSkipped, "skipImageReferences")
	v := e.judge("docker.io/library/nginx:1.25", e.policy(acmePolicy, true))
	expect(t, v, gate.StatusUnmatched, "")
	v = e.judge("docker.io/library/nginx:1.25", e.policy(acmePolicy, true), func(o *gate.Options, _ *verify.Options) { o.RequireMatch = true })
	expect(t, v, gate.StatusFail, "no policy rule matches")
}

func TestRegistryFaults(t *testing.T) {
	e := newEnv(t)
	pols := e.policy(acmePolicy, true)
	d := e.push("acme/faulty:v1")
	e.sign(d, gatetest.SignOptions{})
	ref := e.w.Ref("acme/faulty:v1")

	e.w.Registry.SetFaults(gatetest.Faults{Status: 429, FailNext: 2, RetryAfter: "0"})
	expect(t, e.judge(ref, pols), gate.StatusPass, "")

	e.w.Registry.SetFaults(gatetest.Faults{Status: 500})
	v := e.judge(ref, pols)
	expect(t, v, gate.StatusError, "registry "+e.w.Registry.Host+": 500 Internal Server Error after 4 tries")

	e.w.Registry.SetFaults(gatetest.Faults{DropConnection: true})
	if v := e.judge(ref, pols); v.Status != gate.StatusError {
		t.Errorf("connections dropped mid-body: %s %q, want error", v.Status, v.Reason)
	}

	e.w.Registry.SetFaults(gatetest.Faults{Latency: 300 * time.Millisecond})
	e.ropts.Timeout = 50 * time.Millisecond
	e.ropts.Retries = 1
	expect(t, e.judge(ref, pols), gate.StatusError, "registry "+e.w.Registry.Host)
	e.ropts.Timeout = 2 * time.Second

	e.w.Registry.SetFaults(gatetest.Faults{})
	e.w.Registry.Close()
	rep := e.evaluate(pols, []string{ref})
	expect(t, rep.Apps[0].Images[0], gate.StatusError, "registry "+e.w.Registry.Host)
	if rep.Result != gate.StatusError {
		t.Errorf("result %s: a registry outage is never a pass", rep.Result)
	}
}

func TestMissingTrustRoot(t *testing.T) {
	e := newEnv(t)
	d := e.push("acme/api:v1")
	e.sign(d, gatetest.SignOptions{})
	v := e.judge(e.w.Ref("acme/api:v1"), e.policy(acmePolicy, true), func(_ *gate.Options, vo *verify.Options) {
		vo.Trusted = nil
		vo.TrustErr = verify.ErrNoTrustRoot
	})
	expect(t, v, gate.StatusError, "needs a trust root")
}

func TestMalformedSignatureManifest(t *testing.T) {
	e := newEnv(t)
	d := e.push("acme/garbage:v1")
	// Push a random image where the signature tag should be.
	tag := "acme/garbage:" + strings.Replace(d.DigestStr(), ":", "-", 1) + ".sig"
	e.push(tag)
	v := e.judge(e.w.Ref("acme/garbage:v1"), e.policy(acmePolicy, true))
	if v.Status.Passing() {
		t.Errorf("a garbage signature manifest passed: %+v", v)
	}
}

func TestCacheAcrossEvaluations(t *testing.T) {
	e := newEnv(t)
	d := e.push("acme/cached:v1")
	e.sign(d, gatetest.SignOptions{})
	pols := e.policy(acmePolicy, true)
	c := newOutcomeCache()
	withCache := func(o *gate.Options, _ *verify.Options) { o.Cache = c; o.TrustID = "test" }
	expect(t, e.judge(e.w.Ref("acme/cached:v1"), pols, withCache), gate.StatusPass, "")
	e.w.Registry.ResetRequests()
	expect(t, e.judge(e.w.Ref("acme/cached:v1"), pols, withCache), gate.StatusPass, "")
	// Warm: the tag is resolved again (never cached), the signatures are not fetched.
	if n := e.w.Registry.Requests(); n > 2 {
		t.Errorf("%d registry requests warm, want the resolution only", n)
	}
}

// breakSignatureLayer deletes the blob of layer i of d's .sig signature
// manifest, leaving the manifest: that signature is listed but cannot be
// read.
func (e *env) breakSignatureLayer(d name.Digest, i int) {
	e.t.Helper()
	tag, err := ociremote.SignatureTag(d)
	if err != nil {
		e.t.Fatal(err)
	}
	img, err := remote.Image(tag)
	if err != nil {
		e.t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) <= i {
		e.t.Fatalf("signature layers: %d, %v", len(layers), err)
	}
	ld, _ := layers[i].Digest()
	req, _ := http.NewRequest(http.MethodDelete, "http://"+e.w.Registry.Host+"/v2/"+d.RepositoryStr()+"/blobs/"+ld.String(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		e.t.Fatalf("deleting the signature layer: %s", resp.Status)
	}
}

// TestUnreadableSignatureDoesNotHideAGoodOne: a signature whose layer is
// gone makes the image an error when nothing else verifies (never a pass,
// never a fail), and does not stop a readable signature next to it from
// verifying the image.
func TestUnreadableSignatureDoesNotHideAGoodOne(t *testing.T) {
	e := newEnv(t)
	pols := e.policy(acmePolicy, true)
	only := e.push("acme/broken:v1")
	e.sign(only, gatetest.SignOptions{})
	e.breakSignatureLayer(only, 0)
	expect(t, e.judge(e.w.Ref("acme/broken:v1"), pols), gate.StatusError, "BLOB_UNKNOWN")

	// Two signatures in the .sig manifest (different payloads, so different
	// layers): the first is unreadable, the second verifies.
	both := e.push("acme/broken-and-good:v1")
	e.sign(both, gatetest.SignOptions{Annotations: map[string]any{"build": "1"}})
	e.sign(both, gatetest.SignOptions{Annotations: map[string]any{"build": "2"}})
	e.breakSignatureLayer(both, 0)
	expect(t, e.judge(e.w.Ref("acme/broken-and-good:v1"), pols), gate.StatusPass, "")

	// The readable one is by someone else: still an error (the unreadable
	// one might have been the trusted signature), not a failure.
	other := e.push("acme/broken-and-evil:v1")
	e.sign(other, gatetest.SignOptions{Annotations: map[string]any{"build": "1"}})
	e.sign(other, gatetest.SignOptions{Identity: gatetest.IdentityFor("evil/app", "refs/tags/v1"), Annotations: map[string]any{"build": "2"}})
	e.breakSignatureLayer(other, 0)
	expect(t, e.judge(e.w.Ref("acme/broken-and-evil:v1"), pols), gate.StatusError, "BLOB_UNKNOWN")
}

// A registry host written in another case (LOCALHOST:port, GHCR.IO) is the
// same registry to the runtime: it does not escape a rule written in lower
// case.
//
// DNS names are case-insensitive, and containerd keeps the host as written
// and connects to it: LOCALHOST:port/acme/unsigned:v1 pulls the very image
// localhost:port/acme/unsigned:v1 names. imageref.Forms lists the
// lower-case spelling too, so imageReferences ["localhost:port/*"] judges
// it, and the reason says Kyverno's string match would not.
func TestRegistryHostCaseDoesNotEscapeRule(t *testing.T) {
	e := newEnv(t)
	e.push("acme/unsigned:v1")
	port := e.w.Registry.Host[strings.LastIndexByte(e.w.Registry.Host, ':')+1:]
	pols := e.policy(strings.Replace(acmePolicy, `["REGISTRY/*"]`, `["localhost:`+port+`/*"]`, 1), true)
	// The legitimate spelling is judged (and fails: nothing is signed).
	expect(t, e.judge("localhost:"+port+"/acme/unsigned:v1", pols), gate.StatusFail, "no signatures found")
	for _, host := range []string{"LOCALHOST", "Localhost", "localHost"} {
		v := e.judge(host+":"+port+"/acme/unsigned:v1", pols)
		if v.Status == gate.StatusPass || v.Status == gate.StatusUnmatched || v.Status == gate.StatusSkipped {
			t.Errorf("%s:%s/acme/unsigned:v1 (the same registry as localhost:%s): verdict %s %q, want fail or error", host, port, port, v.Status, v.Reason)
		}
		if !strings.Contains(v.Reason, "Kyverno matches this image only as") {
			t.Errorf("%s: reason %q does not say Kyverno's match differs", host, v.Reason)
		}
	}
}
