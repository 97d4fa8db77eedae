// Package cache keeps verification results between evaluations, keyed by
// digest and the exact attestor (and trust root) they were checked against.
// A positive result lives for a TTL bounded by the validity of the trust
// material; a negative one for a short TTL, so that an image signed after a
// failed check passes soon. Operational errors are never cached, and tag
// resolution is not cached here at all.
package cache

import (
	"sync"
	"time"
)

// Cache stores values with an expiry. Implementations must be safe for
// concurrent use; the store can back one later.
type Cache[V any] interface {
	Get(key string) (V, bool)
	Put(key string, v V, ttl time.Duration)
}

// Memory is an in-process Cache bounded in entries.
type Memory[V any] struct {
	mu      sync.Mutex
	max     int
	now     func() time.Time
	entries map[string]entry[V]
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// NewMemory returns a cache of at most max entries (default 10,000).
func NewMemory[V any](max int) *Memory[V] {
	if max <= 0 {
		max = 10_000
	}
	return &Memory[V]{max: max, now: time.Now, entries: map[string]entry[V]{}}
}

// Get returns a live entry.
func (m *Memory[V]) Get(key string) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || !m.now().Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put stores v for ttl. When full, expired entries go first, then any.
func (m *Memory[V]) Put(key string, v V, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.entries) >= m.max {
		now := m.now()
		for k, e := range m.entries {
			if !now.Before(e.expires) {
				delete(m.entries, k)
			}
		}
		for k := range m.entries {
			if len(m.entries) < m.max {
				break
			}
			delete(m.entries, k)
		}
	}
	m.entries[key] = entry[V]{v: v, expires: m.now().Add(ttl)}
}
