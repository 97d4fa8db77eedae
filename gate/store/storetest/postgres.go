package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// PostgresEnv names a PostgreSQL server to test against (a DSN). Without it
// the tests start a throwaway server from the local installation.
const PostgresEnv = "GITOPS_GATE_TEST_POSTGRES"

// RequirePostgresEnv, when set, turns "no PostgreSQL here" from a skip into
// a failure; make test sets it so the suite cannot silently shrink.
const RequirePostgresEnv = "GITOPS_GATE_REQUIRE_POSTGRES"

// Postgres returns a function that makes the DSN of a fresh, empty schema
// on a PostgreSQL server: the one named by $GITOPS_GATE_TEST_POSTGRES, or a
// throwaway server started on loopback in a temporary data directory and
// stopped when t ends.
func Postgres(t testing.TB) func(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		var err error
		base, err = startPostgres(t)
		if err != nil {
			if os.Getenv(RequirePostgresEnv) != "" {
				t.Fatalf("starting a throwaway PostgreSQL: %v", err)
			}
			t.Skipf("no PostgreSQL (set %s or install postgresql): %v", PostgresEnv, err)
		}
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	return func(t testing.TB) string {
		t.Helper()
		b := make([]byte, 6)
		rand.Read(b)
		schema := "gate_test_" + hex.EncodeToString(b)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
			t.Fatalf("creating schema: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
		})
		return withSearchPath(base, schema)
	}
}

func withSearchPath(dsn, schema string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

func findBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(m) == 0 {
		return "", fmt.Errorf("%s not found in PATH or /usr/lib/postgresql/*/bin", name)
	}
	return m[len(m)-1], nil
}

// startPostgres runs initdb and pg_ctl. PostgreSQL refuses to run as root,
// so under root it runs as the postgres user the Debian package creates.
func startPostgres(t testing.TB) (string, error) {
	initdb, err := findBin("initdb")
	if err != nil {
		return "", err
	}
	pgctl, err := findBin("pg_ctl")
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "gitops-gate-pg-")
	if err != nil {
		return "", err
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	wrap := func(args ...string) *exec.Cmd { return exec.Command(args[0], args[1:]...) }
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return "", fmt.Errorf("running as root and there is no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return "", err
		}
		wrap = func(args ...string) *exec.Cmd {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := wrap(initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb: %w\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s -c fsync=off -c full_page_writes=off -c max_connections=200", port, dir)
	if out, err := wrap(pgctl, "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		return "", fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	t.Cleanup(func() {
		if out, err := wrap(pgctl, "-D", data, "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
			t.Logf("pg_ctl stop: %v\n%s", err, out)
		}
	})
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	a, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("no TCP port")
	}
	return a.Port, nil
}
