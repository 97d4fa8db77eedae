package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/gitops-gate/gitops-gate/gate/internal/suggest"
	"github.com/gitops-gate/gitops-gate/manifests"
)

// The raw shapes of the fields the gate implements. Checking a document's
// keys against these tags (see checkFields) is what makes an unimplemented
// field a load error.
type rawPolicy struct {
	APIVersion string    `yaml:"apiVersion"`
	Kind       string    `yaml:"kind"`
	Metadata   RawMeta   `yaml:"metadata"`
	Spec       rawSpec   `yaml:"spec"`
	Status     yaml.Node `yaml:"status" gate:"any"`
}

// RawMeta is the metadata every policy front-end reads: the same keys are
// accepted (and the rest refused) whichever kind carries them.
type RawMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Annotations map[string]string `yaml:"annotations"`
	Labels      yaml.Node         `yaml:"labels" gate:"any"`
	Other       yaml.Node         `yaml:",inline" gate:"any"`
}

type rawSpec struct {
	Rules                   []yaml.Node `yaml:"rules" gate:"any"` // checked per rule
	ValidationFailureAction string      `yaml:"validationFailureAction"`
	ApplyRules              string      `yaml:"applyRules"`
	// Admission-controller settings that do not change a verdict.
	Background                     yaml.Node `yaml:"background" gate:"any"`
	FailurePolicy                  yaml.Node `yaml:"failurePolicy" gate:"any"`
	WebhookTimeoutSeconds          yaml.Node `yaml:"webhookTimeoutSeconds" gate:"any"`
	WebhookConfiguration           yaml.Node `yaml:"webhookConfiguration" gate:"any"`
	Admission                      yaml.Node `yaml:"admission" gate:"any"`
	EmitWarning                    yaml.Node `yaml:"emitWarning" gate:"any"`
	SchemaValidation               yaml.Node `yaml:"schemaValidation" gate:"any"`
	UseServerSideApply             yaml.Node `yaml:"useServerSideApply" gate:"any"`
	MutateExistingOnPolicyUpdate   yaml.Node `yaml:"mutateExistingOnPolicyUpdate" gate:"any"`
	GenerateExisting               yaml.Node `yaml:"generateExisting" gate:"any"`
	GenerateExistingOnPolicyUpdate yaml.Node `yaml:"generateExistingOnPolicyUpdate" gate:"any"`
}

type rawRule struct {
	Name                   string               `yaml:"name"`
	Match                  rawMatch             `yaml:"match"`
	Exclude                rawMatch             `yaml:"exclude"`
	VerifyImages           []rawVerify          `yaml:"verifyImages"`
	ImageExtractors        manifests.Extractors `yaml:"imageExtractors" gate:"any"` // validated by manifests
	SkipBackgroundRequests yaml.Node            `yaml:"skipBackgroundRequests" gate:"any"`
}

type rawMatch struct {
	Any       []rawFilter `yaml:"any"`
	All       []rawFilter `yaml:"all"`
	Resources *rawResDesc `yaml:"resources"`
}

type rawFilter struct {
	Resources rawResDesc `yaml:"resources"`
}

type rawResDesc struct {
	Kinds      []string `yaml:"kinds"`
	Namespaces []string `yaml:"namespaces"`
	Operations []string `yaml:"operations"`
}

type rawVerify struct {
	Type                     string           `yaml:"type"`
	ImageReferences          []string         `yaml:"imageReferences"`
	SkipImageReferences      []string         `yaml:"skipImageReferences"`
	Attestors                []rawAttSet      `yaml:"attestors"`
	Attestations             []rawAttestation `yaml:"attestations"`
	Repository               string           `yaml:"repository"`
	CosignOCI11              bool             `yaml:"cosignOCI11"`
	Required                 *bool            `yaml:"required"`
	VerifyDigest             *bool            `yaml:"verifyDigest"`
	MutateDigest             *bool            `yaml:"mutateDigest"`
	UseCache                 yaml.Node        `yaml:"useCache" gate:"any"`
	FailureAction            string           `yaml:"failureAction"`
	ImageRegistryCredentials yaml.Node        `yaml:"imageRegistryCredentials" gate:"any"` // the gate authenticates with its own credentials
}

type rawAttestation struct {
	Name          string      `yaml:"name"`
	Type          string      `yaml:"type"`
	PredicateType string      `yaml:"predicateType"` // Kyverno's deprecated spelling of type
	Attestors     []rawAttSet `yaml:"attestors"`
	Conditions    []rawAnyAll `yaml:"conditions"`
}

type rawAnyAll struct {
	Any []rawCondition `yaml:"any"`
	All []rawCondition `yaml:"all"`
}

type rawCondition struct {
	Key      yaml.Node `yaml:"key" gate:"any"` // any YAML value; decoded by buildConditions
	Operator string    `yaml:"operator"`
	Value    yaml.Node `yaml:"value" gate:"any"` // any YAML value
	Message  string    `yaml:"message"`
}

type rawAttSet struct {
	Count   *int          `yaml:"count"`
	Entries []rawAttestor `yaml:"entries"`
}

type rawAttestor struct {
	Keyless            *rawKeyless       `yaml:"keyless"`
	Keys               *rawKeys          `yaml:"keys"`
	Certificates       *rawCerts         `yaml:"certificates"`
	Annotations        map[string]string `yaml:"annotations"`
	Repository         string            `yaml:"repository"`
	SignatureAlgorithm string            `yaml:"signatureAlgorithm"`
}

type rawKeyless struct {
	Issuer               string            `yaml:"issuer"`
	IssuerRegExp         string            `yaml:"issuerRegExp"`
	Subject              string            `yaml:"subject"`
	SubjectRegExp        string            `yaml:"subjectRegExp"`
	Roots                string            `yaml:"roots"`
	AdditionalExtensions map[string]string `yaml:"additionalExtensions"`
	Rekor                *rawRekor         `yaml:"rekor"`
	CTLog                *rawCTLog         `yaml:"ctlog"`
}

type rawKeys struct {
	PublicKeys         string    `yaml:"publicKeys"`
	SignatureAlgorithm string    `yaml:"signatureAlgorithm"`
	Rekor              *rawRekor `yaml:"rekor"`
	CTLog              *rawCTLog `yaml:"ctlog"`
}

type rawCerts struct {
	Cert      string    `yaml:"cert"`
	CertChain string    `yaml:"certChain"`
	Rekor     *rawRekor `yaml:"rekor"`
	CTLog     *rawCTLog `yaml:"ctlog"`
}

type rawRekor struct {
	URL        string `yaml:"url"`
	PubKey     string `yaml:"pubkey"`
	IgnoreTlog bool   `yaml:"ignoreTlog"`
}

type rawCTLog struct {
	IgnoreSCT    bool   `yaml:"ignoreSCT"`
	PubKey       string `yaml:"pubkey"`
	TSACertChain string `yaml:"tsaCertChain"`
}

// Set is every loaded policy.
type Set struct {
	Policies []*Policy
	// Ignored lists the files and directories a LoadOptions.Ignore pattern
	// kept from being read, with the pattern, so that a caller can show
	// what was not loaded.
	Ignored []string
	// Extractors are the rules' imageExtractors; they add image fields to
	// extraction (finding more images is never weaker).
	Extractors manifests.Extractors
	// Exceptions are the PolicyExceptions loaded beside the policies.
	Exceptions []*Exception
}

// Rules lists the rules of every policy.
func (s *Set) Rules() []*Rule {
	var out []*Rule
	for _, p := range s.Policies {
		out = append(out, p.Rules...)
	}
	return out
}

// LoadError is a problem in a policy file.
type LoadError struct {
	File  string
	Line  int
	Field string // path of the field, e.g. spec.rules[0].verifyImages[0].attestors
	Err   error
}

func (e *LoadError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %v", loc, e.Field, e.Err)
	}
	return fmt.Sprintf("%s: %v", loc, e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }

// ErrUnsupported marks a policy feature the gate does not implement.
var ErrUnsupported = errors.New("not supported by gitops-gate")

// LoadOptions change how Load reads policy directories.
type LoadOptions struct {
	// Ignore are glob patterns (path.Match syntax) of files or directories
	// inside a policy directory that are not policies, e.g.
	// "kustomization.yaml" or "tests/*". A pattern without a slash matches
	// a base name at any depth; one with a slash matches the path below
	// the policy directory. Without it, every YAML file there must hold
	// only policies: a misspelt kind is never skipped in silence.
	Ignore []string
	// NamespaceLabels are the labels of the cluster's namespaces, for
	// namespaceSelector; a selector on a namespace not listed here cannot
	// be decided, and the gate fails closed.
	NamespaceLabels map[string]map[string]string
	// KyvernoVersion is the cluster's Kyverno (e.g. 1.18.2); empty: the
	// newest behaviour. Older versions add warnings where they differ.
	KyvernoVersion string
}

// FrontEnd reads another policy format into the gate's rule model. Its
// kinds, of its API group, are read by Parse beside kyverno.io policies.
type FrontEnd interface {
	// Reads reports whether the front-end reads documents of apiVersion
	// and kind.
	Reads(apiVersion, kind string) bool
	// Parse reads one document. It returns the policies and the
	// exceptions it defines.
	Parse(file string, root *yaml.Node, o LoadOptions) ([]*Policy, []*Exception, error)
	// Link runs once over every loaded policy and exception (an exception
	// may be written in another file than its policy).
	Link(set *Set, o LoadOptions) error
}

var frontEnds []FrontEnd

// Register adds a front-end; called from the front-end package's init.
func Register(f FrontEnd) { frontEnds = append(frontEnds, f) }

func frontEndFor(apiVersion, kind string) FrontEnd {
	for _, f := range frontEnds {
		if f.Reads(apiVersion, kind) {
			return f
		}
	}
	return nil
}

// ErrNoRules marks a policy set that verifies nothing: no policy in it has
// a verifyImages rule, so every image would pass unverified.
var ErrNoRules = errors.New("no verifyImages rule: the gate would verify nothing")

// Load reads policies from files and directories (recursively, *.yaml and
// *.yml). Every problem is returned, joined.
func Load(paths ...string) (*Set, error) { return LoadWith(LoadOptions{}, paths...) }

// LoadWith is Load with options. A document that is not a known policy
// kind, a file with no policy, and a set with no verifyImages rule are
// errors; files matched by o.Ignore are listed in Set.Ignored, not read.
func LoadWith(o LoadOptions, paths ...string) (*Set, error) {
	for _, pat := range o.Ignore {
		if _, err := path.Match(pat, ""); err != nil || pat == "" {
			return nil, fmt.Errorf("policy ignore pattern %q: want a glob such as kustomization.yaml or tests/*", pat)
		}
	}
	set := &Set{}
	var errs []error
	for _, p := range paths {
		files, ignored, err := policyFiles(p, o.Ignore)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		set.Ignored = append(set.Ignored, ignored...)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			pols, excs, err := parseWith(f, data, o)
			errs = append(errs, err)
			set.Policies = append(set.Policies, pols...)
			set.Exceptions = append(set.Exceptions, excs...)
			for _, pol := range pols {
				set.Extractors = set.Extractors.Merge(pol.extractors)
			}
			if err == nil && len(pols) == 0 && len(excs) == 0 {
				errs = append(errs, &LoadError{File: f, Err: errors.New("no kyverno.io ClusterPolicy or Policy in this file")})
			}
		}
	}
	errs = append(errs, duplicatePolicies(set.Policies)...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, fe := range frontEnds {
		errs = append(errs, fe.Link(set, o))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(set.Policies) == 0 {
		return nil, fmt.Errorf("no policies found in %s", strings.Join(paths, ", "))
	}
	if len(set.Rules()) == 0 {
		var names []string
		for _, p := range set.Policies {
			names = append(names, p.Kind+" "+p.Name)
		}
		return nil, fmt.Errorf("%s: %w (loaded %s; each has only validate, mutate or generate rules)", strings.Join(paths, ", "), ErrNoRules, strings.Join(names, ", "))
	}
	return set, nil
}

// policyFiles lists the YAML files of p (p itself when it is a file), and
// the files and directories below p that an ignore pattern excludes.
func policyFiles(p string, ignore []string) (files, ignored []string, err error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, nil, err
	}
	if !st.IsDir() {
		return []string{p}, nil, nil
	}
	err = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if f == p {
			return nil
		}
		// A ConfigMap or Secret mounted as a volume holds each file twice:
		// in a timestamped "..2026_…" directory and as a symlink through
		// "..data". Kubernetes' atomic writer owns every ".." entry, so
		// reading them would load each policy twice.
		if strings.HasPrefix(d.Name(), "..") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(p, f)
		if pat := ignoredBy(filepath.ToSlash(rel), ignore); pat != "" {
			ignored = append(ignored, fmt.Sprintf("%s (ignored: %s)", f, pat))
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && (strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml")) {
			files = append(files, f)
		}
		return nil
	})
	sort.Strings(files)
	return files, ignored, err
}

// duplicatePolicies reports each policy defined twice. The cluster holds
// one object per kind, namespace and name, so two files defining it leave
// the gate unable to know which one admission runs.
func duplicatePolicies(pols []*Policy) []error {
	first := map[string]*Policy{}
	var errs []error
	for _, pol := range pols {
		key := pol.Kind + "/" + pol.Namespace + "/" + pol.Name
		if prev, ok := first[key]; ok {
			errs = append(errs, &LoadError{File: pol.File, Err: fmt.Errorf("%s %q is also defined in %s: the cluster holds only one of them, so which one admission runs is unknown", pol.Kind, pol.Name, prev.File)})
			continue
		}
		first[key] = pol
	}
	return errs
}

// ignoredBy returns the first pattern that matches rel (a slash-separated
// path below a policy directory), or "".
func ignoredBy(rel string, patterns []string) string {
	for _, pat := range patterns {
		target := rel
		if !strings.Contains(pat, "/") {
			target = path.Base(rel)
		}
		if ok, _ := path.Match(pat, target); ok {
			return pat
		}
	}
	return ""
}

// policyKinds are the kinds Parse reads, with their API group.
var policyKinds = []string{"ClusterPolicy", "Policy"}

// notAPolicy is the error for a document of another kind: a policy
// directory holds policies, and a misspelt kind must not drop a policy in
// silence.
func notAPolicy(file string, root *yaml.Node, apiVersion, kind string) error {
	le := &LoadError{File: file, Line: root.Line, Field: "kind"}
	hint := "; if this file is not a policy, exclude it with --policy-ignore (policyIgnore in the service's configuration)"
	switch {
	case root.Kind != yaml.MappingNode:
		le.Field = ""
		le.Err = fmt.Errorf("not a Kubernetes object (a %s): want a kyverno.io ClusterPolicy or Policy%s", root.ShortTag(), hint)
	case kind == "":
		le.Err = fmt.Errorf("missing: want ClusterPolicy or Policy of kyverno.io%s", hint)
	case contains(policyKinds, kind):
		le.Field, le.Line = "apiVersion", keyLine(root, "apiVersion")
		le.Err = fmt.Errorf("%q: a %s is read only from kyverno.io/v1 (or v2beta1)%s", apiVersion, kind, hint)
	default:
		le.Line = keyLine(root, "kind")
		did := ""
		if near := suggest.Nearest(kind, append(append([]string{}, policyKinds...), "ImageValidatingPolicy", "NamespacedImageValidatingPolicy", "PolicyException")); near != "" {
			did = "; did you mean " + near + "?"
		}
		le.Err = fmt.Errorf("%q (apiVersion %q) is not a policy kind gitops-gate reads (kyverno.io ClusterPolicy or Policy; policies.kyverno.io ImageValidatingPolicy, NamespacedImageValidatingPolicy or PolicyException)%s%s", kind, apiVersion, did, hint)
	}
	return le
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// Parse reads the policies of one file, the items of lists included. A
// document of another kind is an error (see LoadOptions.Ignore for files
// that are not policies); rules without verifyImages are Kyverno's, not the
// gate's, and are skipped.
func Parse(file string, data []byte) ([]*Policy, error) {
	pols, _, err := parseWith(file, data, LoadOptions{})
	return pols, err
}

// ParseSet reads one file into a set, exceptions and front-end linking
// included: what a test or a single --policy file needs.
func ParseSet(file string, data []byte, o LoadOptions) (*Set, error) {
	pols, excs, err := parseWith(file, data, o)
	if err != nil {
		return nil, err
	}
	set := &Set{Policies: pols, Exceptions: excs}
	for _, p := range pols {
		set.Extractors = set.Extractors.Merge(p.extractors)
	}
	var errs []error
	for _, fe := range frontEnds {
		errs = append(errs, fe.Link(set, o))
	}
	return set, errors.Join(errs...)
}

func parseWith(file string, data []byte, o LoadOptions) ([]*Policy, []*Exception, error) {
	var excs []*Exception
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*Policy
	var errs []error
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			le := &LoadError{File: file, Err: fmt.Errorf("invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))}
			if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
				fmt.Sscan(m[1], &le.Line)
			}
			errs = append(errs, le)
			break
		}
		if len(doc.Content) == 0 {
			continue
		}
		for _, root := range expandLists(doc.Content[0]) {
			var head struct {
				APIVersion string `yaml:"apiVersion"`
				Kind       string `yaml:"kind"`
			}
			_ = root.Decode(&head)
			if fe := frontEndFor(head.APIVersion, head.Kind); fe != nil {
				ps, es, err := fe.Parse(file, root, o)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				out = append(out, ps...)
				excs = append(excs, es...)
				continue
			}
			if !contains(policyKinds, head.Kind) || !strings.HasPrefix(head.APIVersion, "kyverno.io/") {
				errs = append(errs, notAPolicy(file, root, head.APIVersion, head.Kind))
				continue
			}
			p, err := parsePolicy(file, root)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, p)
		}
	}
	return out, excs, errors.Join(errs...)
}

// expandLists returns the objects a document holds: the document itself,
// or, for a list (kubectl get -o yaml writes apiVersion: v1, kind: List),
// its items, each expanded in turn. As apimachinery's meta.IsListType
// does, any object whose items is a sequence of objects is a list,
// whatever its kind: kubectl apply creates each item, so the cluster
// enforces the policies a list holds.
// A policy is never a list: an items field on one is for parsePolicy to
// refuse, not a reason to drop the policy.
func expandLists(root *yaml.Node) []*yaml.Node {
	items := mapValue(root, "items")
	if items == nil || items.Kind != yaml.SequenceNode {
		return []*yaml.Node{root}
	}
	if k := mapValue(root, "kind"); k != nil && (k.Value == "ClusterPolicy" || k.Value == "Policy") {
		return []*yaml.Node{root}
	}
	for _, it := range items.Content {
		if it.Kind != yaml.MappingNode {
			return []*yaml.Node{root}
		}
	}
	var out []*yaml.Node
	for _, it := range items.Content {
		out = append(out, expandLists(it)...)
	}
	return out
}

func parsePolicy(file string, root *yaml.Node) (*Policy, error) {
	if err := checkFields(file, root, reflect.TypeOf(rawPolicy{}), ""); err != nil {
		return nil, err
	}
	var raw rawPolicy
	if err := root.Decode(&raw); err != nil {
		return nil, &LoadError{File: file, Line: root.Line, Err: err}
	}
	if raw.APIVersion != "kyverno.io/v1" && raw.APIVersion != "kyverno.io/v2beta1" {
		return nil, &LoadError{File: file, Line: root.Line, Field: "apiVersion", Err: fmt.Errorf("%q: want kyverno.io/v1 (or v2beta1)", raw.APIVersion)}
	}
	if raw.Metadata.Name == "" {
		return nil, &LoadError{File: file, Line: root.Line, Field: "metadata.name", Err: fmt.Errorf("missing: a policy needs a name (Kyverno refuses it too)")}
	}
	p := &Policy{Kind: raw.Kind, Name: raw.Metadata.Name, File: file}
	if raw.Kind == "Policy" {
		p.Namespace = raw.Metadata.Namespace
		if p.Namespace == "" {
			p.Namespace = "default"
		}
	}
	specNode := mapValue(root, "spec")
	if raw.Spec.ApplyRules != "" && raw.Spec.ApplyRules != "All" {
		return nil, &LoadError{File: file, Line: keyLine(specNode, "applyRules"), Field: "spec.applyRules", Err: fmt.Errorf("%q: only All is %w", raw.Spec.ApplyRules, ErrUnsupported)}
	}
	var policyAudit bool
	switch raw.Spec.ValidationFailureAction {
	case "", "Audit", "audit":
		policyAudit = raw.Spec.ValidationFailureAction != ""
	case "Enforce", "enforce":
	default:
		return nil, &LoadError{File: file, Line: keyLine(specNode, "validationFailureAction"), Field: "spec.validationFailureAction", Err: fmt.Errorf("%q: want Enforce or Audit", raw.Spec.ValidationFailureAction)}
	}
	var errs []error
	for i, rn := range raw.Spec.Rules {
		if mapValue(&rn, "verifyImages") == nil {
			continue // a validate/mutate/generate rule: Kyverno's business, not the gate's
		}
		field := fmt.Sprintf("spec.rules[%d]", i)
		if err := checkFields(file, &rn, reflect.TypeOf(rawRule{}), field); err != nil {
			errs = append(errs, err)
			continue
		}
		var rr rawRule
		if err := rn.Decode(&rr); err != nil {
			errs = append(errs, &LoadError{File: file, Line: rn.Line, Field: field, Err: err})
			continue
		}
		r, err := buildRule(p, file, field, &rn, rr, policyAudit)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.Rules = append(p.Rules, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	applyAutogen(p, raw.Metadata.Annotations)
	return p, nil
}

// CheckFields is checkFields for front-ends: every key of node must be
// declared by the yaml tags of t (gate:"any" accepts a subtree unseen).
func CheckFields(file string, node *yaml.Node, t reflect.Type, path string) error {
	return checkFields(file, node, t, path)
}

// MapValue returns the value of key in a mapping node, or nil.
func MapValue(n *yaml.Node, key string) *yaml.Node { return mapValue(n, key) }

// checkFields walks node against the yaml tags of t and refuses any key t
// does not declare. Fields tagged gate:"any" are accepted without looking
// inside (settings that cannot change a verdict, or checked elsewhere).
func checkFields(file string, node *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if node == nil {
		return nil
	}
	if node.Kind == yaml.AliasNode {
		node = node.Alias
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == reflect.TypeOf(yaml.Node{}) {
			return nil
		}
		if node.Kind != yaml.MappingNode {
			if node.Tag == "!!null" {
				return nil
			}
			return &LoadError{File: file, Line: node.Line, Field: path, Err: fmt.Errorf("want a mapping, got %s", node.ShortTag())}
		}
		fields := map[string]reflect.StructField{}
		inlineAny := false
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")
			if len(tag) > 1 && tag[1] == "inline" {
				inlineAny = true
				continue
			}
			fields[tag[0]] = f
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			k := node.Content[i].Value
			f, ok := fields[k]
			sub := joinPath(path, k)
			if !ok {
				if inlineAny {
					continue
				}
				return &LoadError{File: file, Line: node.Content[i].Line, Field: sub, Err: fmt.Errorf("field is %w (known here: %s)", ErrUnsupported, strings.Join(knownKeys(fields), ", "))}
			}
			if f.Tag.Get("gate") == "any" {
				continue
			}
			if err := checkFields(file, node.Content[i+1], f.Type, sub); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if node.Kind != yaml.SequenceNode {
			if node.Tag == "!!null" {
				return nil
			}
			return &LoadError{File: file, Line: node.Line, Field: path, Err: fmt.Errorf("want a list, got %s", node.ShortTag())}
		}
		for i, e := range node.Content {
			if err := checkFields(file, e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func knownKeys(fields map[string]reflect.StructField) []string {
	var ks []string
	for k := range fields {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func keyLine(n *yaml.Node, key string) int {
	if n == nil || n.Kind != yaml.MappingNode {
		return 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i].Line
		}
	}
	if n != nil {
		return n.Line
	}
	return 0
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
