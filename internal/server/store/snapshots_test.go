package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

func TestSnapshotRecords(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, b := mustTenant(t, e, "a"), mustTenant(t, e, "b")
		t0 := e.clock.Now()
		must(t, e.s.RecordSnapshot(ctx, SnapshotRecord{TenantID: a.ID, Name: "s1", Received: t0, Writer: "agent:1", Size: 10, LockUntil: t0.Add(time.Hour)}))
		must(t, e.s.RecordSnapshot(ctx, SnapshotRecord{TenantID: a.ID, Name: "s2", Received: t0.Add(time.Minute), Writer: "agent:2", Size: 20}))
		must(t, e.s.RecordSnapshot(ctx, SnapshotRecord{TenantID: b.ID, Name: "s1", Received: t0, Writer: "agent:3", Size: 30}))
		// A replay does not move a snapshot in time.
		must(t, e.s.RecordSnapshot(ctx, SnapshotRecord{TenantID: a.ID, Name: "s1", Received: t0.Add(48 * time.Hour), Writer: "agent:9", Size: 10}))

		got, err := e.s.Snapshots(ctx, a.ID, false)
		must(t, err)
		if len(got) != 2 || got[0].Name != "s1" || !got[0].Received.Equal(t0) || got[0].Writer != "agent:1" ||
			!got[0].LockUntil.Equal(t0.Add(time.Hour)) || got[1].Name != "s2" || !got[1].LockUntil.IsZero() {
			t.Fatalf("Snapshots(a) = %+v", got)
		}

		// s1 is locked for an hour.
		wantErr(t, e.s.MarkSnapshotDeleted(ctx, a.ID, "s1"), ErrLocked, "delete a locked snapshot")
		must(t, e.s.MarkSnapshotDeleted(ctx, a.ID, "s2"))
		wantErr(t, e.s.MarkSnapshotDeleted(ctx, a.ID, "s2"), ErrLocked, "delete twice")
		e.clock.Add(time.Hour)
		must(t, e.s.MarkSnapshotDeleted(ctx, a.ID, "s1"))
		got, err = e.s.Snapshots(ctx, a.ID, false)
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("after deletion: %+v", got)
		}
		got, err = e.s.Snapshots(ctx, a.ID, true)
		must(t, err)
		if len(got) != 2 || got[0].Deleted.IsZero() {
			t.Fatalf("deleted records are kept as evidence: %+v", got)
		}
		other, err := e.s.Snapshots(ctx, b.ID, false)
		must(t, err)
		if len(other) != 1 || other[0].Writer != "agent:3" {
			t.Fatalf("tenants are separate: %+v", other)
		}
	})
}

func TestRetentionSettings(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := mustTenant(t, e, "a")
		must(t, e.s.SetRetention(ctx, tn.ID, json.RawMessage(`{"keep_all": "14d"}`)))
		wantErr(t, e.s.SetRetention(ctx, tn.ID, json.RawMessage(`[1]`)), ErrInvalid, "array policy")
		wantErr(t, e.s.SetRetention(ctx, 999, json.RawMessage(`{}`)), ErrNotFound, "unknown tenant")

		at := e.clock.Now().Add(7 * 24 * time.Hour)
		must(t, e.s.SetPendingRetention(ctx, tn.ID, json.RawMessage(`{"keep_all": "7d"}`), at))
		got, err := e.s.TenantByName(ctx, "a")
		must(t, err)
		if string(got.Retention) != `{"keep_all":"14d"}` || string(got.RetentionPending) != `{"keep_all":"7d"}` || !got.RetentionPendingAt.Equal(at) {
			t.Fatalf("pending policy: %+v", got)
		}
		applied, err := e.s.ApplyPendingRetention(ctx, tn.ID)
		must(t, err)
		if applied {
			t.Fatal("a pending policy was applied before its time")
		}
		e.clock.Add(7 * 24 * time.Hour)
		applied, err = e.s.ApplyPendingRetention(ctx, tn.ID)
		must(t, err)
		got, err = e.s.TenantByName(ctx, "a")
		must(t, err)
		if !applied || string(got.Retention) != `{"keep_all":"7d"}` || got.RetentionPending != nil {
			t.Fatalf("after the delay: applied=%v %+v", applied, got)
		}

		// A stricter policy set now drops the waiting one.
		must(t, e.s.SetPendingRetention(ctx, tn.ID, json.RawMessage(`{"keep_all": "1d"}`), e.clock.Now().Add(time.Hour)))
		must(t, e.s.SetRetention(ctx, tn.ID, json.RawMessage(`{"keep_all": "30d"}`)))
		got, err = e.s.TenantByName(ctx, "a")
		must(t, err)
		if got.RetentionPending != nil {
			t.Fatalf("pending policy survived a direct change: %+v", got)
		}

		must(t, e.s.SetLockDays(ctx, tn.ID, 30))
		wantErr(t, e.s.SetLockDays(ctx, tn.ID, 29), ErrLocked, "shorten the lock")
		wantErr(t, e.s.SetLockDays(ctx, tn.ID, -1), ErrInvalid, "negative lock")
		must(t, e.s.SetLockDays(ctx, tn.ID, 30))
		must(t, e.s.SetLockDays(ctx, tn.ID, 365))
		got, err = e.s.TenantByName(ctx, "a")
		must(t, err)
		if got.Lock.Days != 365 {
			t.Fatalf("lock = %+v", got.Lock)
		}
	})
}

func TestGCRuns(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := mustTenant(t, e, "a")
		_, err := e.s.LastGCRun(ctx, tn.ID)
		wantErr(t, err, ErrNotFound, "no run yet")
		now := e.clock.Now()
		must(t, e.s.RecordGCRun(ctx, GCRun{TenantID: tn.ID, Started: now, Finished: now.Add(time.Second), SnapshotsKept: 3, SnapshotsDeleted: 1, PacksDeleted: 4, BytesFreed: 1 << 20}))
		must(t, e.s.RecordGCRun(ctx, GCRun{TenantID: tn.ID, Started: now.Add(time.Hour), Finished: now.Add(time.Hour), DryRun: true}))
		r, err := e.s.LastGCRun(ctx, tn.ID)
		must(t, err)
		if r.PacksDeleted != 4 || r.BytesFreed != 1<<20 || r.DryRun || !r.Finished.Equal(now.Add(time.Second)) {
			t.Fatalf("LastGCRun = %+v", r)
		}
	})
}
