package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgresOptions tunes OpenPostgres.
type PostgresOptions struct {
	// MaxConns bounds the pool; 0 means 10.
	MaxConns int
}

// OpenPostgres connects to the PostgreSQL database named by dsn (a URL or
// key=value string, as libpq accepts) and applies the schema migrations.
// Several replicas may share the database: jobs are leased with
// SELECT … FOR UPDATE SKIP LOCKED and migrations take an advisory lock.
func OpenPostgres(ctx context.Context, dsn string, opts PostgresOptions) (*SQL, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included.
		return nil, fmt.Errorf("parsing the PostgreSQL DSN: invalid connection string")
	}
	db := stdlib.OpenDB(*cfg)
	if opts.MaxConns <= 0 {
		opts.MaxConns = 10
	}
	db.SetMaxOpenConns(opts.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	where := fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to %s: %w", where, err)
	}
	s := &SQL{db: db, dialect: dialectPostgres, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating %s: %w", where, err)
	}
	return s, nil
}
