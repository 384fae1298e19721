package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migration is one step of the schema. Steps are never edited once
// released: a change is a new step at the end. Statements are portable SQL;
// {{id}} is the dialect's auto-increment primary key.
type migration struct {
	version int
	name    string
	stmts   []string
	// only holds statements for one dialect ("sqlite" or "postgres"), run
	// before stmts: what portable SQL cannot say, such as changing a CHECK
	// constraint.
	only map[string][]string
}

var migrations = []migration{
	{version: 1, name: "initial schema", stmts: []string{
		`CREATE TABLE tenants (
			id {{id}},
			name TEXT NOT NULL UNIQUE,
			created_at BIGINT NOT NULL,
			retention_policy TEXT NOT NULL,
			lock_settings TEXT NOT NULL
		)`,
		`CREATE TABLE accounts (
			id {{id}},
			username TEXT NOT NULL UNIQUE,
			role TEXT NOT NULL CHECK (role IN ('operator', 'tenant_admin', 'auditor')),
			tenant_id BIGINT REFERENCES tenants (id),
			password_hash TEXT NOT NULL,
			totp_secret TEXT,
			created_at BIGINT NOT NULL,
			disabled_at BIGINT,
			CHECK (role <> 'operator' OR tenant_id IS NULL),
			CHECK (role <> 'tenant_admin' OR tenant_id IS NOT NULL)
		)`,
		`CREATE TABLE agents (
			id {{id}},
			tenant_id BIGINT NOT NULL REFERENCES tenants (id),
			host TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			revoked_at BIGINT
		)`,
		`CREATE INDEX agents_tenant ON agents (tenant_id)`,
		`CREATE TABLE api_tokens (
			id {{id}},
			selector TEXT NOT NULL UNIQUE,
			token_hash TEXT NOT NULL,
			account_id BIGINT REFERENCES accounts (id),
			agent_id BIGINT REFERENCES agents (id),
			name TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			expires_at BIGINT,
			last_used_at BIGINT,
			CHECK ((account_id IS NULL) <> (agent_id IS NULL))
		)`,
		`CREATE INDEX api_tokens_account ON api_tokens (account_id)`,
		`CREATE INDEX api_tokens_agent ON api_tokens (agent_id)`,
		`CREATE TABLE enrolment_tokens (
			id {{id}},
			selector TEXT NOT NULL UNIQUE,
			token_hash TEXT NOT NULL,
			tenant_id BIGINT NOT NULL REFERENCES tenants (id),
			created_at BIGINT NOT NULL,
			expires_at BIGINT NOT NULL,
			used_at BIGINT,
			agent_id BIGINT REFERENCES agents (id)
		)`,
		`CREATE TABLE audit (
			id BIGINT PRIMARY KEY,
			at BIGINT NOT NULL,
			actor TEXT NOT NULL,
			action TEXT NOT NULL,
			tenant TEXT NOT NULL,
			detail TEXT NOT NULL,
			prev_hash TEXT NOT NULL,
			hash TEXT NOT NULL
		)`,
		`CREATE INDEX audit_tenant ON audit (tenant, id)`,
	}},
	{version: 2, name: "retention: snapshots as received, pending policies, collection runs", stmts: []string{
		// One row per snapshot file the server accepted: when it arrived
		// (the server's clock, not the client's), who sent it, and until
		// when nobody may remove it. deleted_at is set when retention
		// removed it; the row stays as evidence.
		`CREATE TABLE snapshots (
			tenant_id BIGINT NOT NULL REFERENCES tenants (id),
			name TEXT NOT NULL,
			received_at BIGINT NOT NULL,
			writer TEXT NOT NULL,
			size BIGINT NOT NULL,
			lock_until BIGINT NOT NULL,
			deleted_at BIGINT,
			PRIMARY KEY (tenant_id, name)
		)`,
		// A looser retention policy waits here until effective_at.
		`ALTER TABLE tenants ADD COLUMN retention_pending TEXT`,
		`ALTER TABLE tenants ADD COLUMN retention_pending_at BIGINT`,
		`CREATE TABLE gc_runs (
			id {{id}},
			tenant_id BIGINT NOT NULL REFERENCES tenants (id),
			started_at BIGINT NOT NULL,
			finished_at BIGINT NOT NULL,
			dry_run BIGINT NOT NULL,
			snapshots_kept BIGINT NOT NULL,
			snapshots_deleted BIGINT NOT NULL,
			packs_deleted BIGINT NOT NULL,
			bytes_freed BIGINT NOT NULL,
			locks_removed BIGINT NOT NULL,
			error TEXT NOT NULL
		)`,
		`CREATE INDEX gc_runs_tenant ON gc_runs (tenant_id, id)`,
	}},
	{version: 3, name: "accounts: second factor being set up, kinds of API tokens", stmts: []string{
		// A TOTP secret waits here until a code made from it is confirmed,
		// so that a secret mistyped into an app cannot lock anyone out.
		`ALTER TABLE accounts ADD COLUMN totp_pending TEXT`,
		`CREATE INDEX accounts_tenant ON accounts (tenant_id)`,
		// session (from a sign-in), automation (named, for scripts) or
		// agent: rows made before this step are sessions or agents'.
		`ALTER TABLE api_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'session'`,
		`UPDATE api_tokens SET kind = 'agent' WHERE agent_id IS NOT NULL`,
	}},
	{version: 4, name: "sentinel: verdict flag of snapshots, alerts, notification settings", stmts: []string{
		// The coarse verdict of the snapshot's plain header: 0 none, 1
		// clean, 2 suspect, 3 infected (snapshots recorded before are 0).
		`ALTER TABLE snapshots ADD COLUMN flag BIGINT NOT NULL DEFAULT 0`,
		// One alert per suspect or infected snapshot; clean_snapshot is the
		// last clean one of the same source when it opened ("" if none).
		`CREATE TABLE alerts (
			id {{id}},
			tenant_id BIGINT NOT NULL REFERENCES tenants (id),
			snapshot TEXT NOT NULL,
			flag BIGINT NOT NULL,
			source TEXT NOT NULL,
			opened_at BIGINT NOT NULL,
			clean_snapshot TEXT NOT NULL,
			clean_received_at BIGINT,
			closed_at BIGINT,
			closed_by TEXT,
			close_note TEXT,
			UNIQUE (tenant_id, snapshot)
		)`,
		`CREATE INDEX alerts_tenant ON alerts (tenant_id, closed_at)`,
		// Per tenant: webhook, syslog and e-mail settings as a JSON object
		// (with the secrets they need to send; the API never returns them).
		`CREATE TABLE notification_settings (
			tenant_id BIGINT PRIMARY KEY REFERENCES tenants (id),
			settings TEXT NOT NULL,
			updated_at BIGINT NOT NULL
		)`,
	}},
	{version: 5, name: "crisis rooms; the coordinator role", only: map[string][]string{
		// Accounts may now have the role coordinator (with a tenant or
		// none). SQLite cannot change a CHECK constraint: the table is
		// copied aside, dropped and made again. Foreign keys from
		// api_tokens are deferred to the commit, and inserting the rows
		// back satisfies them again.
		"sqlite": {
			`PRAGMA defer_foreign_keys = ON`,
			`CREATE TABLE accounts_v4 AS SELECT id, username, role, tenant_id, password_hash, totp_secret,
				created_at, disabled_at, totp_pending FROM accounts`,
			`DROP TABLE accounts`,
			`CREATE TABLE accounts (
				id {{id}},
				username TEXT NOT NULL UNIQUE,
				role TEXT NOT NULL CHECK (role IN ('operator', 'tenant_admin', 'auditor', 'coordinator')),
				tenant_id BIGINT REFERENCES tenants (id),
				password_hash TEXT NOT NULL,
				totp_secret TEXT,
				created_at BIGINT NOT NULL,
				disabled_at BIGINT,
				totp_pending TEXT,
				CHECK (role <> 'operator' OR tenant_id IS NULL),
				CHECK (role <> 'tenant_admin' OR tenant_id IS NOT NULL)
			)`,
			`INSERT INTO accounts (id, username, role, tenant_id, password_hash, totp_secret, created_at, disabled_at, totp_pending)
				SELECT id, username, role, tenant_id, password_hash, totp_secret, created_at, disabled_at, totp_pending FROM accounts_v4`,
			`DROP TABLE accounts_v4`,
			`CREATE INDEX accounts_tenant ON accounts (tenant_id)`,
		},
		"postgres": {
			`ALTER TABLE accounts DROP CONSTRAINT accounts_role_check`,
			`ALTER TABLE accounts ADD CONSTRAINT accounts_role_check CHECK (role IN ('operator', 'tenant_admin', 'auditor', 'coordinator'))`,
		},
	}, stmts: []string{
		// The crisis room relay (package crisis, docs/crisis-e2ee.md)
		// stores ciphertext and routing metadata only. Keys are public
		// keys (b64u); tokens are stored as their SHA-256 (hex).
		`CREATE TABLE crisis_rooms (
			id TEXT PRIMARY KEY,
			tenant TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			created_by TEXT NOT NULL,
			coordinator TEXT NOT NULL,
			coordinator_sign TEXT NOT NULL,
			epoch BIGINT NOT NULL,
			roster_version BIGINT NOT NULL,
			last_pos BIGINT NOT NULL,
			closed_at BIGINT
		)`,
		`CREATE INDEX crisis_rooms_tenant ON crisis_rooms (tenant, created_at)`,
		// visible_from: the first event position the member may read (its
		// admission); last_seq and last_hash: the head of its chain.
		`CREATE TABLE crisis_members (
			room_id TEXT NOT NULL REFERENCES crisis_rooms (id),
			id TEXT NOT NULL,
			name TEXT NOT NULL,
			sign_pub TEXT NOT NULL,
			dh_pub TEXT NOT NULL,
			proof TEXT NOT NULL,
			token_hash TEXT NOT NULL UNIQUE,
			status TEXT NOT NULL CHECK (status IN ('pending', 'admitted', 'removed')),
			joined_at BIGINT NOT NULL,
			visible_from BIGINT NOT NULL,
			admitted_at BIGINT,
			removed_at BIGINT,
			last_seq BIGINT NOT NULL,
			last_hash TEXT NOT NULL,
			PRIMARY KEY (room_id, id)
		)`,
		`CREATE TABLE crisis_invites (
			token_hash TEXT PRIMARY KEY,
			room_id TEXT NOT NULL REFERENCES crisis_rooms (id),
			created_by TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			expires_at BIGINT NOT NULL,
			used_at BIGINT,
			used_by TEXT
		)`,
		`CREATE INDEX crisis_invites_room ON crisis_invites (room_id)`,
		// Every version of every roster is kept: they are the signed
		// history of who could read what.
		`CREATE TABLE crisis_rosters (
			room_id TEXT NOT NULL REFERENCES crisis_rooms (id),
			version BIGINT NOT NULL,
			epoch BIGINT NOT NULL,
			body TEXT NOT NULL,
			sig TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			PRIMARY KEY (room_id, version)
		)`,
		`CREATE TABLE crisis_wraps (
			id {{id}},
			room_id TEXT NOT NULL REFERENCES crisis_rooms (id),
			epoch BIGINT NOT NULL,
			sender TEXT NOT NULL,
			body TEXT NOT NULL,
			sig TEXT NOT NULL,
			created_at BIGINT NOT NULL
		)`,
		`CREATE TABLE crisis_wrap_recipients (
			room_id TEXT NOT NULL,
			recipient TEXT NOT NULL,
			wrap_id BIGINT NOT NULL REFERENCES crisis_wraps (id),
			PRIMARY KEY (room_id, recipient, wrap_id)
		)`,
		`CREATE TABLE crisis_events (
			room_id TEXT NOT NULL REFERENCES crisis_rooms (id),
			pos BIGINT NOT NULL,
			sender TEXT NOT NULL,
			seq BIGINT NOT NULL,
			hash TEXT NOT NULL,
			epoch BIGINT NOT NULL,
			body TEXT NOT NULL,
			sig TEXT NOT NULL,
			received_at BIGINT NOT NULL,
			PRIMARY KEY (room_id, pos),
			UNIQUE (room_id, sender, seq)
		)`,
		`CREATE INDEX crisis_events_hash ON crisis_events (room_id, hash)`,
		`CREATE TABLE crisis_blobs (
			room_id TEXT NOT NULL REFERENCES crisis_rooms (id),
			id TEXT NOT NULL,
			size BIGINT NOT NULL,
			uploader TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			PRIMARY KEY (room_id, id)
		)`,
	}},
	{version: 6, name: "continuity plans: every version of each tenant's plan", stmts: []string{
		// One row per saved version, never updated nor deleted: version
		// runs 1, 2, 3... per tenant (the primary key refuses a second
		// writer of the same version: optimistic concurrency). plan is the
		// canonical JSON (package continuity), sha256 its hash; source is
		// the YAML file as applied ("" when saved as JSON).
		`CREATE TABLE plan_versions (
			tenant_id BIGINT NOT NULL REFERENCES tenants (id),
			version BIGINT NOT NULL,
			created_at BIGINT NOT NULL,
			created_by TEXT NOT NULL,
			note TEXT NOT NULL,
			plan TEXT NOT NULL,
			sha256 TEXT NOT NULL,
			source TEXT NOT NULL,
			PRIMARY KEY (tenant_id, version)
		)`,
	}},
	{version: 7, name: "restore drills: their evidence; kinds of alerts", stmts: []string{
		// One row per drill a town ran (package drill, docs/drills.md),
		// never updated but for the alert it opened: evidence is the
		// record as sent (JSON), sha256 its hash; recorded_by is who sent
		// it (the credentials), ran_by and host what the runner says.
		`CREATE TABLE drills (
			id {{id}},
			tenant_id BIGINT NOT NULL REFERENCES tenants (id),
			service TEXT NOT NULL,
			result TEXT NOT NULL CHECK (result IN ('passed', 'failed', 'slow')),
			started_at BIGINT NOT NULL,
			finished_at BIGINT NOT NULL,
			recorded_at BIGINT NOT NULL,
			recorded_by TEXT NOT NULL,
			ran_by TEXT NOT NULL,
			host TEXT NOT NULL,
			evidence TEXT NOT NULL,
			sha256 TEXT NOT NULL,
			alert_id BIGINT REFERENCES alerts (id)
		)`,
		`CREATE INDEX drills_tenant ON drills (tenant_id, service, id)`,
		// Alerts until now were Sentinel's (a suspect or infected
		// snapshot: they freeze retention). A failed or slow drill opens
		// an alert of kind 'drill', which does not; detail says why.
		`ALTER TABLE alerts ADD COLUMN kind TEXT NOT NULL DEFAULT 'sentinel'`,
		`ALTER TABLE alerts ADD COLUMN detail TEXT NOT NULL DEFAULT ''`,
	}},
	{version: 8, name: "drill requests, the machines that run them, drill schedules", stmts: []string{
		// A drill asked for by a person or the schedule (docs/drills.md),
		// claimed and run by a machine of the tenant. state moves queued →
		// running → done | failed | cancelled, never back; lease_until is
		// when a running request with no news fails.
		`CREATE TABLE drill_requests (
			id {{id}},
			tenant_id BIGINT NOT NULL REFERENCES tenants (id),
			service TEXT NOT NULL,
			state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
			requested_at BIGINT NOT NULL,
			requested_by TEXT NOT NULL,
			claimed_at BIGINT,
			claimed_by TEXT NOT NULL DEFAULT '',
			host TEXT NOT NULL DEFAULT '',
			lease_until BIGINT,
			phase TEXT NOT NULL DEFAULT '',
			done_bytes BIGINT NOT NULL DEFAULT 0,
			total_bytes BIGINT NOT NULL DEFAULT 0,
			progress_at BIGINT,
			finished_at BIGINT,
			drill_id BIGINT REFERENCES drills (id),
			error TEXT NOT NULL DEFAULT '',
			cancelled_by TEXT NOT NULL DEFAULT '',
			alert_id BIGINT REFERENCES alerts (id)
		)`,
		`CREATE INDEX drill_requests_tenant ON drill_requests (tenant_id, state, id)`,
		// Who picks requests up: one row per tenant and caller.
		`CREATE TABLE drill_runners (
			tenant_id BIGINT NOT NULL REFERENCES tenants (id),
			actor TEXT NOT NULL,
			host TEXT NOT NULL,
			last_seen_at BIGINT NOT NULL,
			PRIMARY KEY (tenant_id, actor)
		)`,
		// One schedule per tenant: every every_days days at at_time
		// (HH:MM, the server's time zone); next_run_at is when the server
		// next queues a request per service.
		`CREATE TABLE drill_schedules (
			tenant_id BIGINT PRIMARY KEY REFERENCES tenants (id),
			every_days INTEGER NOT NULL CHECK (every_days BETWEEN 1 AND 365),
			at_time TEXT NOT NULL,
			next_run_at BIGINT NOT NULL,
			last_run_at BIGINT,
			updated_at BIGINT NOT NULL,
			updated_by TEXT NOT NULL
		)`,
	}},
	{version: 9, name: "accounts: last sign-in", stmts: []string{
		`ALTER TABLE accounts ADD COLUMN last_login_at BIGINT`,
	}},
}

// SchemaVersion is the newest schema version this package knows.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

// migrate applies the missing migrations in order, one transaction each,
// under a lock so that two servers starting together do not both apply one.
func (s *Store) migrate(ctx context.Context) error {
	for _, m := range migrations {
		applied, err := s.applyMigration(ctx, m)
		if err != nil {
			return fmt.Errorf("store: migration %d (%s): %w", m.version, m.name, err)
		}
		if applied {
			s.log.InfoContext(ctx, "applied database migration", "dialect", s.d.name(), "version", m.version, "name", m.name)
		}
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, m migration) (bool, error) {
	applied := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.d.lock(ctx, tx, lockMigrations); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version BIGINT PRIMARY KEY,
			name TEXT NOT NULL,
			applied_at BIGINT NOT NULL
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if current > SchemaVersion() {
			return fmt.Errorf("the database schema is version %d but this rempart knows only up to %d: upgrade rempart", current, SchemaVersion())
		}
		if current >= m.version {
			return nil
		}
		if current != m.version-1 {
			return fmt.Errorf("the database schema is version %d, migration %d cannot follow it", current, m.version)
		}
		for _, stmt := range append(append([]string(nil), m.only[s.d.name()]...), m.stmts...) {
			if _, err := tx.ExecContext(ctx, s.d.ddl(stmt)); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.q("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
			m.version, m.name, dbTime(s.now())); err != nil {
			return fmt.Errorf("record: %w", err)
		}
		applied = true
		return nil
	})
	return applied, err
}

// AppliedMigrations lists the versions recorded in schema_migrations.
func (s *Store) AppliedMigrations(ctx context.Context) ([]int, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("store: list migrations: %w", err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("store: list migrations: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list migrations: %w", err)
	}
	return out, nil
}
