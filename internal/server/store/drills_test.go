package store

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// TestDrills: drills are recorded with their evidence and its hash, per
// tenant, newest first; a failed one opens a drill alert in the same
// transaction, which does not freeze retention (OpenAlerts and
// HasOpenAlert count Sentinel alerts only) but is listed with the others.
func TestDrills(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, b := mustTenant(t, e, "a"), mustTenant(t, e, "b")
		t0 := e.clock.Now()
		nd := func(tn Tenant, svc, result string, alert bool) NewDrill {
			return NewDrill{TenantID: tn.ID, Service: svc, Result: result, Started: t0, Finished: t0.Add(time.Minute),
				RecordedBy: "agent:1", RanBy: "root@fs01", Host: "fs01", Evidence: []byte(`{"service":"` + svc + `"}`),
				Alert: alert, AlertDetail: "drill of " + svc + " " + result}
		}
		d1, al, err := e.s.RecordDrill(ctx, nd(a, "paie", DrillPassed, false))
		must(t, err)
		if al != nil || d1.ID == 0 || d1.AlertID != 0 || len(d1.SHA256) != 64 {
			t.Fatalf("passed drill: %+v alert %v", d1, al)
		}
		e.clock.Add(time.Hour)
		d2, al, err := e.s.RecordDrill(ctx, nd(a, "paie", DrillFailed, true))
		must(t, err)
		if al == nil || d2.AlertID != al.ID || al.Kind != AlertDrill || al.Snapshot != "drill:"+itoa(d2.ID) || al.Detail != "drill of paie failed" ||
			al.Source != "agent:1" || !al.IsOpen() || al.Tenant != "a" {
			t.Fatalf("failed drill: %+v alert %+v", d2, al)
		}
		_, _, err = e.s.RecordDrill(ctx, nd(a, "eau", DrillSlow, true))
		must(t, err)
		_, _, err = e.s.RecordDrill(ctx, nd(b, "paie", DrillPassed, false))
		must(t, err)

		bad := nd(a, "paie", "maybe", false)
		_, _, err = e.s.RecordDrill(ctx, bad)
		wantErr(t, err, ErrInvalid, "unknown result")
		bad = nd(a, "paie", DrillPassed, false)
		bad.Evidence = nil
		_, _, err = e.s.RecordDrill(ctx, bad)
		wantErr(t, err, ErrInvalid, "no evidence")
		_, _, err = e.s.RecordDrill(ctx, nd(Tenant{ID: 999}, "paie", DrillPassed, false))
		wantErr(t, err, ErrNotFound, "unknown tenant")

		list, err := e.s.Drills(ctx, DrillFilter{TenantID: a.ID})
		must(t, err)
		if len(list) != 3 || list[0].Service != "eau" || list[2].ID != d1.ID {
			t.Fatalf("Drills(a) = %+v", list)
		}
		latest, err := e.s.LatestDrills(ctx, a.ID)
		must(t, err)
		if len(latest) != 2 || latest[0].Service != "eau" || latest[0].Result != DrillSlow || latest[1].ID != d2.ID || latest[1].Result != DrillFailed ||
			!latest[1].Finished.Equal(t0.Add(time.Minute)) {
			t.Fatalf("LatestDrills(a) = %+v", latest)
		}
		list, err = e.s.Drills(ctx, DrillFilter{TenantID: a.ID, Until: t0})
		must(t, err)
		if len(list) != 3 {
			t.Fatalf("Drills(a, until the first start) = %+v", list)
		}
		list, err = e.s.Drills(ctx, DrillFilter{TenantID: a.ID, Until: t0.Add(-time.Second)})
		must(t, err)
		if len(list) != 0 {
			t.Fatalf("Drills(a, until before any) = %+v", list)
		}
		list, err = e.s.Drills(ctx, DrillFilter{TenantID: a.ID, Service: "paie", Limit: 1})
		must(t, err)
		if len(list) != 1 || list[0].ID != d2.ID || string(list[0].Evidence) != `{"service":"paie"}` || !list[0].Recorded.Equal(t0.Add(time.Hour)) {
			t.Fatalf("Drills(a, paie, 1) = %+v", list)
		}
		got, err := e.s.Drill(ctx, a.ID, d2.ID)
		must(t, err)
		if got.AlertID != d2.AlertID || got.SHA256 != d2.SHA256 || got.RanBy != "root@fs01" || !got.Started.Equal(t0) {
			t.Fatalf("Drill = %+v, want %+v", got, d2)
		}
		_, err = e.s.Drill(ctx, b.ID, d2.ID)
		wantErr(t, err, ErrNotFound, "another tenant's drill")

		// Drill alerts do not freeze retention; a Sentinel alert does.
		has, err := e.s.HasOpenAlert(ctx, a.ID)
		must(t, err)
		open, err := e.s.OpenAlerts(ctx, a.ID)
		must(t, err)
		if has || len(open) != 0 {
			t.Fatalf("drill alerts count as freezing: %v %v", has, open)
		}
		must(t, e.s.RecordSnapshot(ctx, SnapshotRecord{TenantID: a.ID, Name: "s1", Received: t0, Writer: "agent:1", Size: 1}))
		sa, _, err := e.s.OpenAlert(ctx, NewAlert{TenantID: a.ID, Snapshot: "s1", Flag: FlagInfected, Source: "agent:1"})
		must(t, err)
		if sa.Kind != AlertSentinel {
			t.Fatalf("Sentinel alert of kind %q", sa.Kind)
		}
		has, err = e.s.HasOpenAlert(ctx, a.ID)
		must(t, err)
		open, err = e.s.OpenAlerts(ctx, a.ID)
		must(t, err)
		if !has || len(open) != 1 || open[0].ID != sa.ID {
			t.Fatalf("Sentinel alert: %v %v", has, open)
		}
		all, err := e.s.Alerts(ctx, AlertFilter{TenantID: a.ID, State: AlertsOpen})
		must(t, err)
		drills, err := e.s.Alerts(ctx, AlertFilter{TenantID: a.ID, State: AlertsOpen, Kind: AlertDrill})
		must(t, err)
		if len(all) != 3 || len(drills) != 2 {
			t.Fatalf("alerts: %d open, %d of drills", len(all), len(drills))
		}
		closed, err := e.s.CloseAlert(ctx, al.ID, "account:dsi", "pack repaired, drill run again")
		must(t, err)
		if closed.Kind != AlertDrill || closed.IsOpen() {
			t.Fatalf("closed drill alert: %+v", closed)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestMigration7KeepsAlerts: a database made by the previous version (6)
// with a Sentinel alert is migrated: the alert is of kind sentinel, still
// freezes retention, and drills can be recorded.
func TestMigration7KeepsAlerts(t *testing.T) {
	forEachDB(t, func(t *testing.T, e0 *env) {
		ctx := context.Background()
		// A fresh database of schema 6.
		e := &env{clock: e0.clock, dialect: e0.dialect}
		if e.dialect == "sqlite" {
			e.target = t.TempDir() + "/v6.db"
		} else {
			e.target = postgresDSN(t)
		}
		all := migrations
		migrations = all[:6]
		s6, err := e.open(t, e.options())
		migrations = all
		must(t, err)
		tn, err := s6.CreateTenant(ctx, NewTenant{Name: "a"})
		must(t, err)
		must(t, s6.RecordSnapshot(ctx, SnapshotRecord{TenantID: tn.ID, Name: "s1", Received: e.clock.Now(), Writer: "agent:1", Size: 1}))
		_, err = s6.db.ExecContext(ctx, s6.q(`INSERT INTO alerts (tenant_id, snapshot, flag, source, opened_at, clean_snapshot)
			VALUES (?, 's1', 3, 'agent:1', 1, '')`), tn.ID)
		must(t, err)
		s6.Close()

		s7, err := e.open(t, e.options())
		must(t, err)
		v, err := s7.AppliedMigrations(ctx)
		must(t, err)
		if v[len(v)-1] != SchemaVersion() {
			t.Fatalf("migrations %v", v)
		}
		open, err := s7.OpenAlerts(ctx, tn.ID)
		must(t, err)
		if len(open) != 1 || open[0].Kind != AlertSentinel || open[0].Detail != "" {
			t.Fatalf("alert after migration: %+v", open)
		}
		_, al, err := s7.RecordDrill(ctx, NewDrill{TenantID: tn.ID, Service: "paie", Result: DrillFailed, Started: e.clock.Now(),
			Finished: e.clock.Now(), RecordedBy: "account:dsi", Evidence: []byte("{}"), Alert: true, AlertDetail: "x"})
		must(t, err)
		if al == nil || al.Kind != AlertDrill {
			t.Fatalf("drill alert after migration: %+v", al)
		}
	})
}
