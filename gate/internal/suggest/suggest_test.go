package suggest

import "testing"

func TestNearest(t *testing.T) {
	for _, c := range []struct {
		word  string
		cands []string
		want  string
	}{
		{"repo", []string{"repos", "defaults", "listen"}, "repos"},
		{"ClusterPolcy", []string{"ClusterPolicy", "Policy"}, "ClusterPolicy"},
		{"clusterpolicy", []string{"ClusterPolicy", "Policy"}, "ClusterPolicy"},
		{"leaseTimout", []string{"leaseTimeout", "listen"}, "leaseTimeout"},
		{"Deployment", []string{"ClusterPolicy", "Policy"}, ""},
		{"dns", []string{"driver", "dsn"}, "dsn"},
		{"x", nil, ""},
		{"ab", []string{"xy"}, ""},
	} {
		if got := Nearest(c.word, c.cands); got != c.want {
			t.Errorf("Nearest(%q) = %q, want %q", c.word, got, c.want)
		}
	}
}
