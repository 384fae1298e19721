package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func appendN(t *testing.T, s *Store, n int) []AuditRecord {
	t.Helper()
	var out []AuditRecord
	for i := range n {
		tenant := []string{"", "pantin", "bondy"}[i%3]
		r, err := s.AppendAudit(context.Background(), AuditEvent{
			Actor:  "account:alice",
			Action: "test.event",
			Tenant: tenant,
			Detail: json.RawMessage(fmt.Sprintf(`{"n": %d, "note": "événement"}`, i)),
		})
		must(t, err)
		out = append(out, r)
	}
	return out
}

func TestAuditChain(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		head, err := e.s.VerifyAuditChain(ctx)
		must(t, err)
		if head.ID != 0 || head.Hash != genesisHash {
			t.Fatalf("empty chain head %+v", head)
		}

		recs := appendN(t, e.s, 6)
		for i, r := range recs {
			if r.ID != int64(i+1) {
				t.Fatalf("record %d has ID %d", i, r.ID)
			}
			prev := genesisHash
			if i > 0 {
				prev = recs[i-1].Hash
			}
			if r.PrevHash != prev || len(r.Hash) != 64 || !r.Time.Equal(e.clock.Now()) {
				t.Fatalf("record %+v does not link to %s", r, prev)
			}
		}
		if string(recs[0].Detail) != `{"n":0,"note":"événement"}` {
			t.Fatalf("detail stored as %s", recs[0].Detail)
		}

		all, err := e.s.ListAudit(ctx, AuditFilter{})
		must(t, err)
		if len(all) != 6 {
			t.Fatalf("ListAudit returned %d records", len(all))
		}
		for i := range all {
			if all[i].Hash != recs[i].Hash || string(all[i].Detail) != string(recs[i].Detail) || !all[i].Time.Equal(recs[i].Time) {
				t.Fatalf("record %d read back as %+v, written %+v", i+1, all[i], recs[i])
			}
		}
		pantin, err := e.s.ListAudit(ctx, AuditFilter{Tenant: "pantin"})
		must(t, err)
		if len(pantin) != 2 || pantin[0].ID != 2 || pantin[1].ID != 5 {
			t.Fatalf("pantin's records %+v", pantin)
		}
		page, err := e.s.ListAudit(ctx, AuditFilter{AfterID: 2, Limit: 3})
		must(t, err)
		if len(page) != 3 || page[0].ID != 3 || page[2].ID != 5 {
			t.Fatalf("page after 2 %+v", page)
		}

		head, err = e.s.VerifyAuditChain(ctx)
		must(t, err)
		if head.ID != 6 || head.Hash != recs[5].Hash {
			t.Fatalf("head %+v, want record 6", head)
		}

		_, err = e.s.AppendAudit(ctx, AuditEvent{Action: "x"})
		wantErr(t, err, ErrInvalid, "no actor")
		_, err = e.s.AppendAudit(ctx, AuditEvent{Actor: "x", Action: "y", Detail: json.RawMessage(`[1]`)})
		wantErr(t, err, ErrInvalid, "detail not an object")
	})
}

func TestAuditTamperingIsFound(t *testing.T) {
	type tamper struct {
		name   string
		sql    []string
		record string // the record VerifyAuditChain must blame
		why    string
	}
	cases := []tamper{
		{"altered detail", []string{`UPDATE audit SET detail = '{"n":99}' WHERE id = 3`}, "record 3", "altered"},
		{"altered time", []string{`UPDATE audit SET at = at + 1 WHERE id = 2`}, "record 2", "altered"},
		{"altered actor", []string{`UPDATE audit SET actor = 'account:bob' WHERE id = 1`}, "record 1", "altered"},
		{"removed row", []string{`DELETE FROM audit WHERE id = 3`}, "record 4", "missing"},
		{"removed first row", []string{`DELETE FROM audit WHERE id = 1`}, "record 2", "missing"},
		{"renumbered rows", []string{`DELETE FROM audit WHERE id = 3`, `UPDATE audit SET id = 3 WHERE id = 4`}, "record 3", "previous hash"},
		{"re-hashed row", []string{`UPDATE audit SET action = 'other', hash = prev_hash WHERE id = 2`}, "record 2", "altered"},
	}
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for _, c := range cases {
			t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
				_, err := e.s.db.ExecContext(ctx, "DELETE FROM audit")
				must(t, err)
				appendN(t, e.s, 5)
				_, err = e.s.VerifyAuditChain(ctx)
				must(t, err)
				for _, stmt := range c.sql {
					_, err := e.s.db.ExecContext(ctx, stmt)
					must(t, err)
				}
				_, err = e.s.VerifyAuditChain(ctx)
				wantErr(t, err, ErrAuditChainBroken, c.name)
				if !strings.Contains(err.Error(), c.record+":") || !strings.Contains(err.Error(), c.why) {
					t.Fatalf("error %q should blame %s (%s)", err, c.record, c.why)
				}
			})
		}
	})
}

// TestAuditConcurrentAppends: appends from goroutines and from two Stores
// on one database (two server processes) keep one unbroken chain.
func TestAuditConcurrentAppends(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		other, err := e.open(t, e.options())
		must(t, err)
		var wg sync.WaitGroup
		for i := range 8 {
			s := e.s
			if i%2 == 1 {
				s = other
			}
			wg.Go(func() {
				for range 8 {
					if _, err := s.AppendAudit(context.Background(), AuditEvent{Actor: "system", Action: "tick"}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		head, err := e.s.VerifyAuditChain(context.Background())
		must(t, err)
		if head.ID != 64 {
			t.Fatalf("chain head %d, want 64", head.ID)
		}
	})
}

func TestAuditHashCoversEveryField(t *testing.T) {
	base := AuditRecord{ID: 7, Time: time.Unix(1_800_000_000, 123_000).UTC(), Actor: "a", Action: "b", Tenant: "c",
		Detail: json.RawMessage(`{}`), PrevHash: genesisHash}
	h0, err := auditHash(base)
	must(t, err)
	variants := []func(*AuditRecord){
		func(r *AuditRecord) { r.ID++ },
		func(r *AuditRecord) { r.Time = r.Time.Add(time.Microsecond) },
		func(r *AuditRecord) { r.Actor = "ab"; r.Action = "" }, // same bytes, other split
		func(r *AuditRecord) { r.Tenant = "d" },
		func(r *AuditRecord) { r.Detail = json.RawMessage(`{"x":1}`) },
		func(r *AuditRecord) { r.PrevHash = strings.Repeat("1", 64) },
	}
	for i, change := range variants {
		r := base
		change(&r)
		h, err := auditHash(r)
		must(t, err)
		if h == h0 {
			t.Errorf("variant %d has the same hash", i)
		}
	}
	bad := base
	bad.PrevHash = "zz"
	if _, err := auditHash(bad); err == nil {
		t.Error("malformed previous hash accepted")
	}
}
