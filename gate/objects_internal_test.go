package gate

import (
	"reflect"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// TestDecodedObjectsAreNeverShared: a recorded object is decoded once and
// kept, but every caller gets its own copy: what one evaluation does to an
// object never reaches another's.
func TestDecodedObjectsAreNeverShared(t *testing.T) {
	const text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n  labels: {tier: web}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n      - {name: c, image: x}\n      nodeSelector: {1: one}\n"
	var want map[string]any
	if err := yaml.Unmarshal([]byte(text), &want); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		got := decodeObject(text) // the first decodes and keeps; the others hit the kept one
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("call %d: a caller's change reached this caller:\n%v\nwant\n%v", i, got, want)
		}
		// Mutate everything reachable in this copy.
		got["metadata"].(map[string]any)["labels"].(map[string]any)["tier"] = "batch"
		tmpl := got["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
		tmpl["containers"].([]any)[0].(map[string]any)["image"] = "evil"
		tmpl["nodeSelector"].(map[any]any)[1] = "two"
	}
	if decodeObject("- not\n- a map\n") != nil {
		t.Error("a list decoded as an object")
	}
}
