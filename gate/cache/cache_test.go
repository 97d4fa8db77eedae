package cache

import (
	"testing"
	"time"
)

func TestMemoryExpiresAndBounds(t *testing.T) {
	now := time.Unix(1000, 0)
	m := NewMemory[int](2)
	m.now = func() time.Time { return now }
	m.Put("a", 1, time.Minute)
	if v, ok := m.Get("a"); !ok || v != 1 {
		t.Fatal("a missing")
	}
	now = now.Add(2 * time.Minute)
	if _, ok := m.Get("a"); ok {
		t.Error("a should have expired")
	}
	m.Put("b", 2, time.Hour)
	m.Put("c", 3, time.Hour)
	m.Put("d", 4, time.Hour)
	if len(m.entries) > 2 {
		t.Errorf("%d entries, max 2", len(m.entries))
	}
	m.Put("e", 5, 0)
	if _, ok := m.Get("e"); ok {
		t.Error("a zero TTL is not cached")
	}
}
