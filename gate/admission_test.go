package gate_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate"
	"github.com/gitops-gate/gitops-gate/gate/gatetest"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// podPolicy is acmePolicy's Pod rule with an annotation slot.
var podPolicy = strings.Replace(acmePolicy, "metadata: {name: acme}", "metadata:\n  name: acme\nANNOTATIONS", 1)

func refAt(image, apiVersion, kind, namespace, fieldPath string) manifests.ImageRef {
	return manifests.ImageRef{App: "app", Image: image, File: "app/r.yaml", Line: 7,
		Resource:  manifests.ResourceID{APIVersion: apiVersion, Kind: kind, Namespace: namespace, Name: "web"},
		FieldPath: fieldPath}
}

// The attack: a Pod rule with auto-generation off (or narrowed, or for a
// controller Kyverno never generates for) used to leave every pod template
// unmatched, so an unsigned image passed. Kyverno still admits each Pod the
// controller creates through the Pod rule (kyverno/kyverno
// pkg/autogen/v1/autogen.go generates controller rules only for
// DaemonSet, Deployment, Job, StatefulSet, ReplicaSet, ReplicationController
// and CronJob, as the annotation allows; the Pod rule itself is unchanged),
// so the gate judges the template by the Pod rule and says so.
func TestPodRuleJudgesPodsControllersCreate(t *testing.T) {
	e := newEnv(t)
	e.sign(e.push("acme/signed:v1"), gatetest.SignOptions{})
	e.push("acme/unsigned:v1")
	signed, unsigned := e.w.Ref("acme/signed:v1"), e.w.Ref("acme/unsigned:v1")
	const rule = "acme/signed-by-acme"
	type where struct{ apiVersion, kind, path string }
	rollout := where{"argoproj.io/v1alpha1", "Rollout", "spec.template.spec.containers[0].image"}
	deployment := where{"apps/v1", "Deployment", "spec.template.spec.containers[0].image"}
	cronjob := where{"batch/v1", "CronJob", "spec.jobTemplate.spec.template.spec.containers[0].image"}
	cloneset := where{"apps.kruise.io/v1alpha1", "CloneSet", "spec.template.spec.containers[0].image"}
	for _, c := range []struct {
		name, annotations string
		at                where
		viaPods           bool // no rule for the kind itself: the Pods are denied
	}{
		{"Rollout, default autogen", "", rollout, true},
		{"CloneSet, default autogen", "", cloneset, true},
		{"Deployment, autogen none", "  annotations: {pod-policies.kyverno.io/autogen-controllers: none}", deployment, true},
		{"CronJob, autogen narrowed to Deployment", "  annotations: {pod-policies.kyverno.io/autogen-controllers: Deployment}", cronjob, true},
		{"Deployment, default autogen", "", deployment, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			pols := e.policy(strings.Replace(podPolicy, "ANNOTATIONS", c.annotations, 1), true)
			rep := e.evaluateRefs(pols, []manifests.ImageRef{
				refAt(unsigned, c.at.apiVersion, c.at.kind, "prod", c.at.path),
				refAt(signed, c.at.apiVersion, c.at.kind, "prod", c.at.path),
			})
			var bad, good gate.ImageVerdict
			for _, v := range rep.Apps[0].Images {
				if v.Image == unsigned {
					bad = v
				} else {
					good = v
				}
			}
			want := "no signatures found"
			if c.viaPods {
				want = "the Pods this " + c.at.kind + " creates are denied by rule " + rule + ": "
				if !strings.HasPrefix(bad.Reason, want) {
					t.Errorf("reason %q: want it to start with %q", bad.Reason, want)
				}
			}
			expect(t, bad, gate.StatusFail, want)
			if bad.Rule != rule {
				t.Errorf("rule %q, want the Pod rule %s", bad.Rule, rule)
			}
			expect(t, good, gate.StatusPass, "")
			if rep.Result != gate.StatusFail {
				t.Errorf("result %s, want fail", rep.Result)
			}
		})
	}
}

// The attack: an exclude limited to UPDATE used to exclude every operation,
// so a new Deployment's unsigned image passed. Kyverno checks operations
// first in each filter (kyverno/kyverno pkg/engine/utils/match.go
// doesResourceMatchConditionBlock), so that exclude never applies to a
// CREATE, nor to the Pods a controller creates.
func TestExcludeOnUpdateDoesNotExcludeCreate(t *testing.T) {
	e := newEnv(t)
	e.push("acme/unsigned:v1")
	excl := strings.Replace(acmePolicy, "    verifyImages:", "    exclude:\n      any:\n      - resources:\n          namespaces: [prod]\n          operations: [OPS]\n    verifyImages:", 1)
	v := e.judge(e.w.Ref("acme/unsigned:v1"), e.policy(strings.Replace(excl, "OPS", "UPDATE", 1), true))
	expect(t, v, gate.StatusFail, "no signatures found")
	// The legitimate variant: an exclude on every operation the gate judges
	// still excludes.
	v = e.judge(e.w.Ref("acme/unsigned:v1"), e.policy(strings.Replace(excl, "OPS", "CREATE, UPDATE", 1), true))
	expect(t, v, gate.StatusUnmatched, "")
}

// hostRecorder answers no request and records the hosts asked.
type hostRecorder struct {
	mu    sync.Mutex
	hosts []string
}

func (h *hostRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts = append(h.hosts, req.URL.Host)
	h.mu.Unlock()
	return nil, errors.New("recorded, not sent")
}

func (h *hostRecorder) seen() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.hosts...)
}

// The attack: localhost/acme/app was matched as registry localhost (where
// the runtime pulls it from) but resolved and verified at Docker Hub's
// localhost/acme/app, so a signed image there vouched for an unsigned one
// at localhost. The gate now resolves exactly what it matched.
func TestParserAgreement(t *testing.T) {
	e := newEnv(t)
	rec := &hostRecorder{}
	e.ropts.Transport = rec
	e.ropts.Retries = -1
	only := func(image, pattern string) {
		t.Helper()
		rec.mu.Lock()
		rec.hosts = nil
		rec.mu.Unlock()
		pols := e.policy(strings.Replace(acmePolicy, `["REGISTRY/*"]`, `["`+pattern+`"]`, 1), true)
		v := e.judge(image, pols)
		if v.Status != gate.StatusError {
			t.Errorf("%s: verdict %s %q, want an error (the recorder answers nothing)", image, v.Status, v.Reason)
		}
		hosts := rec.seen()
		if len(hosts) == 0 {
			t.Fatalf("%s: no request", image)
		}
		want := strings.SplitN(pattern, "/", 2)[0]
		if want == "docker.io" {
			want = "index.docker.io" // Docker Hub's API host, for both its names
		}
		for _, h := range hosts {
			if h != want {
				t.Errorf("%s (matched by %s) resolved at host %s, want %s", image, pattern, h, want)
			}
		}
	}
	only("localhost/acme/app:v1", "localhost/*")
	only("localhost/app", "localhost/app:*")
	only("registry.example:8443/acme/app:v1", "registry.example:8443/*")
	only("[::1]:5000/acme/app:v1", "[::1]:5000/*")
	// Docker Hub spelled every way: each is the same image, so a rule
	// written against one spelling covers the others (Kyverno matches only
	// its own spelling: a rule for docker.io/nginx* misses
	// docker.io/library/nginx:1.25 there, which the cluster pulls alike).
	only("docker.io/library/nginx:1.25", "docker.io/nginx*")
	only("nginx:1.25", "docker.io/library/nginx*")
	only("index.docker.io/nginx:1.25", "docker.io/nginx*")
}

// The legitimate variant: the same registry spelled localhost:PORT and
// 127.0.0.1:PORT; signatures are found at the registry that was matched.
func TestParserAgreementLocalhostPort(t *testing.T) {
	e := newEnv(t)
	d := e.push("acme/app:v1")
	port := e.w.Registry.Host[strings.LastIndexByte(e.w.Registry.Host, ':')+1:]
	pols := e.policy(strings.Replace(acmePolicy, `["REGISTRY/*"]`, `["localhost:`+port+`/*"]`, 1), true)
	expect(t, e.judge("localhost:"+port+"/acme/app:v1", pols), gate.StatusFail, "no signatures found")
	e.sign(d, gatetest.SignOptions{})
	v := e.judge("localhost:"+port+"/acme/app:v1", pols)
	expect(t, v, gate.StatusPass, "")
	if v.Digest != d.DigestStr() || v.Normalized != "localhost:"+port+"/acme/app:v1" {
		t.Errorf("verdict %+v", v)
	}
}

// An exclude written with a group/version or a subresource (batch/v1/*,
// Job/*, batch/*/*) excludes only what it names, as in Kyverno: it used to
// exclude every kind in the gate, so a Deployment's unsigned image was
// unmatched.
//
// Kyverno parses a kind selector into group, version, kind and subresource
// (kyverno/kyverno pkg/utils/kube/kind.go ParseKindSelector, matched by
// pkg/utils/match/kind.go CheckKind): "batch/v1/*" is every kind of the
// batch group, "Job/*" is Job and its subresources. The gate used to keep
// only the text after the last '/', "*", which excluded every kind. The
// legitimate excludes ("v1/Pod", which autogen extends to the controllers,
// and "*/*") still exclude both.
func TestKindSelectorWithGroupOrSubresourceExcludesOnlyWhatItNames(t *testing.T) {
	e := newEnv(t)
	e.push("acme/unsigned:v1")
	unsigned := e.w.Ref("acme/unsigned:v1")
	for _, sel := range []string{`"batch/v1/*"`, `"batch/*/*"`, `"Job/*"`, `"CronJob/*"`, `"apps/v1/DaemonSet/*"`, `"v1/Pod"`, `"*/*"`} {
		excluded := sel == `"v1/Pod"` || sel == `"*/*"`
		t.Run(sel, func(t *testing.T) {
			doc := strings.Replace(acmePolicy, "    verifyImages:", "    exclude:\n      any:\n      - resources:\n          kinds: ["+sel+"]\n    verifyImages:", 1)
			pols := e.policy(doc, true)
			rep := e.evaluateRefs(pols, []manifests.ImageRef{
				refAt(unsigned, "apps/v1", "Deployment", "prod", "spec.template.spec.containers[0].image"),
				refAt(unsigned, "v1", "Pod", "prod", "spec.containers[0].image"),
			})
			for _, v := range rep.Apps[0].Images {
				if excluded {
					if v.Status != gate.StatusUnmatched {
						t.Errorf("%s with exclude kinds [%s]: verdict %s %q, want unmatched (Kyverno excludes it)", v.Resource.Kind, sel, v.Status, v.Reason)
					}
					continue
				}
				if v.Status != gate.StatusFail {
					t.Errorf("%s with exclude kinds [%s]: verdict %s %q, want fail (Kyverno does not exclude it)", v.Resource.Kind, sel, v.Status, v.Reason)
				}
			}
			if !excluded && rep.Result == gate.StatusPass {
				t.Errorf("result pass for an unsigned Deployment Kyverno denies")
			}
		})
	}
}
