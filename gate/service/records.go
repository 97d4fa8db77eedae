package service

import (
	"crypto/sha256"
	"sync"

	"github.com/gitops-gate/gitops-gate/gate/incremental"
)

// records keeps the most recently used decoded inventory records, by the hash of the
// bytes stored for them. A pull request starts from its base's record:
// decoding a 5,000-app record takes about 0.3 s, and it came before the
// base's tags could start resolving. The record an evaluation has just
// made is usually the next one's base, so it is kept as it is stored.
//
// A kept record is shared by the evaluations that start from it, at once:
// evaluations only read their base (gate's TestBaseRecordIsNeverModified
// holds that), and the key is the stored bytes, so a record is only ever
// served for exactly what the store holds.
type records struct {
	mu      sync.Mutex
	entries []recordEntry // least recently used first
}

type recordEntry struct {
	sum [sha256.Size]byte
	rec *incremental.Record
}

// keptRecords bounds the records kept: a few repositories' newest, each
// some tens of MiB decoded at monorepo scale.
const keptRecords = 4

// decode returns the record stored as data, decoded once.
func (c *records) decode(data []byte) (*incremental.Record, error) {
	sum := sha256.Sum256(data)
	if rec := c.hit(sum); rec != nil {
		return rec, nil
	}
	rec, err := incremental.Decode(data)
	if err != nil {
		return nil, err
	}
	c.keep(sum, rec)
	return rec, nil
}

// hit returns the record kept under sum, made the most recent: a branch's
// base serves one pull request after another, each of which keeps its own
// record, and must not be the first to go.
func (c *records) hit(sum [sha256.Size]byte) *incremental.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.entries {
		if e.sum == sum {
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), e)
			return e.rec
		}
	}
	return nil
}

// put keeps rec, stored as data.
func (c *records) put(data []byte, rec *incremental.Record) { c.keep(sha256.Sum256(data), rec) }

func (c *records) keep(sum [sha256.Size]byte, rec *incremental.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.entries {
		if e.sum == sum {
			c.entries = append(c.entries[:i], c.entries[i+1:]...)
			break
		}
	}
	c.entries = append(c.entries, recordEntry{sum, rec})
	if len(c.entries) > keptRecords {
		c.entries = c.entries[len(c.entries)-keptRecords:]
	}
}
