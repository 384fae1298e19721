package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/rempart/rempart/internal/crisis"
	"github.com/rempart/rempart/internal/crisis/e2ee"
)

// CrisisStore is the crisis room relay's storage (crisis.Store) in the
// server's database: the same SQL on SQLite and PostgreSQL. Rooms hold
// ciphertext and routing metadata only.
type CrisisStore struct{ s *Store }

// Crisis returns the crisis room storage of this database.
func (s *Store) Crisis() *CrisisStore { return &CrisisStore{s: s} }

var _ crisis.Store = (*CrisisStore)(nil)

func b64(b []byte) string { return e2ee.B64.EncodeToString(b) }

func unb64(s string) []byte {
	b, _ := e2ee.B64.DecodeString(s)
	return b
}

// lockRoom reads a room inside tx and keeps other writers of that room out
// until tx ends: SQLite transactions hold the database's write lock from
// BEGIN; PostgreSQL locks the row.
func (c *CrisisStore) lockRoom(ctx context.Context, tx *sql.Tx, id string) (crisis.Room, error) {
	q := "SELECT " + roomColumns + " FROM crisis_rooms WHERE id = ?"
	if c.s.d.name() == "postgres" {
		q += " FOR UPDATE"
	}
	r, err := scanRoom(tx.QueryRowContext(ctx, c.s.q(q), id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("room %s: %w", id, crisis.ErrNotFound)
	}
	return r, err
}

const roomColumns = "id, tenant, created_at, created_by, coordinator, coordinator_sign, epoch, roster_version, last_pos, closed_at"

func scanRoom(sc interface{ Scan(...any) error }, extra ...any) (crisis.Room, error) {
	var r crisis.Room
	var created int64
	var closed sql.NullInt64
	var sign string
	dest := append([]any{&r.ID, &r.Tenant, &created, &r.CreatedBy, &r.Coordinator, &sign, &r.Epoch, &r.Version, &r.LastPos, &closed}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return r, err
	}
	r.CreatedAt, r.ClosedAt, r.CoordSign = goTime(created), goTimeNull(closed), unb64(sign)
	return r, nil
}

// CreateRoom stores a room, its coordinator and roster version 1.
func (c *CrisisStore) CreateRoom(ctx context.Context, n crisis.NewRoom) error {
	r := n.Room
	err := c.s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, c.s.q(`INSERT INTO crisis_rooms (`+roomColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`),
			r.ID, r.Tenant, dbTime(r.CreatedAt), r.CreatedBy, r.Coordinator, b64(r.CoordSign), r.Epoch, r.Version, r.LastPos)
		if c.s.d.isUniqueViolation(err) {
			return crisis.ErrExists
		}
		if err != nil {
			return err
		}
		if err := c.insertMember(ctx, tx, n.Coordinator); err != nil {
			return err
		}
		return c.insertRoster(ctx, tx, n.Roster)
	})
	if err != nil {
		return fmt.Errorf("store: create crisis room %s: %w", r.ID, err)
	}
	return nil
}

func (c *CrisisStore) insertMember(ctx context.Context, tx *sql.Tx, m crisis.NewMember) error {
	_, err := tx.ExecContext(ctx, c.s.q(`INSERT INTO crisis_members (room_id, id, name, sign_pub, dh_pub, proof, token_hash, status,
			joined_at, visible_from, admitted_at, removed_at, last_seq, last_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, '')`),
		m.Room, m.ID, m.Name, b64(m.Sign), b64(m.DH), m.Proof, hex.EncodeToString(m.TokenHash), string(m.Status),
		dbTime(m.JoinedAt), m.VisibleFrom, dbTimeNull(m.AdmittedAt))
	if c.s.d.isUniqueViolation(err) {
		return crisis.ErrExists
	}
	return err
}

func (c *CrisisStore) insertRoster(ctx context.Context, tx *sql.Tx, r crisis.RosterRecord) error {
	_, err := tx.ExecContext(ctx, c.s.q(`INSERT INTO crisis_rosters (room_id, version, epoch, body, sig, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
		r.Room, r.Version, r.Epoch, r.Body, r.Sig, dbTime(r.CreatedAt))
	if c.s.d.isUniqueViolation(err) {
		return fmt.Errorf("roster version %d: %w", r.Version, crisis.ErrExists)
	}
	return err
}

// Room returns a room.
func (c *CrisisStore) Room(ctx context.Context, id string) (crisis.Room, error) {
	r, err := scanRoom(c.s.db.QueryRowContext(ctx, c.s.q("SELECT "+roomColumns+" FROM crisis_rooms WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("store: crisis room %s: %w", id, crisis.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("store: crisis room %s: %w", id, err)
	}
	return r, nil
}

// ListRooms returns the rooms of a tenant, or all of them for "".
func (c *CrisisStore) ListRooms(ctx context.Context, tenant string) ([]crisis.RoomSummary, error) {
	q := `SELECT ` + roomColumns + `,
		(SELECT COUNT(*) FROM crisis_members m WHERE m.room_id = r.id AND m.status = 'admitted'),
		(SELECT COUNT(*) FROM crisis_members m WHERE m.room_id = r.id AND m.status = 'pending')
		FROM crisis_rooms r`
	var args []any
	if tenant != "" {
		q += " WHERE tenant = ?"
		args = append(args, tenant)
	}
	rows, err := c.s.db.QueryContext(ctx, c.s.q(q+" ORDER BY created_at, id"), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list crisis rooms: %w", err)
	}
	defer rows.Close()
	var out []crisis.RoomSummary
	for rows.Next() {
		var s crisis.RoomSummary
		if s.Room, err = scanRoom(rows, &s.Members, &s.Pending); err != nil {
			return nil, fmt.Errorf("store: list crisis rooms: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list crisis rooms: %w", err)
	}
	return out, nil
}

// CreateInvite stores a one-time invitation.
func (c *CrisisStore) CreateInvite(ctx context.Context, inv crisis.Invite) error {
	_, err := c.s.db.ExecContext(ctx, c.s.q(`INSERT INTO crisis_invites (token_hash, room_id, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
		hex.EncodeToString(inv.TokenHash), inv.Room, inv.CreatedBy, dbTime(inv.CreatedAt), dbTime(inv.ExpiresAt))
	if err != nil {
		return fmt.Errorf("store: create crisis invitation: %w", err)
	}
	return nil
}

// ConsumeInvite uses an invitation and adds the member, atomically.
func (c *CrisisStore) ConsumeInvite(ctx context.Context, room string, tokenHash []byte, now time.Time, m crisis.NewMember) error {
	h := hex.EncodeToString(tokenHash)
	err := c.s.inTx(ctx, func(tx *sql.Tx) error {
		var exists int
		err := tx.QueryRowContext(ctx, c.s.q("SELECT COUNT(*) FROM crisis_members WHERE room_id = ? AND id = ?"), room, m.ID).Scan(&exists)
		if err != nil {
			return err
		}
		if exists > 0 {
			return crisis.ErrExists
		}
		res, err := tx.ExecContext(ctx, c.s.q(`UPDATE crisis_invites SET used_at = ?, used_by = ?
			WHERE token_hash = ? AND room_id = ? AND used_at IS NULL AND expires_at > ?`), dbTime(now), m.ID, h, room, dbTime(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			var used sql.NullInt64
			var expires int64
			err := tx.QueryRowContext(ctx, c.s.q("SELECT used_at, expires_at FROM crisis_invites WHERE token_hash = ? AND room_id = ?"), h, room).Scan(&used, &expires)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return crisis.ErrNotFound
			case err != nil:
				return err
			case used.Valid:
				return crisis.ErrInviteUsed
			default:
				return crisis.ErrInviteExpired
			}
		}
		return c.insertMember(ctx, tx, m)
	})
	if err != nil {
		return fmt.Errorf("store: consume crisis invitation: %w", err)
	}
	return nil
}

const memberColumns = "room_id, id, name, sign_pub, dh_pub, proof, status, joined_at, visible_from, admitted_at, removed_at"

func scanMember(sc interface{ Scan(...any) error }) (crisis.Member, error) {
	var m crisis.Member
	var sign, dh, status string
	var joined int64
	var admitted, removed sql.NullInt64
	if err := sc.Scan(&m.Room, &m.ID, &m.Name, &sign, &dh, &m.Proof, &status, &joined, &m.VisibleFrom, &admitted, &removed); err != nil {
		return m, err
	}
	m.Sign, m.DH, m.Status = unb64(sign), unb64(dh), crisis.MemberStatus(status)
	m.JoinedAt, m.AdmittedAt, m.RemovedAt = goTime(joined), goTimeNull(admitted), goTimeNull(removed)
	return m, nil
}

// MemberByToken finds a member by its token's hash.
func (c *CrisisStore) MemberByToken(ctx context.Context, tokenHash []byte) (crisis.Member, error) {
	m, err := scanMember(c.s.db.QueryRowContext(ctx, c.s.q("SELECT "+memberColumns+" FROM crisis_members WHERE token_hash = ?"), hex.EncodeToString(tokenHash)))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("store: crisis member: %w", crisis.ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("store: crisis member: %w", err)
	}
	return m, nil
}

// Members returns every member of a room, in order of joining.
func (c *CrisisStore) Members(ctx context.Context, room string) ([]crisis.Member, error) {
	return c.members(ctx, c.s.db, room)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (c *CrisisStore) members(ctx context.Context, q querier, room string) ([]crisis.Member, error) {
	rows, err := q.QueryContext(ctx, c.s.q("SELECT "+memberColumns+" FROM crisis_members WHERE room_id = ? ORDER BY joined_at, id"), room)
	if err != nil {
		return nil, fmt.Errorf("store: crisis members of %s: %w", room, err)
	}
	defer rows.Close()
	var out []crisis.Member
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, fmt.Errorf("store: crisis members of %s: %w", room, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: crisis members of %s: %w", room, err)
	}
	return out, nil
}

type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (c *CrisisStore) rosterVersion(ctx context.Context, q rowQuerier, room string, version int64) (crisis.RosterRecord, error) {
	r := crisis.RosterRecord{Room: room}
	var created int64
	err := q.QueryRowContext(ctx, c.s.q("SELECT version, epoch, body, sig, created_at FROM crisis_rosters WHERE room_id = ? AND version = ?"), room, version).
		Scan(&r.Version, &r.Epoch, &r.Body, &r.Sig, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("store: roster %d of %s: %w", version, room, crisis.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("store: roster %d of %s: %w", version, room, err)
	}
	r.CreatedAt = goTime(created)
	return r, nil
}

// Roster returns the room's current roster.
func (c *CrisisStore) Roster(ctx context.Context, room string) (crisis.RosterRecord, error) {
	r, err := c.Room(ctx, room)
	if err != nil {
		return crisis.RosterRecord{}, err
	}
	return c.rosterVersion(ctx, c.s.db, room, r.Version)
}

// RosterVersion returns one version of the room's roster.
func (c *CrisisStore) RosterVersion(ctx context.Context, room string, version int64) (crisis.RosterRecord, error) {
	return c.rosterVersion(ctx, c.s.db, room, version)
}

// ApplyRoster stores the next roster and what it changes, atomically.
func (c *CrisisStore) ApplyRoster(ctx context.Context, rec crisis.RosterRecord, plan func(crisis.RosterState) (crisis.RosterPlan, error)) error {
	err := c.s.inTx(ctx, func(tx *sql.Tx) error {
		room, err := c.lockRoom(ctx, tx, rec.Room)
		if err != nil {
			return err
		}
		cur, err := c.rosterVersion(ctx, tx, rec.Room, room.Version)
		if err != nil {
			return err
		}
		members, err := c.members(ctx, tx, rec.Room)
		if err != nil {
			return err
		}
		p, err := plan(crisis.RosterState{Room: room, Current: cur, Members: members})
		if err != nil {
			return err
		}
		if err := c.insertRoster(ctx, tx, rec); err != nil {
			return err
		}
		now := dbTime(rec.CreatedAt)
		for _, id := range p.Admit {
			if _, err := tx.ExecContext(ctx, c.s.q(`UPDATE crisis_members SET status = 'admitted', admitted_at = ?, visible_from = ?
				WHERE room_id = ? AND id = ? AND status = 'pending'`), now, room.LastPos+1, rec.Room, id); err != nil {
				return err
			}
		}
		for _, id := range p.Remove {
			if _, err := tx.ExecContext(ctx, c.s.q(`UPDATE crisis_members SET status = 'removed', removed_at = ?
				WHERE room_id = ? AND id = ? AND status <> 'removed'`), now, rec.Room, id); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, c.s.q("UPDATE crisis_rooms SET epoch = ?, roster_version = ? WHERE id = ?"), rec.Epoch, rec.Version, rec.Room)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: apply roster %d of %s: %w", rec.Version, rec.Room, err)
	}
	return nil
}

// AddWraps stores a wrap bundle and indexes it by recipient.
func (c *CrisisStore) AddWraps(ctx context.Context, w crisis.WrapRecord) (int64, error) {
	var id int64
	err := c.s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, c.s.q(`INSERT INTO crisis_wraps (room_id, epoch, sender, body, sig, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
			w.Room, w.Epoch, w.Sender, w.Body, w.Sig, dbTime(w.CreatedAt)).Scan(&id)
		if err != nil {
			return err
		}
		for _, to := range w.To {
			if _, err := tx.ExecContext(ctx, c.s.q("INSERT INTO crisis_wrap_recipients (room_id, recipient, wrap_id) VALUES (?, ?, ?)"), w.Room, to, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: add wraps to %s: %w", w.Room, err)
	}
	return id, nil
}

// WrapsFor returns the bundles that hold a wrap for member.
func (c *CrisisStore) WrapsFor(ctx context.Context, room, member string, after int64, limit int) ([]crisis.WrapRecord, error) {
	rows, err := c.s.db.QueryContext(ctx, c.s.q(`SELECT w.id, w.epoch, w.sender, w.body, w.sig, w.created_at
		FROM crisis_wrap_recipients x JOIN crisis_wraps w ON w.id = x.wrap_id
		WHERE x.room_id = ? AND x.recipient = ? AND x.wrap_id > ? ORDER BY x.wrap_id LIMIT ?`), room, member, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: wraps for %s: %w", member, err)
	}
	defer rows.Close()
	var out []crisis.WrapRecord
	for rows.Next() {
		w := crisis.WrapRecord{Room: room}
		var created int64
		if err := rows.Scan(&w.ID, &w.Epoch, &w.Sender, &w.Body, &w.Sig, &created); err != nil {
			return nil, fmt.Errorf("store: wraps for %s: %w", member, err)
		}
		w.CreatedAt = goTime(created)
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: wraps for %s: %w", member, err)
	}
	return out, nil
}

const eventColumns = "room_id, pos, sender, seq, hash, epoch, body, sig, received_at"

func scanEvent(sc interface{ Scan(...any) error }) (crisis.Event, error) {
	var e crisis.Event
	var at int64
	err := sc.Scan(&e.Room, &e.Pos, &e.Sender, &e.Seq, &e.Hash, &e.Epoch, &e.Body, &e.Sig, &at)
	e.ReceivedAt = goTime(at)
	return e, err
}

// AppendEvent gives ev the room's next position if check accepts.
func (c *CrisisStore) AppendEvent(ctx context.Context, ev crisis.Event, refs []string, check func(crisis.AppendState) (bool, error)) (crisis.Event, error) {
	var out crisis.Event
	err := c.s.inTx(ctx, func(tx *sql.Tx) error {
		room, err := c.lockRoom(ctx, tx, ev.Room)
		if err != nil {
			return err
		}
		st := crisis.AppendState{Room: room}
		var status string
		err = tx.QueryRowContext(ctx, c.s.q("SELECT status, last_seq, last_hash FROM crisis_members WHERE room_id = ? AND id = ?"), ev.Room, ev.Sender).
			Scan(&status, &st.LastSeq, &st.LastHash)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("member %s: %w", ev.Sender, crisis.ErrNotFound)
		}
		if err != nil {
			return err
		}
		st.SenderStatus = crisis.MemberStatus(status)
		old, err := scanEvent(tx.QueryRowContext(ctx, c.s.q("SELECT "+eventColumns+" FROM crisis_events WHERE room_id = ? AND sender = ? AND seq = ?"), ev.Room, ev.Sender, ev.Seq))
		switch {
		case err == nil:
			st.Existing = &old
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		for _, ref := range refs {
			var n int
			if err := tx.QueryRowContext(ctx, c.s.q("SELECT COUNT(*) FROM crisis_events WHERE room_id = ? AND hash = ?"), ev.Room, ref).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				st.MissingRefs = append(st.MissingRefs, ref)
			}
		}
		resend, err := check(st)
		if err != nil {
			return err
		}
		if resend {
			out = old
			return nil
		}
		ev.Pos, ev.ReceivedAt = room.LastPos+1, c.s.now().UTC().Truncate(time.Millisecond)
		if _, err := tx.ExecContext(ctx, c.s.q("INSERT INTO crisis_events ("+eventColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
			ev.Room, ev.Pos, ev.Sender, ev.Seq, ev.Hash, ev.Epoch, ev.Body, ev.Sig, dbTime(ev.ReceivedAt)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, c.s.q("UPDATE crisis_rooms SET last_pos = ? WHERE id = ?"), ev.Pos, ev.Room); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, c.s.q("UPDATE crisis_members SET last_seq = ?, last_hash = ? WHERE room_id = ? AND id = ?"), ev.Seq, ev.Hash, ev.Room, ev.Sender); err != nil {
			return err
		}
		out = ev
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("store: append event to %s: %w", ev.Room, err)
	}
	return out, nil
}

// Events returns a room's events after a position.
func (c *CrisisStore) Events(ctx context.Context, room string, after int64, limit int) ([]crisis.Event, error) {
	rows, err := c.s.db.QueryContext(ctx, c.s.q("SELECT "+eventColumns+" FROM crisis_events WHERE room_id = ? AND pos > ? ORDER BY pos LIMIT ?"), room, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: events of %s: %w", room, err)
	}
	defer rows.Close()
	var out []crisis.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("store: events of %s: %w", room, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: events of %s: %w", room, err)
	}
	return out, nil
}

// SenderLastPos returns the position of a sender's last event of an epoch,
// 0 if none.
func (c *CrisisStore) SenderLastPos(ctx context.Context, room, sender string, epoch int64) (int64, error) {
	var pos sql.NullInt64
	err := c.s.db.QueryRowContext(ctx, c.s.q("SELECT MAX(pos) FROM crisis_events WHERE room_id = ? AND sender = ? AND epoch = ?"), room, sender, epoch).Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("store: last position of %s in epoch %d of %s: %w", sender, epoch, room, err)
	}
	return pos.Int64, nil
}

// PutBlob records an attachment; ErrExists if it is there already.
func (c *CrisisStore) PutBlob(ctx context.Context, b crisis.BlobMeta) error {
	_, err := c.s.db.ExecContext(ctx, c.s.q("INSERT INTO crisis_blobs (room_id, id, size, uploader, created_at) VALUES (?, ?, ?, ?, ?)"),
		b.Room, b.ID, b.Size, b.Uploader, dbTime(b.CreatedAt))
	if c.s.d.isUniqueViolation(err) {
		return fmt.Errorf("store: blob %s: %w", b.ID, crisis.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("store: blob %s: %w", b.ID, err)
	}
	return nil
}

// Blob returns an attachment's record.
func (c *CrisisStore) Blob(ctx context.Context, room, id string) (crisis.BlobMeta, error) {
	b := crisis.BlobMeta{Room: room, ID: id}
	var created int64
	err := c.s.db.QueryRowContext(ctx, c.s.q("SELECT size, uploader, created_at FROM crisis_blobs WHERE room_id = ? AND id = ?"), room, id).Scan(&b.Size, &b.Uploader, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("store: blob %s: %w", id, crisis.ErrNotFound)
	}
	if err != nil {
		return b, fmt.Errorf("store: blob %s: %w", id, err)
	}
	b.CreatedAt = goTime(created)
	return b, nil
}
