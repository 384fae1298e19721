package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

func TestAlerts(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, b := mustTenant(t, e, "a"), mustTenant(t, e, "b")
		t0 := e.clock.Now()
		rec := func(tn Tenant, name, writer string, at time.Time, flag int) {
			t.Helper()
			must(t, e.s.RecordSnapshot(ctx, SnapshotRecord{TenantID: tn.ID, Name: name, Received: at, Writer: writer, Size: 1}))
			must(t, e.s.SetSnapshotFlag(ctx, tn.ID, name, flag))
		}
		rec(a, "s1", "agent:1", t0, FlagNone)
		rec(a, "s2", "agent:1", t0.Add(time.Hour), FlagClean)
		rec(a, "other", "agent:2", t0.Add(2*time.Hour), FlagClean)
		rec(a, "s3", "agent:1", t0.Add(3*time.Hour), FlagSuspect)
		rec(a, "s4", "agent:1", t0.Add(4*time.Hour), FlagInfected)
		wantErr(t, e.s.SetSnapshotFlag(ctx, a.ID, "s1", 4), ErrInvalid, "flag 4")
		wantErr(t, e.s.SetSnapshotFlag(ctx, a.ID, "nope", 1), ErrNotFound, "flag of an unknown snapshot")

		flags, err := e.s.SnapshotFlags(ctx, a.ID)
		must(t, err)
		if flags["s1"] != FlagNone || flags["s2"] != FlagClean || flags["s3"] != FlagSuspect || flags["s4"] != FlagInfected || len(flags) != 5 {
			t.Fatalf("SnapshotFlags = %v", flags)
		}
		// The last clean snapshot of agent:1 before s4 is s2: s3 is
		// suspect and "other" came from another source.
		clean, err := e.s.LastCleanSnapshot(ctx, a.ID, "agent:1", t0.Add(4*time.Hour))
		must(t, err)
		if clean.Name != "s2" || !clean.Received.Equal(t0.Add(time.Hour)) {
			t.Fatalf("LastCleanSnapshot = %+v, want s2", clean)
		}
		_, err = e.s.LastCleanSnapshot(ctx, a.ID, "agent:1", t0)
		wantErr(t, err, ErrNotFound, "no clean snapshot before the first")
		got, err := e.s.SnapshotRecordByName(ctx, a.ID, "s4")
		must(t, err)
		if got.Writer != "agent:1" || !got.Received.Equal(t0.Add(4*time.Hour)) {
			t.Fatalf("SnapshotRecordByName = %+v", got)
		}
		_, err = e.s.SnapshotRecordByName(ctx, b.ID, "s4")
		wantErr(t, err, ErrNotFound, "snapshot of another tenant")

		has, err := e.s.HasOpenAlert(ctx, a.ID)
		must(t, err)
		if has {
			t.Fatal("a tenant without alerts has an open alert")
		}
		_, _, err = e.s.OpenAlert(ctx, NewAlert{TenantID: a.ID, Snapshot: "s2", Flag: FlagClean, Source: "agent:1"})
		wantErr(t, err, ErrInvalid, "alert for a clean snapshot")
		_, _, err = e.s.OpenAlert(ctx, NewAlert{TenantID: 999, Snapshot: "s2", Flag: FlagSuspect, Source: "agent:1"})
		wantErr(t, err, ErrNotFound, "alert of an unknown tenant")

		al, created, err := e.s.OpenAlert(ctx, NewAlert{TenantID: a.ID, Snapshot: "s4", Flag: FlagInfected, Source: "agent:1",
			CleanSnapshot: clean.Name, CleanReceived: clean.Received})
		must(t, err)
		if !created || al.ID == 0 || al.Tenant != "a" || al.Snapshot != "s4" || al.Flag != FlagInfected || al.Source != "agent:1" ||
			al.CleanSnapshot != "s2" || !al.CleanReceived.Equal(clean.Received) || !al.Opened.Equal(t0) || !al.IsOpen() {
			t.Fatalf("OpenAlert = %+v, %v", al, created)
		}
		// Idempotent per snapshot.
		again, created, err := e.s.OpenAlert(ctx, NewAlert{TenantID: a.ID, Snapshot: "s4", Flag: FlagInfected, Source: "agent:1"})
		must(t, err)
		if created || again.ID != al.ID || again.CleanSnapshot != "s2" {
			t.Fatalf("OpenAlert again = %+v, %v; want the same alert", again, created)
		}
		e.clock.Add(time.Minute)
		al2, created, err := e.s.OpenAlert(ctx, NewAlert{TenantID: a.ID, Snapshot: "s3", Flag: FlagSuspect, Source: "agent:1"})
		must(t, err)
		if !created || al2.ID == al.ID || al2.CleanSnapshot != "" || !al2.CleanReceived.IsZero() {
			t.Fatalf("second alert = %+v", al2)
		}
		bAlert, _, err := e.s.OpenAlert(ctx, NewAlert{TenantID: b.ID, Snapshot: "s4", Flag: FlagSuspect, Source: "agent:3"})
		must(t, err)

		list, err := e.s.Alerts(ctx, AlertFilter{State: AlertsOpen})
		must(t, err)
		if len(list) != 3 || list[0].ID != bAlert.ID {
			t.Fatalf("open alerts of every tenant, newest first: %+v", list)
		}
		open, err := e.s.OpenAlerts(ctx, a.ID)
		must(t, err)
		if len(open) != 2 || open[0].ID != al.ID || open[1].ID != al2.ID {
			t.Fatalf("OpenAlerts(a), oldest first: %+v", open)
		}

		_, err = e.s.CloseAlert(ctx, al.ID, "account:dsi", "  ")
		wantErr(t, err, ErrInvalid, "close without a note")
		e.clock.Add(time.Hour)
		closed, err := e.s.CloseAlert(ctx, al.ID, "account:dsi", "  restored from s2; the PC was reinstalled ")
		must(t, err)
		if closed.IsOpen() || closed.ClosedBy != "account:dsi" || closed.CloseNote != "restored from s2; the PC was reinstalled" ||
			!closed.Closed.Equal(e.clock.Now()) {
			t.Fatalf("CloseAlert = %+v", closed)
		}
		_, err = e.s.CloseAlert(ctx, al.ID, "account:op", "again")
		wantErr(t, err, ErrAlreadyClosed, "closing twice")
		_, err = e.s.CloseAlert(ctx, 999, "account:op", "note")
		wantErr(t, err, ErrNotFound, "closing an unknown alert")
		got1, err := e.s.Alert(ctx, al.ID)
		must(t, err)
		if got1.ClosedBy != "account:dsi" {
			t.Fatalf("a refused second close changed the alert: %+v", got1)
		}
		_, err = e.s.Alert(ctx, 999)
		wantErr(t, err, ErrNotFound, "unknown alert")

		closedList, err := e.s.Alerts(ctx, AlertFilter{TenantID: a.ID, State: AlertsClosed})
		must(t, err)
		all, err := e.s.Alerts(ctx, AlertFilter{TenantID: a.ID, State: AlertsAll})
		must(t, err)
		if len(closedList) != 1 || closedList[0].ID != al.ID || len(all) != 2 {
			t.Fatalf("closed: %+v; all: %+v", closedList, all)
		}
		// A closed alert is not reopened by a replay of its snapshot.
		replay, created, err := e.s.OpenAlert(ctx, NewAlert{TenantID: a.ID, Snapshot: "s4", Flag: FlagInfected, Source: "agent:1"})
		must(t, err)
		if created || replay.IsOpen() {
			t.Fatalf("replay reopened the alert: %+v", replay)
		}
		has, err = e.s.HasOpenAlert(ctx, a.ID)
		must(t, err)
		if !has {
			t.Fatal("alert s3 is still open")
		}
		_, err = e.s.CloseAlert(ctx, al2.ID, "account:op", "false alarm")
		must(t, err)
		if has, err = e.s.HasOpenAlert(ctx, a.ID); err != nil || has {
			t.Fatalf("after closing every alert: %v %v", has, err)
		}
	})
}

func TestNotificationSettings(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := mustTenant(t, e, "a")
		got, err := e.s.NotificationSettings(ctx, a.ID)
		must(t, err)
		if string(got) != "{}" {
			t.Fatalf("default settings = %s", got)
		}
		must(t, e.s.SetNotificationSettings(ctx, a.ID, json.RawMessage(`{"webhook": {"url": "https://x.example/h"}}`)))
		must(t, e.s.SetNotificationSettings(ctx, a.ID, json.RawMessage(`{"syslog": {"network": "udp", "address": "10.0.0.1:514"}}`)))
		got, err = e.s.NotificationSettings(ctx, a.ID)
		must(t, err)
		if string(got) != `{"syslog":{"network":"udp","address":"10.0.0.1:514"}}` {
			t.Fatalf("settings after replacement = %s", got)
		}
		wantErr(t, e.s.SetNotificationSettings(ctx, a.ID, json.RawMessage(`[]`)), ErrInvalid, "not an object")
		wantErr(t, e.s.SetNotificationSettings(ctx, 999, json.RawMessage(`{}`)), ErrNotFound, "unknown tenant")
	})
}
