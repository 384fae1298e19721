package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The audit trail is a hash chain: each record's hash covers its content
// and the previous record's hash, and IDs run 1, 2, 3... without a gap. A
// record altered, removed or inserted in the middle breaks the chain, which
// VerifyAuditChain finds. Removing the newest records cannot be seen from
// the table alone: keep the head VerifyAuditChain returns somewhere else
// (logs, a printed report) and compare.

// AuditEvent is something to record.
type AuditEvent struct {
	Actor  string          // who: "account:alice", "agent:12", "system"
	Action string          // what: "tenant.create", "snapshot.save"...
	Tenant string          // which tenant, "" for the server itself
	Detail json.RawMessage // a JSON object, nil for none
}

// AuditRecord is a stored event.
type AuditRecord struct {
	ID       int64
	Time     time.Time
	Actor    string
	Action   string
	Tenant   string
	Detail   json.RawMessage
	PrevHash string // hex SHA-256; 64 zeros for the first record
	Hash     string
}

// AuditHead is the newest record of a verified chain (ID 0 when empty).
type AuditHead struct {
	ID   int64
	Hash string
}

var genesisHash = strings.Repeat("0", 2*sha256.Size)

// auditHash is SHA-256 over the domain string, the ID, the time (Unix
// microseconds), the length-prefixed text fields and the previous hash.
func auditHash(r AuditRecord) (string, error) {
	prev, err := hex.DecodeString(r.PrevHash)
	if err != nil || len(prev) != sha256.Size {
		return "", errors.New("previous hash is not 32 bytes of hex")
	}
	h := sha256.New()
	h.Write([]byte("rempart audit v1\x00"))
	var buf [binary.MaxVarintLen64]byte
	h.Write(binary.BigEndian.AppendUint64(buf[:0], uint64(r.ID)))
	h.Write(binary.BigEndian.AppendUint64(buf[:0], uint64(dbTime(r.Time))))
	for _, f := range []string{r.Actor, r.Action, r.Tenant, string(r.Detail)} {
		h.Write(binary.AppendUvarint(buf[:0], uint64(len(f))))
		h.Write([]byte(f))
	}
	h.Write(prev)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// AppendAudit records an event at the end of the chain.
func (s *Store) AppendAudit(ctx context.Context, e AuditEvent) (AuditRecord, error) {
	if strings.TrimSpace(e.Actor) == "" || strings.TrimSpace(e.Action) == "" {
		return AuditRecord{}, fmt.Errorf("store: audit: %w: an event needs an actor and an action", ErrInvalid)
	}
	detail, err := jsonObject(e.Detail)
	if err != nil {
		return AuditRecord{}, fmt.Errorf("store: audit %s: detail: %w", e.Action, err)
	}
	r := AuditRecord{Actor: e.Actor, Action: e.Action, Tenant: e.Tenant, Detail: detail}
	// One appender at a time in this process; the dialect lock serialises
	// other processes sharing a PostgreSQL database.
	s.auditMu.Lock()
	defer s.auditMu.Unlock()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.d.lock(ctx, tx, lockAudit); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		var last int64
		var prev string
		err := tx.QueryRowContext(ctx, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").Scan(&last, &prev)
		if errors.Is(err, sql.ErrNoRows) {
			last, prev = 0, genesisHash
		} else if err != nil {
			return fmt.Errorf("read chain head: %w", err)
		}
		r.ID, r.PrevHash = last+1, prev
		r.Time = s.now().UTC().Truncate(time.Microsecond)
		if r.Hash, err = auditHash(r); err != nil {
			return fmt.Errorf("chain head %d: %w", last, err)
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO audit (id, at, actor, action, tenant, detail, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), r.ID, dbTime(r.Time), r.Actor, r.Action, r.Tenant, string(r.Detail), r.PrevHash, r.Hash)
		return err
	})
	if err != nil {
		return AuditRecord{}, fmt.Errorf("store: audit %s: %w", e.Action, err)
	}
	return r, nil
}

// AuditFilter selects records: of one tenant (all if ""), with an ID above
// AfterID, at most Limit of them (default and maximum 1000).
type AuditFilter struct {
	Tenant  string
	AfterID int64
	Limit   int
}

// ListAudit returns records in chain order.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]AuditRecord, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 1000
	}
	query := "SELECT id, at, actor, action, tenant, detail, prev_hash, hash FROM audit WHERE id > ?"
	args := []any{f.AfterID}
	if f.Tenant != "" {
		query += " AND tenant = ?"
		args = append(args, f.Tenant)
	}
	query += " ORDER BY id LIMIT ?"
	args = append(args, f.Limit)
	return queryRows(ctx, s, "list audit", scanAudit, query, args...)
}

func scanAudit(sc interface{ Scan(...any) error }) (AuditRecord, error) {
	var r AuditRecord
	var at int64
	var detail string
	if err := sc.Scan(&r.ID, &at, &r.Actor, &r.Action, &r.Tenant, &detail, &r.PrevHash, &r.Hash); err != nil {
		return AuditRecord{}, err
	}
	r.Time, r.Detail = goTime(at), json.RawMessage(detail)
	return r, nil
}

// VerifyAuditChain reads the whole trail and checks every link. It returns
// the head of the chain; an error wrapping ErrAuditChainBroken names the
// first record that does not fit.
func (s *Store) VerifyAuditChain(ctx context.Context) (AuditHead, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, at, actor, action, tenant, detail, prev_hash, hash FROM audit ORDER BY id")
	if err != nil {
		return AuditHead{}, fmt.Errorf("store: verify audit: %w", err)
	}
	defer rows.Close()
	head := AuditHead{Hash: genesisHash}
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return AuditHead{}, fmt.Errorf("store: verify audit: %w", err)
		}
		broken := func(why string) (AuditHead, error) {
			return AuditHead{}, fmt.Errorf("store: verify audit: record %d: %w: %s", r.ID, ErrAuditChainBroken, why)
		}
		if r.ID != head.ID+1 {
			return broken(fmt.Sprintf("follows record %d (records %d to %d are missing)", head.ID, head.ID+1, r.ID-1))
		}
		if r.PrevHash != head.Hash {
			return broken("its previous hash does not match the record before it")
		}
		want, err := auditHash(r)
		if err != nil {
			return broken(err.Error())
		}
		if want != r.Hash {
			return broken("its content does not match its hash (altered)")
		}
		head = AuditHead{ID: r.ID, Hash: r.Hash}
	}
	if err := rows.Err(); err != nil {
		return AuditHead{}, fmt.Errorf("store: verify audit: %w", err)
	}
	return head, nil
}
