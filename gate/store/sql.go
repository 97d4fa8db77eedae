package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SQL is the Store on a database/sql database: SQLite (embedded, the
// default) or PostgreSQL (several replicas sharing one database). The
// queries are written once, with ? placeholders, and rebound per dialect.
type SQL struct {
	db      *sql.DB
	dialect dialect
	now     func() time.Time
}

var _ Store = (*SQL)(nil)

type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

// rb rebinds ? placeholders to PostgreSQL's $n. No query here has a ?
// inside a string literal, so a plain scan is enough.
func (s *SQL) rb(q string) string {
	if s.dialect != dialectPostgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// skipLocked lets concurrent replicas lease different jobs instead of
// queueing behind one another's row locks.
func (s *SQL) skipLocked() string {
	if s.dialect == dialectPostgres {
		return " FOR UPDATE OF j SKIP LOCKED"
	}
	return ""
}

// forUpdate locks the rows a read-then-write transaction depends on.
// SQLite needs nothing: its write transactions are serialised (_txlock=immediate).
func (s *SQL) forUpdate() string {
	if s.dialect == dialectPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// migrations are written in SQLite's types; ddl translates them for PostgreSQL.
var migrations = []string{
	`CREATE TABLE deliveries (
		id TEXT PRIMARY KEY,
		event TEXT NOT NULL,
		received_at INTEGER NOT NULL,
		payload BLOB,
		evaluation_id TEXT NOT NULL DEFAULT ''
	);
	CREATE TABLE evaluations (
		id TEXT PRIMARY KEY,
		repo TEXT NOT NULL,
		pr INTEGER NOT NULL DEFAULT 0,
		sha TEXT NOT NULL,
		trigger TEXT NOT NULL,
		spec TEXT NOT NULL,
		state TEXT NOT NULL,
		result TEXT NOT NULL DEFAULT '',
		summary TEXT,
		report BLOB,
		error TEXT NOT NULL DEFAULT '',
		superseded_by TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL,
		started_at INTEGER,
		finished_at INTEGER
	);
	CREATE INDEX evaluations_created ON evaluations(created_at DESC);
	CREATE INDEX evaluations_repo_pr ON evaluations(repo, pr);
	CREATE TABLE jobs (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		kind TEXT NOT NULL,
		evaluation_id TEXT NOT NULL DEFAULT '',
		status TEXT,
		status_key TEXT NOT NULL DEFAULT '',
		state TEXT NOT NULL,
		owner TEXT NOT NULL DEFAULT '',
		lease_until INTEGER NOT NULL DEFAULT 0,
		not_before INTEGER NOT NULL DEFAULT 0,
		attempts INTEGER NOT NULL DEFAULT 0,
		last_error TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL
	);
	CREATE INDEX jobs_runnable ON jobs(state, id);
	CREATE INDEX jobs_status_key ON jobs(status_key, state);
	CREATE TABLE evaluation_images (
		evaluation_id TEXT NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
		app TEXT NOT NULL,
		image TEXT NOT NULL,
		normalized TEXT NOT NULL DEFAULT '',
		digest TEXT NOT NULL DEFAULT '',
		status TEXT NOT NULL,
		reason TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX evaluation_images_image ON evaluation_images(image);
	CREATE INDEX evaluation_images_digest ON evaluation_images(digest);
	CREATE INDEX evaluation_images_eval ON evaluation_images(evaluation_id);`,
	// 2: replayed bodies, pull request order, webhook priority, API quotas.
	`ALTER TABLE deliveries ADD COLUMN body_hash TEXT NOT NULL DEFAULT '';
	CREATE INDEX deliveries_body_hash ON deliveries(body_hash);
	ALTER TABLE evaluations ADD COLUMN pr_updated_at INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE evaluations ADD COLUMN requester TEXT NOT NULL DEFAULT '';
	CREATE INDEX evaluations_requester ON evaluations(requester, state);
	CREATE INDEX evaluations_coalesce ON evaluations(repo, sha, state);
	ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
	CREATE INDEX jobs_runnable_priority ON jobs(state, priority, id);`,
	// 3: the per-repository summary reads the window from indexes, and
	// the list filtered by result or state counts and pages from one.
	`CREATE INDEX evaluations_repo_created ON evaluations(repo, created_at, state, result, id);
	CREATE INDEX evaluations_result_created ON evaluations(result, created_at);
	CREATE INDEX evaluations_state_created ON evaluations(state, created_at);`,
	// 4: the GitHub check run of an evaluation.
	`ALTER TABLE evaluations ADD COLUMN check_run_id INTEGER NOT NULL DEFAULT 0;`,
	// 5: inventories with their input sets, for incremental evaluation.
	`CREATE TABLE evaluation_inventories (
		evaluation_id TEXT PRIMARY KEY REFERENCES evaluations(id) ON DELETE CASCADE,
		repo TEXT NOT NULL,
		sha TEXT NOT NULL,
		fingerprint TEXT NOT NULL,
		data BLOB NOT NULL,
		created_at INTEGER NOT NULL
	);
	CREATE INDEX evaluation_inventories_repo ON evaluation_inventories(repo, fingerprint, created_at);
	CREATE INDEX evaluation_inventories_sha ON evaluation_inventories(repo, sha);`,
}

// Job priorities: lower runs first.
const (
	priorityWebhook = 0 // webhook evaluations, statuses, comments
	priorityAPI     = 1 // API and Argo CD evaluations
)

// migrationLock is the pg_advisory_xact_lock key that keeps replicas
// starting together from applying the same migration twice.
const migrationLock = 0x6761746530

func (s *SQL) ddl(m string) []string {
	if s.dialect == dialectPostgres {
		m = strings.NewReplacer("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY", "BLOB", "BYTEA", "INTEGER", "BIGINT").Replace(m)
	}
	var out []string
	for _, st := range strings.Split(m, ";") {
		if st = strings.TrimSpace(st); st != "" {
			out = append(out, st)
		}
	}
	return out
}

func (s *SQL) migrate(ctx context.Context) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if s.dialect == dialectPostgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(`+fmt.Sprint(migrationLock)+`)`); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.ddl(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`)[0]); err != nil {
			return err
		}
		for i, m := range migrations {
			v := i + 1
			var n int
			if err := tx.QueryRowContext(ctx, s.rb(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			for _, st := range s.ddl(m) {
				if _, err := tx.ExecContext(ctx, st); err != nil {
					return fmt.Errorf("migration %d: %w", v, err)
				}
			}
			if _, err := tx.ExecContext(ctx, s.rb(`INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)`), v, s.now().UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *SQL) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// Accept implements Store.
func (s *SQL) Accept(ctx context.Context, in Intake) (string, bool, error) {
	now := s.now()
	var evalID string
	duplicate := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if in.DeliveryID != "" {
			hash := ""
			if len(in.Payload) > 0 {
				h := sha256.Sum256(in.Payload)
				hash = hex.EncodeToString(h[:])
			}
			res, err := tx.ExecContext(ctx, s.rb(`INSERT INTO deliveries(id, event, received_at, payload, body_hash) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`),
				in.DeliveryID, in.Event, ms(now), in.Payload, hash)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				duplicate = true
				return tx.QueryRowContext(ctx, s.rb(`SELECT evaluation_id FROM deliveries WHERE id = ?`), in.DeliveryID).Scan(&evalID)
			}
			if hash != "" {
				// The same signed body under a new delivery ID is a replay:
				// GitHub's own redeliveries keep their ID.
				err := tx.QueryRowContext(ctx, s.rb(`SELECT evaluation_id FROM deliveries WHERE body_hash = ? AND id <> ? ORDER BY received_at LIMIT 1`),
					hash, in.DeliveryID).Scan(&evalID)
				if err == nil {
					duplicate = true
					return s.linkDelivery(ctx, tx, in.DeliveryID, evalID)
				}
				if !errors.Is(err, sql.ErrNoRows) {
					return err
				}
			}
		}
		if in.Spec == nil {
			if in.CommentFor == "" {
				return nil
			}
			evalID = in.CommentFor
			if err := s.linkDelivery(ctx, tx, in.DeliveryID, evalID); err != nil {
				return err
			}
			return s.insertComment(ctx, tx, in.CommentFor, in.CommentKey, now)
		}
		if in.DeliveryID != "" {
			// A second delivery asking for what is already queued or
			// running adds nothing.
			err := tx.QueryRowContext(ctx, s.rb(`SELECT id FROM evaluations WHERE repo = ? AND sha = ? AND state IN ('queued', 'running') AND trigger = ? AND pr = ? ORDER BY created_at LIMIT 1`),
				in.Spec.Repo, in.Spec.SHA, in.Spec.Trigger, in.Spec.PR).Scan(&evalID)
			if err == nil {
				duplicate = true
				return s.linkDelivery(ctx, tx, in.DeliveryID, evalID)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if in.Quota > 0 && in.Spec.Requester != "" {
			if err := s.checkQuota(ctx, tx, in.Spec.Requester, in.Quota); err != nil {
				return err
			}
		}
		evalID = NewID()
		spec, _ := json.Marshal(in.Spec)
		var updated int64
		if !in.Spec.PRUpdatedAt.IsZero() {
			updated = ms(in.Spec.PRUpdatedAt)
		}
		if _, err := tx.ExecContext(ctx, s.rb(`INSERT INTO evaluations(id, repo, pr, sha, trigger, spec, state, created_at, pr_updated_at, requester) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			evalID, in.Spec.Repo, in.Spec.PR, in.Spec.SHA, in.Spec.Trigger, string(spec), StateQueued, ms(now), updated, in.Spec.Requester); err != nil {
			return err
		}
		if in.DeliveryID != "" {
			if err := s.linkDelivery(ctx, tx, in.DeliveryID, evalID); err != nil {
				return err
			}
		}
		if in.Spec.PR > 0 && in.Spec.Trigger == TriggerPullRequest && updated > 0 {
			if s.dialect == dialectPostgres {
				// Two replicas accepting two commits of one pull request at
				// once would each miss the other's uncommitted evaluation.
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, fmt.Sprintf("%s#%d", in.Spec.Repo, in.Spec.PR)); err != nil {
					return err
				}
			}
			if err := s.supersede(ctx, tx, in, evalID, updated, now); err != nil {
				return err
			}
		}
		priority := priorityAPI
		if in.Spec.FromWebhook() {
			priority = priorityWebhook
		}
		if _, err := tx.ExecContext(ctx, s.rb(`INSERT INTO jobs(kind, evaluation_id, state, created_at, priority) VALUES (?, ?, 'queued', ?, ?)`), JobEvaluate, evalID, ms(now), priority); err != nil {
			return err
		}
		if in.Statuses != nil {
			if err := s.insertStatuses(ctx, tx, in.Statuses(evalID), now); err != nil {
				return err
			}
		}
		if in.Checks != nil {
			return s.insertChecks(ctx, tx, in.Checks(evalID), now)
		}
		return nil
	})
	return evalID, duplicate, err
}

func (s *SQL) linkDelivery(ctx context.Context, tx *sql.Tx, deliveryID, evalID string) error {
	_, err := tx.ExecContext(ctx, s.rb(`UPDATE deliveries SET evaluation_id = ? WHERE id = ?`), evalID, deliveryID)
	return err
}

// checkQuota fails with ErrQuota when requester has quota evaluations
// queued or running.
func (s *SQL) checkQuota(ctx context.Context, tx *sql.Tx, requester string, quota int) error {
	if s.dialect == dialectPostgres {
		// Replicas accepting for one requester at once would each count
		// without the other's uncommitted evaluation.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "quota:"+requester); err != nil {
			return err
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, s.rb(`SELECT COUNT(*) FROM evaluations WHERE requester = ? AND state IN ('queued', 'running')`), requester).Scan(&n); err != nil {
		return err
	}
	if n >= quota {
		return fmt.Errorf("%w: %d of %d", ErrQuota, n, quota)
	}
	return nil
}

// supersede retires the queued (not yet started) webhook evaluations of
// other commits of the same pull request that describe an older state of
// it (pull_request.updated_at): the order is the pull request's, not the
// order deliveries arrive in, so a late or replayed delivery of an older
// head never retires the current one. API and Argo CD evaluations are
// neither superseded nor superseding.
func (s *SQL) supersede(ctx context.Context, tx *sql.Tx, in Intake, newID string, updated int64, now time.Time) error {
	rows, err := tx.QueryContext(ctx, s.rb(`SELECT j.id, e.id, e.spec FROM jobs j JOIN evaluations e ON e.id = j.evaluation_id
		WHERE j.kind = ? AND j.state = 'queued' AND e.repo = ? AND e.pr = ? AND e.sha <> ? AND e.id <> ?
		  AND e.trigger = ? AND e.pr_updated_at > 0 AND e.pr_updated_at < ?`),
		JobEvaluate, in.Spec.Repo, in.Spec.PR, in.Spec.SHA, newID, TriggerPullRequest, updated)
	if err != nil {
		return err
	}
	type old struct {
		job  int64
		eval Evaluation
	}
	var olds []old
	for rows.Next() {
		var o old
		var spec string
		if err := rows.Scan(&o.job, &o.eval.ID, &spec); err != nil {
			rows.Close()
			return err
		}
		json.Unmarshal([]byte(spec), &o.eval.Spec)
		olds = append(olds, o)
	}
	rows.Close()
	for _, o := range olds {
		if _, err := tx.ExecContext(ctx, s.rb(`UPDATE jobs SET state = 'superseded' WHERE id = ?`), o.job); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.rb(`UPDATE evaluations SET state = ?, superseded_by = ?, finished_at = ? WHERE id = ?`),
			StateSuperseded, newID, ms(now), o.eval.ID); err != nil {
			return err
		}
		o.eval.State = StateSuperseded
		if in.Superseded != nil {
			if err := s.insertStatuses(ctx, tx, in.Superseded(&o.eval, newID), now); err != nil {
				return err
			}
		}
		if in.SupersededChecks != nil {
			if err := s.insertChecks(ctx, tx, in.SupersededChecks(&o.eval, newID), now); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *SQL) insertStatuses(ctx context.Context, tx *sql.Tx, sts []Status, now time.Time) error {
	for _, st := range sts {
		b, _ := json.Marshal(st)
		if _, err := tx.ExecContext(ctx, s.rb(`INSERT INTO jobs(kind, status, status_key, state, created_at) VALUES (?, ?, ?, 'queued', ?)`),
			JobStatus, string(b), st.key(), ms(now)); err != nil {
			return err
		}
	}
	return nil
}

// insertChecks queues check-run steps in the outbox, ordered per commit
// and check name. The evaluation ID travels in the step, not in the job's
// evaluation_id: a step that gives up must not fail its evaluation.
func (s *SQL) insertChecks(ctx context.Context, tx *sql.Tx, cs []CheckRun, now time.Time) error {
	for _, c := range cs {
		b, _ := json.Marshal(c)
		if _, err := tx.ExecContext(ctx, s.rb(`INSERT INTO jobs(kind, status, status_key, state, created_at) VALUES (?, ?, ?, 'queued', ?)`),
			JobCheck, string(b), c.key(), ms(now)); err != nil {
			return err
		}
	}
	return nil
}

// insertComment queues the comment job of an evaluation, in order with the
// other comment jobs of key (its pull request).
func (s *SQL) insertComment(ctx context.Context, tx *sql.Tx, evalID, key string, now time.Time) error {
	_, err := tx.ExecContext(ctx, s.rb(`INSERT INTO jobs(kind, evaluation_id, status_key, state, created_at) VALUES (?, ?, ?, 'queued', ?)`),
		JobComment, evalID, "comment@"+key, ms(now))
	return err
}

// Lease implements Store. Expired leases are taken over; status jobs of one
// commit and context, and comment jobs of one pull request, run strictly in
// order.
func (s *SQL) Lease(ctx context.Context, owner string, lease time.Duration) (*Job, error) {
	now := s.now()
	row := s.db.QueryRowContext(ctx, s.rb(`UPDATE jobs SET state = 'leased', owner = ?, lease_until = ?, attempts = attempts + 1
		WHERE id = (
			SELECT j.id FROM jobs j
			WHERE ((j.state = 'queued' AND j.not_before <= ?) OR (j.state = 'leased' AND j.lease_until < ?))
			  AND (j.status_key = '' OR NOT EXISTS (
				SELECT 1 FROM jobs p WHERE p.status_key = j.status_key AND p.id < j.id AND p.state IN ('queued', 'leased')))
			ORDER BY j.priority, j.id LIMIT 1`+s.skipLocked()+`)
		RETURNING id, kind, evaluation_id, status, attempts`),
		owner, ms(now.Add(lease)), ms(now), ms(now))
	var j Job
	var status sql.NullString
	if err := row.Scan(&j.ID, &j.Kind, &j.EvaluationID, &status, &j.Attempts); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, err
	}
	if status.Valid {
		var into any = &j.Status
		if j.Kind == JobCheck {
			into = &j.Check
		}
		if err := json.Unmarshal([]byte(status.String), into); err != nil {
			return nil, err
		}
	}
	return &j, nil
}

func (s *SQL) owned(ctx context.Context, tx *sql.Tx, job *Job, owner string) error {
	var st, o string
	if err := tx.QueryRowContext(ctx, s.rb(`SELECT state, owner FROM jobs WHERE id = ?`+s.forUpdate()), job.ID).Scan(&st, &o); err != nil {
		return err
	}
	if st != "leased" || o != owner {
		return ErrLeaseLost
	}
	return nil
}

// Extend implements Store.
func (s *SQL) Extend(ctx context.Context, job *Job, owner string, lease time.Duration) error {
	res, err := s.db.ExecContext(ctx, s.rb(`UPDATE jobs SET lease_until = ? WHERE id = ? AND owner = ? AND state = 'leased'`), ms(s.now().Add(lease)), job.ID, owner)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrLeaseLost
	}
	return nil
}

// Start implements Store. The in_progress step is queued only when the
// evaluation starts for the first time: a job taken over after a crash
// does not move its check run again.
func (s *SQL) Start(ctx context.Context, job *Job, owner string, checks ...CheckRun) error {
	now := s.now()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.owned(ctx, tx, job, owner); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.rb(`UPDATE evaluations SET state = ?, started_at = ? WHERE id = ? AND state = 'queued'`),
			StateRunning, ms(now), job.EvaluationID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // already running (a taken-over job) or finished
		}
		return s.insertChecks(ctx, tx, checks, now)
	})
}

// SetCheckRunID implements Store.
func (s *SQL) SetCheckRunID(ctx context.Context, evalID string, id int64) error {
	_, err := s.db.ExecContext(ctx, s.rb(`UPDATE evaluations SET check_run_id = ? WHERE id = ?`), id, evalID)
	return err
}

// FinishEvaluation implements Store.
func (s *SQL) FinishEvaluation(ctx context.Context, job *Job, owner string, f Finish) error {
	now := s.now()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.owned(ctx, tx, job, owner); err != nil {
			return err
		}
		state := StateDone
		if f.Result == "" {
			state = StateFailed
		}
		if _, err := tx.ExecContext(ctx, s.rb(`UPDATE evaluations SET state = ?, result = ?, summary = ?, report = ?, error = ?, finished_at = ? WHERE id = ?`),
			state, f.Result, nullJSON(f.Summary), []byte(f.Report), f.Error, ms(now), job.EvaluationID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.rb(`DELETE FROM evaluation_images WHERE evaluation_id = ?`), job.EvaluationID); err != nil {
			return err
		}
		for _, im := range f.Images {
			if _, err := tx.ExecContext(ctx, s.rb(`INSERT INTO evaluation_images(evaluation_id, app, image, normalized, digest, status, reason) VALUES (?, ?, ?, ?, ?, ?, ?)`),
				job.EvaluationID, im.App, im.Image, im.Normalized, im.Digest, im.Status, im.Reason); err != nil {
				return err
			}
		}
		if f.Inventory != nil {
			if err := s.insertInventory(ctx, tx, job.EvaluationID, f.Inventory, now); err != nil {
				return err
			}
		}
		if err := s.insertStatuses(ctx, tx, f.Statuses, now); err != nil {
			return err
		}
		if err := s.insertChecks(ctx, tx, f.Checks, now); err != nil {
			return err
		}
		if f.CommentKey != "" {
			if err := s.insertComment(ctx, tx, job.EvaluationID, f.CommentKey, now); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, s.rb(`UPDATE jobs SET state = 'done', owner = '' WHERE id = ?`), job.ID)
		return err
	})
}

// keptInventories bounds the inventories kept per repository: a base is
// most useful when recent, and each is up to a few MiB.
const keptInventories = 20

func (s *SQL) insertInventory(ctx context.Context, tx *sql.Tx, evalID string, inv *Inventory, now time.Time) error {
	var repo, sha string
	if err := tx.QueryRowContext(ctx, s.rb(`SELECT repo, sha FROM evaluations WHERE id = ?`), evalID).Scan(&repo, &sha); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.rb(`DELETE FROM evaluation_inventories WHERE evaluation_id = ?`), evalID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.rb(`INSERT INTO evaluation_inventories(evaluation_id, repo, sha, fingerprint, data, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
		evalID, repo, sha, inv.Fingerprint, inv.Data, ms(now)); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, s.rb(`DELETE FROM evaluation_inventories WHERE repo = ? AND evaluation_id NOT IN (
		SELECT evaluation_id FROM evaluation_inventories WHERE repo = ? ORDER BY created_at DESC, evaluation_id DESC LIMIT ?)`), repo, repo, keptInventories)
	return err
}

// BaseInventory implements Store: the newest inventory of repo with the
// fingerprint at one of the commits preferred, else the newest with the
// fingerprint, else the newest at all (whose fingerprint then says why it
// cannot be used).
func (s *SQL) BaseInventory(ctx context.Context, repo, fingerprint string, prefer []string) (*StoredInventory, error) {
	const cols = `SELECT evaluation_id, repo, sha, fingerprint, data, created_at FROM evaluation_inventories WHERE repo = ?`
	type query struct {
		where string
		args  []any
	}
	var qs []query
	if len(prefer) > 0 {
		in := strings.TrimSuffix(strings.Repeat("?, ", len(prefer)), ", ")
		args := []any{repo, fingerprint}
		for _, p := range prefer {
			args = append(args, p)
		}
		qs = append(qs, query{` AND fingerprint = ? AND sha IN (` + in + `)`, args})
	}
	qs = append(qs, query{` AND fingerprint = ?`, []any{repo, fingerprint}}, query{``, []any{repo}})
	for _, q := range qs {
		var inv StoredInventory
		var created int64
		err := s.db.QueryRowContext(ctx, s.rb(cols+q.where+` ORDER BY created_at DESC, evaluation_id DESC LIMIT 1`), q.args...).
			Scan(&inv.EvaluationID, &inv.Repo, &inv.SHA, &inv.Fingerprint, &inv.Data, &created)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		inv.CreatedAt = time.UnixMilli(created).UTC()
		return &inv, nil
	}
	return nil, ErrNotFound
}

func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// Complete implements Store.
func (s *SQL) Complete(ctx context.Context, job *Job, owner string) error {
	return s.setJob(ctx, job, owner, `UPDATE jobs SET state = 'done' WHERE id = ?`)
}

// Retry implements Store.
func (s *SQL) Retry(ctx context.Context, job *Job, owner string, notBefore time.Time, lastErr string) error {
	return s.setJob(ctx, job, owner, `UPDATE jobs SET state = 'queued', owner = '', not_before = ?, last_error = ? WHERE id = ?`, ms(notBefore), lastErr)
}

// Fail implements Store.
func (s *SQL) Fail(ctx context.Context, job *Job, owner string, lastErr string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.owned(ctx, tx, job, owner); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.rb(`UPDATE jobs SET state = 'failed', last_error = ? WHERE id = ?`), lastErr, job.ID); err != nil {
			return err
		}
		if job.EvaluationID == "" || job.Kind != JobEvaluate {
			// Only an evaluation job that gives up fails its evaluation;
			// a comment that could not be written leaves the verdict alone.
			return nil
		}
		_, err := tx.ExecContext(ctx, s.rb(`UPDATE evaluations SET state = ?, error = ?, finished_at = ? WHERE id = ?`), StateFailed, lastErr, ms(s.now()), job.EvaluationID)
		return err
	})
}

func (s *SQL) setJob(ctx context.Context, job *Job, owner, query string, args ...any) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.owned(ctx, tx, job, owner); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.rb(query), append(args, job.ID)...)
		return err
	})
}

const evalColumns = `id, spec, state, result, summary, report, error, superseded_by, created_at, started_at, finished_at, check_run_id`

func scanEval(sc interface{ Scan(...any) error }, withReport bool) (*Evaluation, error) {
	var e Evaluation
	var spec string
	var summary sql.NullString
	var report []byte
	var started, finished sql.NullInt64
	var created int64
	if err := sc.Scan(&e.ID, &spec, &e.State, &e.Result, &summary, &report, &e.Error, &e.SupersededBy, &created, &started, &finished, &e.CheckRunID); err != nil {
		return nil, err
	}
	json.Unmarshal([]byte(spec), &e.Spec)
	if summary.Valid {
		e.Summary = json.RawMessage(summary.String)
	}
	if withReport && len(report) > 0 {
		e.Report = json.RawMessage(report)
	}
	e.CreatedAt = time.UnixMilli(created).UTC()
	if started.Valid {
		t := time.UnixMilli(started.Int64).UTC()
		e.StartedAt = &t
	}
	if finished.Valid {
		t := time.UnixMilli(finished.Int64).UTC()
		e.FinishedAt = &t
	}
	return &e, nil
}

// Get implements Store.
func (s *SQL) Get(ctx context.Context, id string) (*Evaluation, error) {
	e, err := scanEval(s.db.QueryRowContext(ctx, s.rb(`SELECT `+evalColumns+` FROM evaluations WHERE id = ?`), id), true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return e, err
}

// List implements Store: newest first.
func (s *SQL) List(ctx context.Context, f Filter) ([]*Evaluation, int, error) {
	var where []string
	var args []any
	if f.Repo != "" {
		where, args = append(where, "repo = ?"), append(args, f.Repo)
	}
	if f.Result != "" {
		if f.Result == StateQueued || f.Result == StateRunning || f.Result == StateSuperseded {
			where, args = append(where, "state = ?"), append(args, f.Result)
		} else {
			where, args = append(where, "result = ?"), append(args, f.Result)
		}
	}
	if f.PR > 0 {
		where, args = append(where, "pr = ?"), append(args, f.PR)
	}
	if f.Image != "" {
		where, args = append(where, "id IN (SELECT evaluation_id FROM evaluation_images WHERE image LIKE ? ESCAPE '\\')"), append(args, "%"+escapeLike(f.Image)+"%")
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.db.QueryRowContext(ctx, s.rb(`SELECT COUNT(*) FROM evaluations`+cond), args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	rows, err := s.db.QueryContext(ctx, s.rb(`SELECT `+evalColumns+` FROM evaluations`+cond+` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`),
		append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*Evaluation
	for rows.Next() {
		e, err := scanEval(rows, false)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, e)
	}
	return out, total, rows.Err()
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ImageHistory implements Store: occurrences of an image reference or
// digest, newest first.
func (s *SQL) ImageHistory(ctx context.Context, image string, limit int) ([]ImageHistory, error) {
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	rows, err := s.db.QueryContext(ctx, s.rb(`SELECT i.app, i.image, i.normalized, i.digest, i.status, i.reason, e.id, e.repo, e.sha, e.pr, e.created_at
		FROM evaluation_images i JOIN evaluations e ON e.id = i.evaluation_id
		WHERE i.image = ? OR i.digest = ? OR i.normalized = ?
		ORDER BY e.created_at DESC LIMIT ?`), image, image, image, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ImageHistory
	for rows.Next() {
		var h ImageHistory
		var created int64
		if err := rows.Scan(&h.App, &h.Image, &h.Normalized, &h.Digest, &h.Status, &h.Reason, &h.EvaluationID, &h.Repo, &h.SHA, &h.PR, &created); err != nil {
			return nil, err
		}
		h.CreatedAt = time.UnixMilli(created).UTC()
		out = append(out, h)
	}
	return out, rows.Err()
}

// QueueDepth implements Store.
func (s *SQL) QueueDepth(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, s.rb(`SELECT kind, COUNT(*) FROM jobs WHERE state IN ('queued', 'leased') GROUP BY kind`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{JobEvaluate: 0, JobStatus: 0}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// Prune implements Store. Deliveries are kept (they are the deduplication
// record) but lose their payloads.
func (s *SQL) Prune(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.rb(`DELETE FROM evaluations WHERE finished_at IS NOT NULL AND finished_at < ?`), ms(before))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		if _, err := tx.ExecContext(ctx, s.rb(`DELETE FROM jobs WHERE state IN ('done', 'superseded', 'failed') AND created_at < ?`), ms(before)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.rb(`UPDATE deliveries SET payload = NULL WHERE received_at < ?`), ms(before))
		return err
	})
	return int(n), err
}

// Ping implements Store.
func (s *SQL) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close implements Store.
func (s *SQL) Close() error { return s.db.Close() }
