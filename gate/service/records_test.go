package service

import (
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/incremental"
)

// TestRecordsDecodeOnce: a stored record is decoded once and served by
// the hash of exactly what is stored; the one an evaluation made is served
// without decoding; only the newest few are kept; bad data is an error.
func TestRecordsDecodeOnce(t *testing.T) {
	var c records
	enc := func(name string) []byte {
		data, err := incremental.Encode(&incremental.Record{Version: incremental.FormatVersion, Apps: []incremental.AppRecord{{Definition: name}}})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	a := enc("a")
	r1, err := c.decode(a)
	if err != nil || r1.Apps[0].Definition != "a" {
		t.Fatalf("decode: %v", err)
	}
	if r2, _ := c.decode(append([]byte(nil), a...)); r2 != r1 {
		t.Error("the same stored bytes were decoded again")
	}
	if r, _ := c.decode(enc("b")); r == r1 || r.Apps[0].Definition != "b" {
		t.Error("other bytes served the kept record")
	}
	made := &incremental.Record{Version: incremental.FormatVersion}
	c.put(enc("made"), made)
	if r, _ := c.decode(enc("made")); r != made {
		t.Error("the record an evaluation made was decoded again")
	}
	// A base that serves one pull request after another stays, though
	// each pull request keeps a record of its own.
	for _, n := range []string{"c", "d", "e", "f"} {
		if r, _ := c.decode(a); r != r1 {
			t.Fatalf("the base in use was dropped before %s", n)
		}
		c.put(enc(n), &incremental.Record{Version: incremental.FormatVersion})
	}
	if len(c.entries) != keptRecords {
		t.Errorf("%d records kept, want %d", len(c.entries), keptRecords)
	}
	if r, _ := c.decode(enc("b")); r.Apps[0].Definition != "b" {
		t.Error("b decoded wrong")
	}
	for _, n := range []string{"g", "h", "i", "j"} {
		c.put(enc(n), &incremental.Record{Version: incremental.FormatVersion})
	}
	if r, _ := c.decode(a); r == r1 {
		t.Error("the least recently used record was still kept past the bound")
	}
	if _, err := c.decode([]byte("not gzip")); err == nil {
		t.Error("bad data decoded")
	}
}
