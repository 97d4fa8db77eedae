package celexpr

import (
	"context"
	"errors"
	"strings"
	"sync"
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

// TestConcurrentEvaluationsUseTheirOwnFunctions: a program is planned once
// and its verification functions read the evaluation's own Funcs, so two
// evaluations at once never see each other's answers (a signed image's
// answer must never reach an unsigned one's evaluation).
func TestConcurrentEvaluationsUseTheirOwnFunctions(t *testing.T) {
	env, err := NewPolicyEnv()
	if err != nil {
		t.Fatal(err)
	}
	p, err := env.Compile(`images.containers.map(i, verifyImageSignatures(i, [attestors.k])).all(n, n > 0)`, Bool)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]any{
		"images":    map[string][]string{"containers": {"ghcr.io/a/b:1"}},
		"attestors": map[string]any{"k": map[string]any{"name": "k"}},
	}
	signed := fakeFuncs{verified: map[string]int{"ghcr.io/a/b:1|k": 1}}
	unsigned := fakeFuncs{verified: map[string]int{}}
	var wg sync.WaitGroup
	for i := 0; i < 400; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, want := Funcs(signed), true
			if i%2 == 1 {
				f, want = unsigned, false
			}
			ok, err := p.EvalBool(context.Background(), vars, f)
			if err != nil || ok != want {
				t.Errorf("evaluation %d: got %v, %v; want %v", i, ok, err, want)
			}
		}()
	}
	wg.Wait()
	// No functions: calling one is an error, not another evaluation's answer.
	if _, err := p.EvalBool(context.Background(), vars, nil); err == nil {
		t.Error("an evaluation without functions verified an image")
	}
}
