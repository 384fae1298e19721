package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestDrillRequests: requests are queued once per service, claimed
// oldest first by one machine at a time, kept alive by progress, ended by
// the drill that answers them, by a failure (which opens a drill alert),
// by a cancel, or by their lease running out; each tenant sees its own.
func TestDrillRequests(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, b := mustTenant(t, e, "a"), mustTenant(t, e, "b")
		const lease = 5 * time.Minute

		_, _, err := e.s.RequestDrills(ctx, a.ID, nil, "account:dsi")
		wantErr(t, err, ErrInvalid, "no service")
		_, _, err = e.s.RequestDrills(ctx, 999, []string{"paie"}, "account:dsi")
		wantErr(t, err, ErrNotFound, "unknown tenant")

		reqs, created, err := e.s.RequestDrills(ctx, a.ID, []string{"paie", "eau"}, "account:dsi")
		must(t, err)
		if len(reqs) != 2 || !created[0] || !created[1] || reqs[0].State != RequestQueued || reqs[0].Service != "paie" || reqs[1].ID <= reqs[0].ID {
			t.Fatalf("RequestDrills = %+v %v", reqs, created)
		}
		// Asking again while open returns the same request.
		again, created, err := e.s.RequestDrills(ctx, a.ID, []string{"eau", "web"}, "schedule")
		must(t, err)
		if again[0].ID != reqs[1].ID || created[0] || !created[1] || again[1].RequestedBy != "schedule" {
			t.Fatalf("second RequestDrills = %+v %v", again, created)
		}
		// Nothing queued in b.
		_, ok, err := e.s.ClaimDrillRequest(ctx, b.ID, "agent:9", "b01", lease)
		must(t, err)
		if ok {
			t.Fatal("b claimed one of a's requests")
		}

		// Claims go oldest first; the runner is recorded.
		e.clock.Add(time.Minute)
		c1, ok, err := e.s.ClaimDrillRequest(ctx, a.ID, "agent:1", "fs01", lease)
		must(t, err)
		if !ok || c1.ID != reqs[0].ID || c1.State != RequestRunning || c1.Host != "fs01" || !c1.LeaseUntil.Equal(e.clock.Now().Add(lease)) {
			t.Fatalf("claim = %+v %v", c1, ok)
		}
		runners, err := e.s.DrillRunners(ctx, a.ID)
		must(t, err)
		if len(runners) != 1 || runners[0].Host != "fs01" || runners[0].Actor != "agent:1" || !runners[0].LastSeen.Equal(e.clock.Now()) {
			t.Fatalf("runners = %+v", runners)
		}

		// Progress only from the claimer of a running request.
		_, err = e.s.ReportDrillProgress(ctx, a.ID, c1.ID, "agent:2", "restoring", 1, 2, lease)
		wantErr(t, err, ErrConflict, "someone else's request")
		_, err = e.s.ReportDrillProgress(ctx, b.ID, c1.ID, "agent:1", "restoring", 1, 2, lease)
		wantErr(t, err, ErrNotFound, "through another tenant")
		e.clock.Add(4 * time.Minute)
		p, err := e.s.ReportDrillProgress(ctx, a.ID, c1.ID, "agent:1", "restoring", 50, 100, lease)
		must(t, err)
		if p.Phase != "restoring" || p.Done != 50 || p.Total != 100 || !p.LeaseUntil.Equal(e.clock.Now().Add(lease)) {
			t.Fatalf("progress = %+v", p)
		}
		// Renewed: not expired 4 minutes later.
		e.clock.Add(4 * time.Minute)
		exp, err := e.s.ExpireDrillRequests(ctx)
		must(t, err)
		if len(exp) != 0 {
			t.Fatalf("expired a renewed request: %+v", exp)
		}

		// The drill that answers it marks it done, in the same transaction.
		t0 := e.clock.Now()
		nd := NewDrill{TenantID: a.ID, Service: "paie", Result: DrillPassed, Started: t0, Finished: t0, RecordedBy: "agent:2",
			Evidence: []byte(`{}`), RequestID: c1.ID}
		_, _, err = e.s.RecordDrill(ctx, nd)
		wantErr(t, err, ErrConflict, "a drill for someone else's request")
		nd.RecordedBy = "agent:1"
		d, _, err := e.s.RecordDrill(ctx, nd)
		must(t, err)
		done, err := e.s.DrillRequest(ctx, a.ID, c1.ID)
		must(t, err)
		if done.State != RequestDone || done.DrillID != d.ID || done.DrillResult != DrillPassed || done.Finished.IsZero() || done.Open() {
			t.Fatalf("answered request = %+v", done)
		}
		_, err = e.s.ReportDrillProgress(ctx, a.ID, c1.ID, "agent:1", "verifying", 1, 2, lease)
		wantErr(t, err, ErrConflict, "progress of a done request")

		// A failure opens a drill alert.
		c2, ok, err := e.s.ClaimDrillRequest(ctx, a.ID, "agent:1", "fs01", lease)
		must(t, err)
		if !ok || c2.Service != "eau" {
			t.Fatalf("second claim = %+v", c2)
		}
		_, _, err = e.s.FailDrillRequest(ctx, a.ID, c2.ID, "agent:1", "  ")
		wantErr(t, err, ErrInvalid, "no reason")
		f, al, err := e.s.FailDrillRequest(ctx, a.ID, c2.ID, "agent:1", "cannot open the repository: wrong passphrase")
		must(t, err)
		if f.State != RequestFailed || f.AlertID == 0 || al == nil || al.Kind != AlertDrill || al.Snapshot != DrillRequestAlertPrefix+itoa(c2.ID) ||
			!strings.Contains(al.Detail, "wrong passphrase") || !strings.Contains(al.Detail, "eau") {
			t.Fatalf("failed request %+v alert %+v", f, al)
		}

		// Cancel: queued or running only.
		c3, _, err := e.s.ClaimDrillRequest(ctx, a.ID, "agent:1", "fs01", lease)
		must(t, err)
		cx, err := e.s.CancelDrillRequest(ctx, a.ID, c3.ID, "account:dsi")
		must(t, err)
		if cx.State != RequestCancelled || cx.CancelledBy != "account:dsi" {
			t.Fatalf("cancelled = %+v", cx)
		}
		_, err = e.s.CancelDrillRequest(ctx, a.ID, c3.ID, "account:dsi")
		wantErr(t, err, ErrConflict, "cancel twice")
		_, err = e.s.ReportDrillProgress(ctx, a.ID, c3.ID, "agent:1", "restoring", 1, 2, lease)
		wantErr(t, err, ErrConflict, "progress of a cancelled request")
		// A drill recorded for a cancelled request is kept; the request stays cancelled.
		nd.RequestID, nd.Service = c3.ID, "web"
		_, _, err = e.s.RecordDrill(ctx, nd)
		must(t, err)
		if r, _ := e.s.DrillRequest(ctx, a.ID, c3.ID); r.State != RequestCancelled {
			t.Fatalf("cancelled request became %s", r.State)
		}

		// A running request with no news fails when its lease runs out.
		q, _, err := e.s.RequestDrills(ctx, a.ID, []string{"paie"}, "account:dsi")
		must(t, err)
		c4, ok, err := e.s.ClaimDrillRequest(ctx, a.ID, "agent:1", "fs01", lease)
		must(t, err)
		if !ok || c4.ID != q[0].ID {
			t.Fatalf("claim after done: %+v", c4)
		}
		e.clock.Add(lease + time.Second)
		exp, err = e.s.ExpireDrillRequests(ctx)
		must(t, err)
		if len(exp) != 1 || exp[0].ID != c4.ID || exp[0].State != RequestFailed || !strings.Contains(exp[0].Error, "no news from fs01") || exp[0].AlertID == 0 {
			t.Fatalf("expired = %+v", exp)
		}
		exp, err = e.s.ExpireDrillRequests(ctx)
		must(t, err)
		if len(exp) != 0 {
			t.Fatalf("expired twice: %+v", exp)
		}

		list, err := e.s.DrillRequests(ctx, a.ID, 0)
		must(t, err)
		if len(list) != 4 || list[0].ID != c4.ID {
			t.Fatalf("DrillRequests(a) = %+v", list)
		}
		open, _, err := e.s.RequestDrills(ctx, a.ID, []string{"eau"}, "account:dsi")
		must(t, err)
		list, err = e.s.DrillRequests(ctx, a.ID, 1)
		must(t, err)
		if len(list) != 2 || list[0].ID != open[0].ID || !list[0].Open() || list[1].ID != c4.ID {
			t.Fatalf("DrillRequests(a, 1): open ones first, then the newest closed: %+v", list)
		}
		lb, err := e.s.DrillRequests(ctx, b.ID, 0)
		must(t, err)
		if len(lb) != 0 {
			t.Fatalf("b sees %+v", lb)
		}
	})
}

// TestDrillSchedules: one schedule per tenant, due when its next run has
// come, moved on only if unchanged since it was read.
func TestDrillSchedules(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := mustTenant(t, e, "a")
		_, err := e.s.DrillScheduleOf(ctx, a.ID)
		wantErr(t, err, ErrNotFound, "no schedule yet")
		next := e.clock.Now().Add(time.Hour)
		for _, bad := range []DrillSchedule{
			{TenantID: a.ID, EveryDays: 366, At: "02:30", Next: next, UpdatedBy: "x"},
			{TenantID: a.ID, EveryDays: 30, At: "24:00", Next: next, UpdatedBy: "x"},
			{TenantID: a.ID, EveryDays: 30, At: "2:30", Next: next, UpdatedBy: "x"},
			{TenantID: a.ID, EveryDays: -1, At: "02:30", Next: next, UpdatedBy: "x"},
		} {
			_, err := e.s.SetDrillSchedule(ctx, bad)
			wantErr(t, err, ErrInvalid, "schedule "+bad.At)
		}
		sc, err := e.s.SetDrillSchedule(ctx, DrillSchedule{TenantID: a.ID, EveryDays: 30, At: "02:30", Next: next, UpdatedBy: "account:dsi"})
		must(t, err)
		if sc.EveryDays != 30 || sc.At != "02:30" || !sc.Next.Equal(next) || !sc.LastRun.IsZero() || sc.UpdatedBy != "account:dsi" {
			t.Fatalf("schedule = %+v", sc)
		}
		due, err := e.s.DueDrillSchedules(ctx, e.clock.Now())
		must(t, err)
		if len(due) != 0 {
			t.Fatalf("due too early: %+v", due)
		}
		e.clock.Add(time.Hour)
		due, err = e.s.DueDrillSchedules(ctx, e.clock.Now())
		must(t, err)
		if len(due) != 1 || due[0].TenantID != a.ID {
			t.Fatalf("due = %+v", due)
		}
		later := next.Add(30 * 24 * time.Hour)
		must(t, e.s.MarkDrillScheduleRun(ctx, a.ID, due[0].Next, e.clock.Now(), later))
		wantErr(t, e.s.MarkDrillScheduleRun(ctx, a.ID, due[0].Next, e.clock.Now(), later), ErrConflict, "mark the same run twice")
		sc, err = e.s.DrillScheduleOf(ctx, a.ID)
		must(t, err)
		if !sc.Next.Equal(later) || !sc.LastRun.Equal(e.clock.Now()) {
			t.Fatalf("after a run: %+v", sc)
		}
		// Changing it keeps the last run; 0 days removes it.
		sc, err = e.s.SetDrillSchedule(ctx, DrillSchedule{TenantID: a.ID, EveryDays: 7, At: "03:00", Next: later, UpdatedBy: "account:op"})
		must(t, err)
		if sc.EveryDays != 7 || sc.LastRun.IsZero() {
			t.Fatalf("changed schedule = %+v", sc)
		}
		_, err = e.s.SetDrillSchedule(ctx, DrillSchedule{TenantID: a.ID, UpdatedBy: "account:op"})
		must(t, err)
		_, err = e.s.DrillScheduleOf(ctx, a.ID)
		wantErr(t, err, ErrNotFound, "removed schedule")
	})
}
