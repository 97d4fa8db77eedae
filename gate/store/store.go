// Package store is the gate's durable state: webhook deliveries
// (deduplicated by their delivery ID), evaluations with their reports, and
// the job queue that workers lease.
//
// Intake is one transaction: a delivery, its evaluation, the evaluation job
// and the "pending" commit status are written together or not at all, so an
// accepted delivery is never lost and never processed twice. Jobs are leased
// with a deadline; a worker that dies leaves its job to be leased again when
// the deadline passes, and a worker whose lease was taken over cannot
// complete it. Commit statuses go through the same queue (an outbox), one
// commit at a time in order, so that a late "pending" never overwrites a
// final state. A webhook evaluation of a newer state of a pull request
// (pull_request.updated_at) supersedes the queued webhook evaluation of an
// older one; API evaluations neither supersede nor are superseded, and run
// after webhook work.
//
// SQLite (modernc.org/sqlite, pure Go, WAL) is the embedded default.
package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Evaluation states.
const (
	StateQueued     = "queued"
	StateRunning    = "running"
	StateDone       = "done"
	StateSuperseded = "superseded"
	StateFailed     = "failed"
)

// Job kinds.
const (
	JobEvaluate = "evaluate"
	JobStatus   = "status"
	// JobComment updates the pull request comment of an evaluation (the
	// proposed pins); comment jobs of one pull request run in order.
	JobComment = "comment"
	// JobCheck is one step of a GitHub check run (create, start, complete,
	// a batch of annotations, or cancel); the check jobs of one commit and
	// check name run in order, like statuses.
	JobCheck = "check"
)

// Spec says what to evaluate.
type Spec struct {
	Repo           string   `json:"repo"`               // owner/name
	CloneURL       string   `json:"cloneUrl,omitempty"` // where to fetch from
	PR             int      `json:"pr,omitempty"`
	PRTitle        string   `json:"prTitle,omitempty"`
	SHA            string   `json:"sha"`
	Ref            string   `json:"ref,omitempty"` // refs/pull/N/head, refs/heads/main
	Trigger        string   `json:"trigger"`       // pull_request, push, api, argocd, demo
	InstallationID int64    `json:"installationId,omitempty"`
	Apps           []string `json:"apps,omitempty"` // limit to these app paths
	DeliveryID     string   `json:"deliveryId,omitempty"`
	// PRUpdatedAt is the webhook's pull_request.updated_at: an evaluation
	// supersedes only those of the pull request's older states.
	PRUpdatedAt time.Time `json:"prUpdatedAt,omitzero"`
	// Requester names the API token that asked (a digest, never the
	// token), for its quota of queued evaluations.
	Requester string `json:"requester,omitempty"`
	// Local is a directory to evaluate instead of fetching (demo mode).
	Local string `json:"local,omitempty"`
	// Application is the Argo CD Application source spec to render the
	// one app with (argocd.Spec, sent by the PreSync hook).
	Application json.RawMessage `json:"application,omitempty"`
	// BaseSHA is the commit the change starts from (the pull request's
	// base, the push's previous head): incremental evaluation prefers its
	// inventory as the base.
	BaseSHA string `json:"baseSha,omitempty"`
	// Full renders every app, whatever an earlier evaluation left.
	Full bool `json:"full,omitempty"`
}

// Evaluation is one evaluation as stored.
type Evaluation struct {
	ID         string          `json:"id"`
	Spec       Spec            `json:"source"`
	State      string          `json:"state"`
	Result     string          `json:"result,omitempty"` // pass, fail, error
	Summary    json.RawMessage `json:"summary,omitempty"`
	Report     json.RawMessage `json:"report,omitempty"`
	Error      string          `json:"error,omitempty"`
	CreatedAt  time.Time       `json:"createdAt"`
	StartedAt  *time.Time      `json:"startedAt,omitempty"`
	FinishedAt *time.Time      `json:"finishedAt,omitempty"`
	// SupersededBy is the evaluation that replaced this one.
	SupersededBy string `json:"supersededBy,omitempty"`
	// CheckRunID is the GitHub check run that reports this evaluation
	// (0: none, or not created yet).
	CheckRunID int64 `json:"checkRunId,omitempty"`
}

// Done reports whether the evaluation will not change any more.
func (e *Evaluation) Done() bool {
	return e.State == StateDone || e.State == StateSuperseded || e.State == StateFailed
}

// Status is a commit status to post (the outbox).
type Status struct {
	Repo           string `json:"repo"`
	SHA            string `json:"sha"`
	State          string `json:"state"` // pending, success, failure, error
	Description    string `json:"description"`
	Context        string `json:"context"`
	TargetURL      string `json:"targetUrl"`
	InstallationID int64  `json:"installationId,omitempty"`
}

func (s Status) key() string { return s.Repo + "@" + s.SHA + "@" + s.Context }

// Check-run operations (CheckRun.Op), in the order one evaluation queues
// them.
const (
	// CheckCreate creates the evaluation's check run, queued.
	CheckCreate = "create"
	// CheckStart moves it to in_progress.
	CheckStart = "start"
	// CheckComplete completes it with its conclusion, output and the first
	// batch of annotations.
	CheckComplete = "complete"
	// CheckAnnotate appends batch Batch (1, 2, ...) of the annotations.
	CheckAnnotate = "annotate"
	// CheckCancel completes the check run of a superseded evaluation.
	CheckCancel = "cancel"
)

// CheckRun is one step of a GitHub check run (the outbox). Its content
// (output, annotations) is derived from the evaluation's stored report
// when the step is posted, so a job stays small and a retry posts what the
// first attempt posted.
type CheckRun struct {
	Repo           string `json:"repo"`
	SHA            string `json:"sha"`
	Name           string `json:"name"`
	EvaluationID   string `json:"evaluationId"`
	InstallationID int64  `json:"installationId,omitempty"`
	Op             string `json:"op"`
	// Batch is the annotation batch a CheckAnnotate step appends.
	Batch int `json:"batch,omitempty"`
	// Conclusion of a CheckComplete or CheckCancel step.
	Conclusion string `json:"conclusion,omitempty"`
	// Actions are the identifiers of the buttons a CheckComplete step
	// offers.
	Actions []string `json:"actions,omitempty"`
	// DetailsURL is the evaluation page; SupersededBy the evaluation that
	// replaced a cancelled one.
	DetailsURL   string `json:"detailsUrl,omitempty"`
	SupersededBy string `json:"supersededBy,omitempty"`
}

// key orders the check steps of one commit and check name (a re-run's new
// check run waits for the previous one's steps), apart from statuses.
func (c CheckRun) key() string { return c.Repo + "@" + c.SHA + "@check:" + c.Name }

// Job is a leased unit of work.
type Job struct {
	ID           int64
	Kind         string
	EvaluationID string
	Status       *Status   // for JobStatus
	Check        *CheckRun // for JobCheck
	Attempts     int
}

// ImageRow is one image occurrence of an evaluation, for history queries.
type ImageRow struct {
	App        string `json:"app"`
	Image      string `json:"image"`
	Normalized string `json:"normalized,omitempty"`
	Digest     string `json:"digest,omitempty"`
	Status     string `json:"status"`
	Reason     string `json:"reason,omitempty"`
}

// ImageHistory is an image occurrence with its evaluation.
type ImageHistory struct {
	ImageRow
	EvaluationID string    `json:"evaluationId"`
	Repo         string    `json:"repo"`
	SHA          string    `json:"sha"`
	PR           int       `json:"pr,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
}

// Filter selects evaluations to list.
type Filter struct {
	Repo   string
	Result string
	PR     int
	Image  string // substring of an image reference
	Limit  int
	Offset int
}

// Triggers whose evaluations post commit statuses and supersede one
// another: signed webhooks. Every other trigger (api, argocd, demo) only
// reports through the API and the UI.
const (
	TriggerPullRequest = "pull_request"
	TriggerPush        = "push"
)

// FromWebhook reports whether an evaluation was triggered by a signed
// GitHub webhook.
func (s *Spec) FromWebhook() bool {
	return s.Trigger == TriggerPullRequest || s.Trigger == TriggerPush
}

// Intake is what arrives: a webhook delivery, an API request, or both.
//
// A webhook delivery is deduplicated three ways: by its delivery ID (a
// redelivery), by its body (the same signed body replayed under another
// ID), and by what it asks for (an evaluation of the same repository,
// commit, event and pull request that is still queued or running).
type Intake struct {
	DeliveryID string // empty for API requests: no deduplication
	Event      string
	Payload    []byte
	Spec       *Spec // nil: record the delivery only (ping, ignored events)
	// Statuses are queued with the new evaluation (the "pending" status).
	Statuses func(evalID string) []Status
	// Checks are the check-run steps queued with the new evaluation (its
	// check run, created queued).
	Checks func(evalID string) []CheckRun
	// Superseded gives the statuses to post for an older queued evaluation
	// of the same pull request that this one replaces; SupersededChecks
	// its check-run steps.
	Superseded       func(old *Evaluation, newID string) []Status
	SupersededChecks func(old *Evaluation, newID string) []CheckRun
	// CommentFor, with no Spec, queues a JobComment for that (finished)
	// evaluation under CommentKey, with the delivery, atomically: a
	// redelivered button press writes the comment once.
	CommentFor, CommentKey string
	// Quota, when positive and Spec.Requester is set, bounds the
	// evaluations of Spec.Requester that are queued or running; past it
	// Accept fails with ErrQuota.
	Quota int
}

// ErrQuota is returned when a requester has as many evaluations queued as
// its quota allows.
var ErrQuota = errors.New("too many evaluations queued")

// Finish is the outcome of an evaluation job, recorded with the statuses it
// produces in one transaction.
type Finish struct {
	Result   string
	Summary  json.RawMessage
	Report   json.RawMessage
	Error    string
	Images   []ImageRow
	Statuses []Status
	Checks   []CheckRun
	// CommentKey, when set, queues a JobComment for the evaluation, run in
	// order with the other comment jobs of the same key (its pull request).
	CommentKey string
	// Inventory, when set, is kept as a base for later evaluations of the
	// repository (incremental evaluation).
	Inventory *Inventory
}

// Inventory is an evaluation's rendered inventory with what each app was
// rendered from (gate/incremental's encoded Record). The store treats it as
// opaque bytes; Fingerprint (a digest of the gate's version, policies and
// rendering settings) selects the bases a later evaluation may use.
type Inventory struct {
	Fingerprint string
	Data        []byte
}

// StoredInventory is an Inventory as stored, with its evaluation.
type StoredInventory struct {
	Inventory
	EvaluationID string
	Repo, SHA    string
	CreatedAt    time.Time
}

// Store is the gate's durable state. Implementations are safe for
// concurrent use by many workers and processes.
type Store interface {
	// Accept records a delivery (when it has an ID) and, when it has a
	// spec, creates its evaluation, its job and its statuses, and supersedes
	// the queued webhook evaluations of older states of the same pull
	// request (by PRUpdatedAt), all atomically. Only a webhook pull request
	// evaluation supersedes, and only webhook pull request evaluations are
	// superseded. A delivery seen before (see Intake) returns
	// duplicate=true and queues nothing.
	Accept(ctx context.Context, in Intake) (evalID string, duplicate bool, err error)
	// Lease hands out the next runnable job, or nil: webhook work
	// (webhook evaluations, statuses, comments) before API evaluations.
	Lease(ctx context.Context, owner string, lease time.Duration) (*Job, error)
	// Extend keeps a lease alive during long work.
	Extend(ctx context.Context, job *Job, owner string, lease time.Duration) error
	// Start marks the job's evaluation running and queues checks (its
	// check run's in_progress step), atomically.
	Start(ctx context.Context, job *Job, owner string, checks ...CheckRun) error
	// SetCheckRunID records the GitHub check run of an evaluation.
	SetCheckRunID(ctx context.Context, evalID string, id int64) error
	// FinishEvaluation stores the outcome, queues its statuses and completes
	// the job, atomically; it fails if the lease was lost.
	FinishEvaluation(ctx context.Context, job *Job, owner string, f Finish) error
	// Complete marks a job done (status jobs).
	Complete(ctx context.Context, job *Job, owner string) error
	// Retry gives the job back to the queue, to run again after notBefore.
	Retry(ctx context.Context, job *Job, owner string, notBefore time.Time, lastErr string) error
	// Fail gives up on a job after too many attempts.
	Fail(ctx context.Context, job *Job, owner string, lastErr string) error

	// BaseInventory finds the inventory a new evaluation of repo starts
	// from: the newest with the fingerprint at one of the prefer commits
	// (the pull request's base, the push's previous commit), else the
	// newest with the fingerprint, else the newest of the repository,
	// whatever its fingerprint. ErrNotFound when the repository has none.
	BaseInventory(ctx context.Context, repo, fingerprint string, prefer []string) (*StoredInventory, error)

	Get(ctx context.Context, id string) (*Evaluation, error)
	List(ctx context.Context, f Filter) ([]*Evaluation, int, error)
	ImageHistory(ctx context.Context, image string, limit int) ([]ImageHistory, error)
	// Summaries sums up repositories for the list page: the last result
	// per branch or pull request, the pass rate and the most frequent
	// failing images since o.Since, with queries bounded by o.
	Summaries(ctx context.Context, o SummaryOptions) ([]RepoSummary, error)
	// QueueDepth counts runnable and leased jobs by kind.
	QueueDepth(ctx context.Context) (map[string]int, error)
	// Prune deletes evaluations (and their deliveries' payloads) finished
	// before t.
	Prune(ctx context.Context, before time.Time) (int, error)
	Ping(ctx context.Context) error
	Close() error
}

// ErrNotFound is returned for an unknown evaluation.
var ErrNotFound = errors.New("not found")

// ErrLeaseLost is returned when another worker has taken over the job.
var ErrLeaseLost = errors.New("lease lost")

// NewID returns a time-ordered random identifier.
func NewID() string {
	idMu.Lock()
	defer idMu.Unlock()
	var b [12]byte
	ms := uint64(time.Now().UnixMilli())
	if ms <= idLast.ms {
		// Same millisecond (or the clock stepped back): count up from the
		// last ID so IDs made by one process sort in the order they were made.
		ms = idLast.ms
		idLast.seq++
	} else {
		var r [6]byte
		_, _ = rand.Read(r[:])
		// The top bit stays clear so counting up never overflows into the time.
		idLast.seq = binary.BigEndian.Uint64(append([]byte{0, 0}, r[:]...)) >> 1
	}
	idLast.ms = ms
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	seq := idLast.seq
	for i := 11; i >= 6; i-- {
		b[i] = byte(seq)
		seq >>= 8
	}
	return hex.EncodeToString(b[:])
}

var (
	idMu   sync.Mutex
	idLast struct{ ms, seq uint64 }
)

// Open opens the store a configuration names: driver "sqlite" (dsn is the
// database file) or "postgres" (dsn is a libpq URL or key=value string).
func Open(ctx context.Context, driver, dsn string) (Store, error) {
	switch driver {
	case "", "sqlite":
		return OpenSQLite(ctx, dsn)
	case "postgres", "postgresql":
		return OpenPostgres(ctx, dsn, PostgresOptions{})
	}
	return nil, fmt.Errorf("store driver %q: want sqlite or postgres", driver)
}
