package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/crisis"
)

func tokenHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// crisisRoom creates room id with coordinator "c0" and roster version 1.
func crisisRoom(t *testing.T, e *env, id, tenant string) {
	t.Helper()
	now := e.clock.Now()
	err := e.s.Crisis().CreateRoom(context.Background(), crisis.NewRoom{
		Room: crisis.Room{ID: id, Tenant: tenant, CreatedAt: now, CreatedBy: "dgs", Coordinator: "c0", CoordSign: []byte("0123456789abcdef0123456789abcdef"), Epoch: 1, Version: 1},
		Coordinator: crisis.NewMember{Member: crisis.Member{Room: id, ID: "c0", Name: "Coord", Sign: []byte("s"), DH: []byte("d"), Proof: "p",
			Status: crisis.StatusAdmitted, JoinedAt: now, AdmittedAt: now, VisibleFrom: 1}, TokenHash: tokenHash(id + "c0")},
		Roster: crisis.RosterRecord{Room: id, Version: 1, Epoch: 1, Body: `{"v":1}`, Sig: "sig", CreatedAt: now},
	})
	must(t, err)
}

func pendingMember(room, id string, now time.Time) crisis.NewMember {
	return crisis.NewMember{Member: crisis.Member{Room: room, ID: id, Name: id, Sign: []byte("s" + id), DH: []byte("d" + id), Proof: "p" + id,
		Status: crisis.StatusPending, JoinedAt: now}, TokenHash: tokenHash(room + id)}
}

func TestCrisisStore(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cs := e.s.Crisis()
		crisisRoom(t, e, "room-a", "town-a")
		crisisRoom(t, e, "room-b", "town-b")
		err := cs.CreateRoom(ctx, crisis.NewRoom{Room: crisis.Room{ID: "room-a"}})
		wantErr(t, err, crisis.ErrExists, "same room twice")
		r, err := cs.Room(ctx, "room-a")
		must(t, err)
		if r.Tenant != "town-a" || r.Coordinator != "c0" || string(r.CoordSign) != "0123456789abcdef0123456789abcdef" || r.Epoch != 1 || r.Version != 1 {
			t.Fatalf("room: %+v", r)
		}
		_, err = cs.Room(ctx, "nope")
		wantErr(t, err, crisis.ErrNotFound, "unknown room")

		// Invitations: one use, expiry, unknown, a member already there.
		now := e.clock.Now()
		must(t, cs.CreateInvite(ctx, crisis.Invite{Room: "room-a", TokenHash: tokenHash("i1"), CreatedAt: now, ExpiresAt: now.Add(time.Hour), CreatedBy: "c0"}))
		must(t, cs.CreateInvite(ctx, crisis.Invite{Room: "room-a", TokenHash: tokenHash("i2"), CreatedAt: now, ExpiresAt: now.Add(time.Hour), CreatedBy: "c0"}))
		must(t, cs.ConsumeInvite(ctx, "room-a", tokenHash("i1"), now, pendingMember("room-a", "m1", now)))
		wantErr(t, cs.ConsumeInvite(ctx, "room-a", tokenHash("i1"), now, pendingMember("room-a", "m2", now)), crisis.ErrInviteUsed, "replay")
		wantErr(t, cs.ConsumeInvite(ctx, "room-b", tokenHash("i2"), now, pendingMember("room-b", "m2", now)), crisis.ErrNotFound, "invitation of another room")
		wantErr(t, cs.ConsumeInvite(ctx, "room-a", tokenHash("i2"), now, pendingMember("room-a", "m1", now)), crisis.ErrExists, "member already there")
		wantErr(t, cs.ConsumeInvite(ctx, "room-a", tokenHash("i2"), now.Add(2*time.Hour), pendingMember("room-a", "m2", now)), crisis.ErrInviteExpired, "expired")
		must(t, cs.ConsumeInvite(ctx, "room-a", tokenHash("i2"), now, pendingMember("room-a", "m2", now))) // still unused after the refusals
		m, err := cs.MemberByToken(ctx, tokenHash("room-am1"))
		must(t, err)
		if m.ID != "m1" || m.Status != crisis.StatusPending || string(m.DH) != "dm1" || m.Proof != "pm1" {
			t.Fatalf("member: %+v", m)
		}
		_, err = cs.MemberByToken(ctx, tokenHash("nobody"))
		wantErr(t, err, crisis.ErrNotFound, "unknown token")

		// Events before the admission of m1.
		appendOK := func(sender string, seq int64, refs ...string) crisis.Event {
			t.Helper()
			ev, err := cs.AppendEvent(ctx, crisis.Event{Room: "room-a", Sender: sender, Seq: seq, Hash: fmt.Sprintf("%s-%d", sender, seq), Epoch: 1, Body: "b", Sig: "s"}, refs,
				func(st crisis.AppendState) (bool, error) {
					if st.LastSeq != seq-1 || len(st.MissingRefs) != 0 {
						return false, fmt.Errorf("state %+v", st)
					}
					return false, nil
				})
			must(t, err)
			return ev
		}
		for i := int64(1); i <= 3; i++ {
			if ev := appendOK("c0", i); ev.Pos != i {
				t.Fatalf("pos %d, want %d", ev.Pos, i)
			}
		}
		// A plan that fails changes nothing.
		rec := crisis.RosterRecord{Room: "room-a", Version: 2, Epoch: 1, Body: "v2", Sig: "s", CreatedAt: now}
		boom := errors.New("refused")
		err = cs.ApplyRoster(ctx, rec, func(crisis.RosterState) (crisis.RosterPlan, error) { return crisis.RosterPlan{}, boom })
		wantErr(t, err, boom, "refused roster")
		err = cs.ApplyRoster(ctx, rec, func(st crisis.RosterState) (crisis.RosterPlan, error) {
			if st.Current.Version != 1 || len(st.Members) != 3 || st.Room.LastPos != 3 {
				return crisis.RosterPlan{}, fmt.Errorf("state %+v", st)
			}
			return crisis.RosterPlan{Admit: []string{"m1"}, Remove: []string{"m2"}}, nil
		})
		must(t, err)
		m, err = cs.MemberByToken(ctx, tokenHash("room-am1"))
		must(t, err)
		if m.Status != crisis.StatusAdmitted || m.VisibleFrom != 4 {
			t.Fatalf("admitted member: %+v", m)
		}
		m2, err := cs.MemberByToken(ctx, tokenHash("room-am2"))
		must(t, err)
		if m2.Status != crisis.StatusRemoved || m2.RemovedAt.IsZero() {
			t.Fatalf("removed member: %+v", m2)
		}
		cur, err := cs.Roster(ctx, "room-a")
		must(t, err)
		if cur.Version != 2 || cur.Body != "v2" {
			t.Fatalf("roster %+v", cur)
		}
		if old, err := cs.RosterVersion(ctx, "room-a", 1); err != nil || old.Body != `{"v":1}` {
			t.Fatalf("roster history: %+v %v", old, err)
		}

		// Appends: refs, resend, a refused check.
		e4 := appendOK("m1", 1, "c0-1", "c0-3")
		if e4.Pos != 4 || e4.ReceivedAt.IsZero() {
			t.Fatalf("event %+v", e4)
		}
		var seen crisis.AppendState
		ev, err := cs.AppendEvent(ctx, crisis.Event{Room: "room-a", Sender: "m1", Seq: 1, Hash: "m1-1"}, []string{"c0-2", "missing"},
			func(st crisis.AppendState) (bool, error) { seen = st; return true, nil })
		must(t, err)
		if ev.Pos != 4 || seen.Existing == nil || seen.LastHash != "m1-1" || len(seen.MissingRefs) != 1 || seen.MissingRefs[0] != "missing" {
			t.Fatalf("resend: %+v, state %+v", ev, seen)
		}
		_, err = cs.AppendEvent(ctx, crisis.Event{Room: "room-a", Sender: "m1", Seq: 2, Hash: "x"}, nil,
			func(crisis.AppendState) (bool, error) { return false, boom })
		wantErr(t, err, boom, "refused event")
		list, err := cs.Events(ctx, "room-a", 2, 10)
		must(t, err)
		if len(list) != 2 || list[0].Pos != 3 || list[1].Pos != 4 || list[1].Sender != "m1" {
			t.Fatalf("events after 2: %+v", list)
		}
		if list, _ := cs.Events(ctx, "room-a", 0, 2); len(list) != 2 {
			t.Fatalf("limit: %d events", len(list))
		}

		// Wraps, indexed by recipient.
		id1, err := cs.AddWraps(ctx, crisis.WrapRecord{Room: "room-a", Epoch: 1, Sender: "m1", To: []string{"c0"}, Body: "w1", Sig: "s", CreatedAt: now})
		must(t, err)
		_, err = cs.AddWraps(ctx, crisis.WrapRecord{Room: "room-a", Epoch: 1, Sender: "c0", To: []string{"m1"}, Body: "w2", Sig: "s", CreatedAt: now})
		must(t, err)
		w, err := cs.WrapsFor(ctx, "room-a", "c0", 0, 10)
		must(t, err)
		if len(w) != 1 || w[0].ID != id1 || w[0].Body != "w1" {
			t.Fatalf("wraps for c0: %+v", w)
		}
		if w, _ := cs.WrapsFor(ctx, "room-a", "c0", id1, 10); len(w) != 0 {
			t.Fatalf("wraps after %d: %+v", id1, w)
		}

		// Blobs.
		must(t, cs.PutBlob(ctx, crisis.BlobMeta{Room: "room-a", ID: "b1", Size: 10, Uploader: "m1", CreatedAt: now}))
		wantErr(t, cs.PutBlob(ctx, crisis.BlobMeta{Room: "room-a", ID: "b1", Size: 10, Uploader: "m1", CreatedAt: now}), crisis.ErrExists, "blob twice")
		if b, err := cs.Blob(ctx, "room-a", "b1"); err != nil || b.Size != 10 {
			t.Fatalf("blob: %+v %v", b, err)
		}
		_, err = cs.Blob(ctx, "room-b", "b1")
		wantErr(t, err, crisis.ErrNotFound, "blob of another room")

		// Rooms, by tenant, with their counts.
		rooms, err := cs.ListRooms(ctx, "")
		must(t, err)
		if len(rooms) != 2 {
			t.Fatalf("%d rooms", len(rooms))
		}
		rooms, err = cs.ListRooms(ctx, "town-a")
		must(t, err)
		if len(rooms) != 1 || rooms[0].ID != "room-a" || rooms[0].Members != 2 || rooms[0].Pending != 0 || rooms[0].LastPos != 4 {
			t.Fatalf("rooms of town-a: %+v", rooms)
		}
	})
}

// Concurrent appends get distinct, gap-free positions (the room row is the
// lock on PostgreSQL; SQLite has one writer).
func TestCrisisAppendConcurrent(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cs := e.s.Crisis()
		crisisRoom(t, e, "room", "")
		const writers, each = 4, 8
		senders := []string{"c0"}
		for w := 1; w < writers; w++ {
			id := fmt.Sprintf("w%d", w)
			now := e.clock.Now()
			must(t, cs.CreateInvite(ctx, crisis.Invite{Room: "room", TokenHash: tokenHash(id), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
			must(t, cs.ConsumeInvite(ctx, "room", tokenHash(id), now, pendingMember("room", id, now)))
			senders = append(senders, id)
		}
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for _, sender := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int64(1); i <= each; i++ {
					_, err := cs.AppendEvent(ctx, crisis.Event{Room: "room", Sender: sender, Seq: i, Hash: fmt.Sprintf("%s-%d", sender, i)}, nil,
						func(st crisis.AppendState) (bool, error) {
							if st.LastSeq != i-1 {
								return false, fmt.Errorf("%s: last seq %d before %d", sender, st.LastSeq, i)
							}
							return false, nil
						})
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		list, err := cs.Events(ctx, "room", 0, 1000)
		must(t, err)
		if len(list) != writers*each {
			t.Fatalf("%d events, want %d", len(list), writers*each)
		}
		for i, ev := range list {
			if ev.Pos != int64(i+1) {
				t.Fatalf("event %d at pos %d", i, ev.Pos)
			}
		}
	})
}

// Migration 5 on a database made by schema 4: accounts are copied into
// the table that accepts the coordinator role, their tokens still work and
// still reference them.
func TestMigrationCoordinatorRole(t *testing.T) {
	for _, d := range []string{"sqlite", "postgres"} {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			e := &env{clock: &clock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}, dialect: d}
			if d == "sqlite" {
				e.target = t.TempDir() + "/rempart.db"
			} else {
				e.target = postgresDSN(t)
			}
			all := migrations
			migrations = all[:4]
			old, err := e.open(t, e.options())
			migrations = all
			must(t, err)
			tn, err := old.CreateTenant(ctx, NewTenant{Name: "town-a"})
			must(t, err)
			a, err := old.CreateAccount(ctx, NewAccount{Username: "admin-a", Password: "a long enough password", Role: RoleTenantAdmin, TenantID: tn.ID})
			must(t, err)
			tok, _, err := old.CreateAPIToken(ctx, NewAPIToken{AccountID: a.ID, Name: "session", TTL: time.Hour})
			must(t, err)
			_, err = old.CreateAccount(ctx, NewAccount{Username: "early", Password: "a long enough password", Role: RoleCoordinator})
			if err == nil {
				t.Fatal("schema 4 accepted the coordinator role")
			}
			old.Close()

			s, err := e.open(t, e.options())
			must(t, err)
			if v, _ := s.AppliedMigrations(ctx); v[len(v)-1] != SchemaVersion() {
				t.Fatalf("migrations %v", v)
			}
			p, err := s.CheckToken(ctx, tok)
			must(t, err)
			if p.Username != "admin-a" || p.TenantID != tn.ID {
				t.Fatalf("token after migration: %+v", p)
			}
			c, err := s.CreateAccount(ctx, NewAccount{Username: "dgs", Password: "a long enough password", Role: RoleCoordinator, TenantID: tn.ID})
			must(t, err)
			if c.ID <= a.ID {
				t.Fatalf("new account id %d reuses an old one (%d)", c.ID, a.ID)
			}
			_, err = s.CreateAccount(ctx, NewAccount{Username: "bad", Password: "a long enough password", Role: RoleOperator, TenantID: tn.ID})
			wantErr(t, err, ErrInvalid, "operator with a tenant")
			if _, err := s.db.ExecContext(ctx, s.q("UPDATE accounts SET role = 'king' WHERE id = ?"), a.ID); err == nil {
				t.Fatal("the role CHECK constraint is gone")
			}
			if _, err := s.db.ExecContext(ctx, s.q("INSERT INTO api_tokens (selector, token_hash, account_id, name, created_at) VALUES ('x', 'y', 999, 'n', 0)")); err == nil {
				t.Fatal("api_tokens no longer references accounts")
			}
			if d == "sqlite" {
				rows, err := s.db.QueryContext(ctx, "PRAGMA foreign_key_check")
				must(t, err)
				if rows.Next() {
					t.Fatal("foreign key violations after the migration")
				}
				rows.Close()
			}
		})
	}
}

// TestCrisisAdmissionConcurrent: an admission applied while members write
// takes effect at one position: every event stored before it (in the
// database's order, not this process's) is before the member's
// visible_from, every event stored after it is at or after. SenderLastPos
// finds a sender's last position of an epoch.
func TestCrisisAdmissionConcurrent(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cs := e.s.Crisis()
		crisisRoom(t, e, "room", "")
		now := e.clock.Now()
		for _, id := range []string{"w1", "w2", "n"} {
			must(t, cs.CreateInvite(ctx, crisis.Invite{Room: "room", TokenHash: tokenHash(id), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
			must(t, cs.ConsumeInvite(ctx, "room", tokenHash(id), now, pendingMember("room", id, now)))
		}
		var mu sync.Mutex
		var order []string // "e:<sender>-<seq>" or "admit", in transaction order
		note := func(s string) {
			mu.Lock()
			order = append(order, s)
			mu.Unlock()
		}
		const each = 40
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		for _, sender := range []string{"c0", "w1", "w2"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int64(1); i <= each; i++ {
					h := fmt.Sprintf("%s-%d", sender, i)
					_, err := cs.AppendEvent(ctx, crisis.Event{Room: "room", Sender: sender, Seq: i, Hash: h, Epoch: 1}, nil,
						func(crisis.AppendState) (bool, error) { note("e:" + h); return false, nil })
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		time.Sleep(2 * time.Millisecond)
		var seen int64
		err := cs.ApplyRoster(ctx, crisis.RosterRecord{Room: "room", Version: 2, Epoch: 1, Body: "{}", Sig: "s", CreatedAt: now},
			func(st crisis.RosterState) (crisis.RosterPlan, error) {
				note("admit")
				seen = st.Room.LastPos
				return crisis.RosterPlan{Admit: []string{"n"}}, nil
			})
		must(t, err)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		members, err := cs.Members(ctx, "room")
		must(t, err)
		var from int64
		for _, m := range members {
			if m.ID == "n" {
				from = m.VisibleFrom
			}
		}
		if from != seen+1 {
			t.Fatalf("visible_from %d, the roster saw last_pos %d", from, seen)
		}
		list, err := cs.Events(ctx, "room", 0, 1000)
		must(t, err)
		pos := map[string]int64{}
		for _, ev := range list {
			pos["e:"+ev.Hash] = ev.Pos
		}
		before := true
		for _, o := range order {
			if o == "admit" {
				before = false
				continue
			}
			if p := pos[o]; before != (p < from) {
				t.Fatalf("%s at pos %d, stored %s the admission at %d", o, p, map[bool]string{true: "before", false: "after"}[before], from)
			}
		}
		t.Logf("admission at %d of %d events", from, len(list))
		last, err := cs.SenderLastPos(ctx, "room", "w1", 1)
		must(t, err)
		if last != pos[fmt.Sprintf("e:w1-%d", each)] {
			t.Fatalf("SenderLastPos %d, want %d", last, pos[fmt.Sprintf("e:w1-%d", each)])
		}
		if last, err := cs.SenderLastPos(ctx, "room", "w1", 2); err != nil || last != 0 {
			t.Fatalf("SenderLastPos of an epoch with no event: %d, %v", last, err)
		}
	})
}
