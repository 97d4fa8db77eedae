package ivpol

import (
	yaml "go.yaml.in/yaml/v3"

	"github.com/gitops-gate/gitops-gate/gate/policy"
)

// The raw shapes of what the gate reads. A key not declared here is a
// load error (policy.CheckFields); fields declared only to give a precise
// "not implemented" error are checked in build.

type rawPolicy struct {
	APIVersion string    `yaml:"apiVersion"`
	Kind       string    `yaml:"kind"`
	Metadata   rawMeta   `yaml:"metadata"`
	Spec       rawSpec   `yaml:"spec"`
	Status     yaml.Node `yaml:"status" gate:"any"`
}

type rawMeta = policy.RawMeta

type rawSpec struct {
	MatchConstraints         *rawMatchResources `yaml:"matchConstraints"`
	FailurePolicy            string             `yaml:"failurePolicy"`
	ValidationActions        []string           `yaml:"validationActions"`
	MatchConditions          []rawNamedExpr     `yaml:"matchConditions"`
	Variables                []rawNamedExpr     `yaml:"variables"`
	ValidationConfigurations rawValidationConf  `yaml:"validationConfigurations"`
	MatchImageReferences     []rawImageRef      `yaml:"matchImageReferences"`
	Images                   []rawNamedExpr     `yaml:"images"`
	Attestors                []rawAttestor      `yaml:"attestors"`
	Attestations             []rawAttestation   `yaml:"attestations"`
	Validations              []rawValidation    `yaml:"validations"`
	Evaluation               *rawEvaluation     `yaml:"evaluation"`
	Autogen                  *rawAutogen        `yaml:"autogen"`
	// Settings that cannot change what is admitted: annotations on audit
	// events, the webhook's timeout, and registry credentials (the gate
	// authenticates with its own).
	AuditAnnotations     yaml.Node `yaml:"auditAnnotations" gate:"any"`
	WebhookConfiguration yaml.Node `yaml:"webhookConfiguration" gate:"any"`
	Credentials          yaml.Node `yaml:"credentials" gate:"any"`
}

type rawMatchResources struct {
	ResourceRules        []rawResourceRule `yaml:"resourceRules"`
	ExcludeResourceRules []rawResourceRule `yaml:"excludeResourceRules"`
	NamespaceSelector    *rawSelector      `yaml:"namespaceSelector"`
	ObjectSelector       *rawSelector      `yaml:"objectSelector"`
	MatchPolicy          string            `yaml:"matchPolicy"`
}

type rawResourceRule struct {
	APIGroups     []string `yaml:"apiGroups"`
	APIVersions   []string `yaml:"apiVersions"`
	Resources     []string `yaml:"resources"`
	Operations    []string `yaml:"operations"`
	Scope         string   `yaml:"scope"`
	ResourceNames []string `yaml:"resourceNames"`
}

type rawSelector struct {
	MatchLabels      map[string]string `yaml:"matchLabels"`
	MatchExpressions []rawRequirement  `yaml:"matchExpressions"`
}

type rawRequirement struct {
	Key      string   `yaml:"key"`
	Operator string   `yaml:"operator"`
	Values   []string `yaml:"values"`
}

type rawNamedExpr struct {
	Name       string `yaml:"name"`
	Expression string `yaml:"expression"`
}

type rawValidationConf struct {
	MutateDigest *bool `yaml:"mutateDigest"`
	VerifyDigest *bool `yaml:"verifyDigest"`
	Required     *bool `yaml:"required"`
}

type rawImageRef struct {
	Glob       string `yaml:"glob"`
	Expression string `yaml:"expression"`
}

type rawAttestor struct {
	Name   string     `yaml:"name"`
	Cosign *rawCosign `yaml:"cosign"`
	Notary yaml.Node  `yaml:"notary" gate:"any"` // refused in build
}

type rawCosign struct {
	Key         *rawKey           `yaml:"key"`
	Keyless     *rawKeyless       `yaml:"keyless"`
	Certificate *rawCertificate   `yaml:"certificate"`
	Source      *rawSource        `yaml:"source"`
	CTLog       *rawCTLog         `yaml:"ctlog"`
	Annotations map[string]string `yaml:"annotations"`
	TUF         *rawTUF           `yaml:"tuf"`
	TrustedRoot *rawStringOrExpr  `yaml:"trustedRoot"`
}

// rawTUF is where Kyverno fetches Sigstore's trusted root through TUF:
// root is the initial root.json (a file path or URL, or base64 data), and
// mirror the repository's base URL.
type rawTUF struct {
	Root   rawTUFRoot `yaml:"root"`
	Mirror string     `yaml:"mirror"`
}

type rawTUFRoot struct {
	Path string `yaml:"path"`
	Data string `yaml:"data"`
}

type rawKey struct {
	Data          string `yaml:"data"`
	KMS           string `yaml:"kms"`
	HashAlgorithm string `yaml:"hashAlgorithm"`
	Expression    string `yaml:"expression"`
}

type rawKeyless struct {
	Identities           []rawIdentity `yaml:"identities"`
	Roots                string        `yaml:"roots"`
	AdditionalExtensions yaml.Node     `yaml:"additionalExtensions" gate:"any"` // refused in build
}

type rawIdentity struct {
	Issuer            string `yaml:"issuer"`
	Subject           string `yaml:"subject"`
	IssuerRegExp      string `yaml:"issuerRegExp"`
	SubjectRegExp     string `yaml:"subjectRegExp"`
	SubjectExpression string `yaml:"subjectExpression"`
}

type rawCertificate struct {
	Cert      *rawStringOrExpr `yaml:"cert"`
	CertChain *rawStringOrExpr `yaml:"certChain"`
}

type rawStringOrExpr struct {
	Value      string `yaml:"value"`
	Expression string `yaml:"expression"`
}

type rawSource struct {
	Repository string `yaml:"repository"`
	TagPrefix  string `yaml:"tagPrefix"`
	// Kyverno spells it with a capital P; the gate pulls with its own
	// credentials.
	PullSecrets yaml.Node `yaml:"PullSecrets" gate:"any"`
}

type rawCTLog struct {
	URL                string `yaml:"url"`
	RekorPubKey        string `yaml:"rekorPubKey"`
	CTLogPubKey        string `yaml:"ctLogPubKey"`
	TSACertChain       string `yaml:"tsaCertChain"`
	InsecureIgnoreTlog bool   `yaml:"insecureIgnoreTlog"`
	InsecureIgnoreSCT  bool   `yaml:"insecureIgnoreSCT"`
}

type rawAttestation struct {
	Name     string   `yaml:"name"`
	InToto   *rawType `yaml:"intoto"`
	Referrer *rawType `yaml:"referrer"`
}

type rawType struct {
	Type string `yaml:"type"`
}

type rawValidation struct {
	Expression        string `yaml:"expression"`
	Message           string `yaml:"message"`
	MessageExpression string `yaml:"messageExpression"`
	Reason            string `yaml:"reason"`
}

type rawEvaluation struct {
	Admission  *rawEnabled `yaml:"admission"`
	Background *rawEnabled `yaml:"background"`
	Mode       string      `yaml:"mode"`
}

type rawEnabled struct {
	Enabled *bool `yaml:"enabled"`
}

type rawAutogen struct {
	PodControllers *struct {
		Controllers []string `yaml:"controllers"`
	} `yaml:"podControllers"`
}

type rawException struct {
	APIVersion string           `yaml:"apiVersion"`
	Kind       string           `yaml:"kind"`
	Metadata   rawMeta          `yaml:"metadata"`
	Spec       rawExceptionSpec `yaml:"spec"`
	Status     yaml.Node        `yaml:"status" gate:"any"`
}

type rawExceptionSpec struct {
	PolicyRefs      []rawPolicyRef `yaml:"policyRefs"`
	MatchConditions []rawNamedExpr `yaml:"matchConditions"`
	Images          []string       `yaml:"images"`
	ExpiresAt       string         `yaml:"expiresAt"`
	// What a report says and why the exception exists: no effect on
	// admission.
	ReportResult yaml.Node `yaml:"reportResult" gate:"any"`
	Properties   yaml.Node `yaml:"properties" gate:"any"`
	// allowedValues are read by ValidatingPolicy expressions only.
	AllowedValues yaml.Node `yaml:"allowedValues" gate:"any"`
}

type rawPolicyRef struct {
	Name string `yaml:"name"`
	Kind string `yaml:"kind"`
}
