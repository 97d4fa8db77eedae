package chartsrc

import "testing"

// TestNormalizeKeepsPort: an allow-list entry for one registry port does
// not admit charts from another port of the same host.
func TestNormalizeKeepsPort(t *testing.T) {
	if normalize("oci://registry.example:5000/charts") == normalize("registry.example/charts") {
		t.Error("another port compares equal")
	}
	if normalize("oci://127.0.0.1:5000/charts") != normalize("127.0.0.1:5000/charts") {
		t.Error("oci:// and Argo CD's scheme-less form differ")
	}
}
