package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gate/gitops-gate/gate/store"
	"github.com/gitops-gate/gitops-gate/gate/store/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "gate.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestSQLiteMigrationsAreIdempotent(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gate.db")
	for i := 0; i < 2; i++ {
		s, err := store.OpenSQLite(context.Background(), p)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		s.Close()
	}
}

func TestPostgres(t *testing.T) {
	fresh := storetest.Postgres(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := store.OpenPostgres(context.Background(), fresh(t), store.PostgresOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestPostgresMigrationsAreIdempotentAndConcurrent(t *testing.T) {
	dsn := storetest.Postgres(t)(t)
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() {
			s, err := store.OpenPostgres(context.Background(), dsn, store.PostgresOptions{})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for i := 0; i < 3; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestPostgresBadDSNDoesNotLeakPassword(t *testing.T) {
	_, err := store.OpenPostgres(context.Background(), "postgres://u:s3cret@[::1", store.PostgresOptions{})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v", err)
	}
}

func TestNewIDSortsInCreationOrder(t *testing.T) {
	prev := store.NewID()
	for i := 0; i < 10000; i++ {
		id := store.NewID()
		if id <= prev {
			t.Fatalf("NewID %s after %s", id, prev)
		}
		prev = id
	}
}
