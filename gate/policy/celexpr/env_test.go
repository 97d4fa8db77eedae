package celexpr

import (
	"context"
	"errors"
	"strings"
	"testing"
)

type fakeFuncs struct{ verified map[string]int }

func (f fakeFuncs) VerifyImageSignatures(_ context.Context, image string, attestors []string) (int, error) {
	return f.verified[image+"|"+strings.Join(attestors, ",")], nil
}
func (f fakeFuncs) VerifyAttestationSignatures(_ context.Context, image, att string, attestors []string) (int, error) {
	return f.verified[image+"|"+att+"|"+strings.Join(attestors, ",")], nil
}
func (fakeFuncs) ExtractPayload(context.Context, string, string) (any, error) {
	return map[string]any{"predicate": map[string]any{"ok": true}}, nil
}
func (fakeFuncs) GetImageData(context.Context, string) (any, error) { return map[string]any{}, nil }

func TestFunctionsAndImageLibrary(t *testing.T) {
	env, err := NewPolicyEnv()
	if err != nil {
		t.Fatal(err)
	}
	p, err := env.Compile(`images.containers.map(i, verifyImageSignatures(i, [attestors.k])).all(n, n > 0) &&
  extractPayload(images.containers[0], attestations.sbom).predicate.ok &&
  parseImageReference(images.containers[0]).registry() == "ghcr.io"`, Bool)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]any{
		"images":       map[string][]string{"containers": {"ghcr.io/a/b:1"}},
		"attestors":    map[string]any{"k": map[string]any{"name": "k"}},
		"attestations": map[string]string{"sbom": "sbom"},
	}
	ok, err := p.EvalBool(context.Background(), vars, fakeFuncs{verified: map[string]int{"ghcr.io/a/b:1|k": 1}})
	if err != nil || !ok {
		t.Fatalf("got %v, %v; want true", ok, err)
	}
	ok, err = p.EvalBool(context.Background(), vars, fakeFuncs{verified: map[string]int{}})
	if err != nil || ok {
		t.Fatalf("unsigned: got %v, %v; want false", ok, err)
	}
}

func TestCompileErrorsHavePositions(t *testing.T) {
	env, _ := NewPolicyEnv()
	for expr, want := range map[string]string{
		`object.spec &&`:                    "line 1, column",
		"true &&\n  noSuchFunction(object)": "line 2, column 17 of the expression: undeclared reference to 'noSuchFunction'",
		`verifyImageSignatures(1, [])> 0`:   "found no matching overload for 'verifyImageSignatures'",
		`"a" + 1 == "b"`:                    "line 1, column 5",
	} {
		_, err := env.Compile(expr, Bool)
		var ce *CompileError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want a CompileError containing %q", expr, err, want)
		}
	}
	if _, err := env.Compile(`"a string"`, Bool); err == nil || !strings.Contains(err.Error(), "want bool") {
		t.Errorf("a string where a bool is needed: %v", err)
	}
}

func TestRunawayExpressionHitsCostLimit(t *testing.T) {
	env, _ := NewPolicyEnv()
	p, err := env.Compile(`[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, a+b+c+d+e+f > 0))))))`, Bool)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.EvalBool(context.Background(), nil, nil)
	if !errors.Is(err, ErrCostLimit) {
		t.Fatalf("err %v, want ErrCostLimit", err)
	}
}
