package celexpr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/functions"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
	kimage "github.com/kyverno/sdk/extensions/cel/libs/image"
)

// CostLimit bounds the runtime cost of one expression, as the Kubernetes
// API server bounds a ValidatingAdmissionPolicy expression (PerCallLimit).
// An expression that exceeds it is an error: it never passes.
const CostLimit = 1_000_000

// Overload ids of the image-verification functions, as Kyverno names them
// (kyverno/kyverno pkg/cel/libs/imageverify/lib.go).
const (
	overloadVerifySignatures   = "verify_image_signature_string_stringarray"
	overloadVerifyAttestations = "verify_image_attestations_string_string_stringarray"
	overloadPayload            = "payload_string_string"
	overloadImageData          = "get_image_data_string"
)

// Funcs implements the image-verification functions for one evaluation.
// Attestor arguments are the names of the policy's attestors; the
// attestation argument the name of one of its attestations.
type Funcs interface {
	VerifyImageSignatures(ctx context.Context, image string, attestors []string) (int, error)
	VerifyAttestationSignatures(ctx context.Context, image, attestation string, attestors []string) (int, error)
	ExtractPayload(ctx context.Context, image, attestation string) (any, error)
	GetImageData(ctx context.Context, image string) (any, error)
}

// Env is a compiled-in CEL environment.
type Env struct{ env *cel.Env }

func baseOptions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.DefaultUTCTimeZone(true),
		cel.OptionalTypes(),
		ext.Strings(), ext.Sets(), ext.Lists(), ext.Math(), ext.Encoders(),
		kimage.Lib(kimage.Latest()),
	}
}

// NewPolicyEnv is the environment of an IVPOL's matchConditions,
// variables, images extractors and validations, and of a PolicyException's
// matchConditions (kyverno/kyverno pkg/image/verification/evaluator
// compiler.go createBaseIvpolEnv, Kubernetes mode).
func NewPolicyEnv() (*Env, error) {
	opts := append(baseOptions(),
		cel.Variable("object", cel.DynType),
		cel.Variable("oldObject", cel.DynType),
		cel.Variable("request", cel.DynType),
		cel.Variable("namespaceObject", cel.DynType),
		cel.Variable("images", cel.MapType(cel.StringType, cel.ListType(cel.StringType))),
		cel.Variable("attestors", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("attestations", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("variables", cel.MapType(cel.StringType, cel.DynType)),
		cel.Function("verifyImageSignatures", cel.Overload(overloadVerifySignatures,
			[]*cel.Type{cel.StringType, cel.ListType(cel.DynType)}, cel.IntType)),
		cel.Function("verifyAttestationSignatures", cel.Overload(overloadVerifyAttestations,
			[]*cel.Type{cel.StringType, cel.StringType, cel.ListType(cel.DynType)}, cel.IntType)),
		cel.Function("extractPayload", cel.Overload(overloadPayload,
			[]*cel.Type{cel.StringType, cel.StringType}, cel.DynType)),
		cel.Function("getImageData", cel.Overload(overloadImageData,
			[]*cel.Type{cel.StringType}, cel.DynType)),
	)
	e, err := cel.NewEnv(opts...)
	return &Env{e}, err
}

// NewRefEnv is the environment of a matchImageReferences expression: the
// image reference as written, in the variable ref
// (kyverno/kyverno pkg/cel/compiler NewMatchImageEnv).
func NewRefEnv() (*Env, error) {
	e, err := cel.NewEnv(append(baseOptions(), cel.Variable("ref", cel.StringType))...)
	return &Env{e}, err
}

// Position is where in an expression a problem is: 1-based line and column.
type Position struct{ Line, Column int }

// CompileError is a type or syntax error of an expression.
type CompileError struct {
	Pos     Position
	Message string
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("CEL error at line %d, column %d of the expression: %s", e.Pos.Line, e.Pos.Column, e.Message)
}

// Program is a compiled expression.
type Program struct {
	env  *Env
	ast  *cel.Ast
	Expr string
	// planned holds planned programs whose function bindings read a slot,
	// so that an evaluation sets the slot instead of planning the
	// expression again (planning was most of a carried-over image's CEL
	// cost). A planned program is used by one evaluation at a time.
	planned sync.Pool
}

// slot is what a planned program's verification functions call through.
type slot struct {
	ctx context.Context
	f   Funcs
}

type planned struct {
	prg  cel.Program
	slot *slot
}

// Type is a CEL type.
type Type = cel.Type

// Result types an expression may be required to have.
var (
	Bool   = cel.BoolType
	Dyn    = cel.DynType
	String = cel.StringType
)

// Compile type-checks expr. want, when not nil, is the type the expression
// must have (dyn is accepted, as Kubernetes accepts it). The first error is
// returned as a *CompileError with its position.
func (e *Env) Compile(expr string, want *cel.Type) (*Program, error) {
	ast, iss := e.env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		errs := iss.Errors()
		if len(errs) == 0 {
			return nil, iss.Err()
		}
		first := errs[0]
		loc := first.Location
		return nil, &CompileError{Pos: Position{Line: loc.Line(), Column: loc.Column() + 1}, Message: first.Message}
	}
	if want != nil && !ast.OutputType().IsExactType(cel.DynType) && !ast.OutputType().IsAssignableType(want) {
		return nil, &CompileError{Pos: Position{Line: 1, Column: 1}, Message: fmt.Sprintf("the expression is of type %s, want %s", ast.OutputType(), want)}
	}
	return &Program{env: e, ast: ast, Expr: expr}, nil
}

// ErrCostLimit marks an expression stopped by the cost limit.
var ErrCostLimit = errors.New("CEL expression exceeded its cost limit (runaway expression)")

// Eval runs the program with vars and the verification functions f (nil:
// calling one is an error). Cost beyond CostLimit is ErrCostLimit.
func (p *Program) Eval(ctx context.Context, vars map[string]any, f Funcs) (ref.Val, error) {
	if f == nil {
		f = nofuncs{}
	}
	pl, _ := p.planned.Get().(*planned)
	if pl == nil {
		sl := &slot{}
		prg, err := p.env.env.Program(p.ast, cel.CostLimit(CostLimit), cel.InterruptCheckFrequency(100), cel.Functions(bindings(sl, p.env.env)...))
		if err != nil {
			return nil, err
		}
		pl = &planned{prg: prg, slot: sl}
	}
	pl.slot.ctx, pl.slot.f = ctx, f
	defer func() {
		pl.slot.ctx, pl.slot.f = nil, nil
		p.planned.Put(pl)
	}()
	out, _, err := pl.prg.ContextEval(ctx, vars)
	if err != nil {
		if strings.Contains(err.Error(), "cost limit exceeded") {
			return nil, fmt.Errorf("%w: %v", ErrCostLimit, err)
		}
		return nil, err
	}
	return out, nil
}

// EvalBool runs a boolean expression.
func (p *Program) EvalBool(ctx context.Context, vars map[string]any, f Funcs) (bool, error) {
	v, err := p.Eval(ctx, vars, f)
	if err != nil {
		return false, err
	}
	b, ok := v.(types.Bool)
	if !ok {
		return false, fmt.Errorf("the expression gave %s, want a bool", v.Type().TypeName())
	}
	return bool(b), nil
}

// Native converts a value to plain Go (maps, lists, strings, numbers).
func Native(v ref.Val) (any, error) {
	return convert(v)
}

type nofuncs struct{}

var errNoFuncs = errors.New("image verification functions cannot be called here")

func (nofuncs) VerifyImageSignatures(context.Context, string, []string) (int, error) {
	return 0, errNoFuncs
}
func (nofuncs) VerifyAttestationSignatures(context.Context, string, string, []string) (int, error) {
	return 0, errNoFuncs
}
func (nofuncs) ExtractPayload(context.Context, string, string) (any, error) { return nil, errNoFuncs }
func (nofuncs) GetImageData(context.Context, string) (any, error)           { return nil, errNoFuncs }

func bindings(sl *slot, env *cel.Env) []*functions.Overload {
	adapt := env.CELTypeAdapter()
	wrap := func(v any, err error) ref.Val {
		if err != nil {
			return types.WrapErr(err)
		}
		return adapt.NativeToValue(v)
	}
	return []*functions.Overload{
		{Operator: overloadVerifySignatures, Binary: func(img, atts ref.Val) ref.Val {
			s, ok := img.(types.String)
			if !ok {
				return types.MaybeNoSuchOverloadErr(img)
			}
			names, err := attestorNames(atts)
			if err != nil {
				return types.WrapErr(err)
			}
			n, err := sl.f.VerifyImageSignatures(sl.ctx, string(s), names)
			return wrap(n, err)
		}},
		{Operator: overloadVerifyAttestations, Function: func(args ...ref.Val) ref.Val {
			if len(args) != 3 {
				return types.NewErr("function usage: <image> <attestation> <attestor list>")
			}
			s, ok1 := args[0].(types.String)
			a, ok2 := args[1].(types.String)
			if !ok1 || !ok2 {
				return types.NewErr("verifyAttestationSignatures: want (string, string, list)")
			}
			names, err := attestorNames(args[2])
			if err != nil {
				return types.WrapErr(err)
			}
			n, err := sl.f.VerifyAttestationSignatures(sl.ctx, string(s), string(a), names)
			return wrap(n, err)
		}},
		{Operator: overloadPayload, Binary: func(img, att ref.Val) ref.Val {
			s, ok1 := img.(types.String)
			a, ok2 := att.(types.String)
			if !ok1 || !ok2 {
				return types.NewErr("extractPayload: want (string, string)")
			}
			return wrap(sl.f.ExtractPayload(sl.ctx, string(s), string(a)))
		}},
		{Operator: overloadImageData, Unary: func(img ref.Val) ref.Val {
			s, ok := img.(types.String)
			if !ok {
				return types.MaybeNoSuchOverloadErr(img)
			}
			return wrap(sl.f.GetImageData(sl.ctx, string(s)))
		}},
	}
}

// attestorNames reads the attestor list argument: attestors.<name> values
// (maps with a name), or plain names.
func attestorNames(v ref.Val) ([]string, error) {
	n, err := convert(v)
	if err != nil {
		return nil, err
	}
	list, ok := n.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list of attestors, got %T", n)
	}
	var out []string
	for i, e := range list {
		switch a := e.(type) {
		case string:
			out = append(out, a)
		case map[string]any:
			name, _ := a["name"].(string)
			if name == "" {
				return nil, fmt.Errorf("attestor %d of the list has no name: pass attestors.<name>", i)
			}
			out = append(out, name)
		default:
			return nil, fmt.Errorf("attestor %d of the list is a %T: pass attestors.<name>", i, e)
		}
	}
	return out, nil
}
