package retention

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rempart/rempart/internal/server/storage"
	"github.com/rempart/rempart/internal/server/store"
	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/snapshot"
)

// Defaults of a Service.
const (
	// DefaultGrace is how old an unreferenced pack must be before it is
	// collected: packs of a backup still running are named by no snapshot
	// yet. Two days covers a first backup over a slow line.
	DefaultGrace = 48 * time.Hour
	// DefaultLoosenDelay is how long a looser policy waits before it
	// applies, so that a stolen admin password cannot make backups vanish
	// at once, and the audit trail has time to be read.
	DefaultLoosenDelay = 7 * 24 * time.Hour
	// LockStale is how long after its last refresh a client's lock file is
	// removed by the server. Clients refresh every 5 minutes and ignore
	// locks older than 30 minutes; this is twice that.
	LockStale = time.Hour
	// maxSnapshotFile bounds what is read of one snapshot file.
	maxSnapshotFile = 64 << 20
)

// AuditFunc writes to the server's audit trail.
type AuditFunc func(ctx context.Context, actor, action, tenant string, detail map[string]any)

// Service applies retention to every tenant of a server. It is also the
// repository API's view of retention (Guard, LockUntil, Committed).
type Service struct {
	Store   *store.Store
	Storage storage.Storage
	// Now is the clock (nil: time.Now); tests move it.
	Now func() time.Time
	// Location holds the calendar days of daily/weekly/... rules (nil: the
	// server's local time).
	Location *time.Location
	// Grace: DefaultGrace when zero. LoosenDelay: DefaultLoosenDelay when
	// zero; negative for none (tests only).
	Grace       time.Duration
	LoosenDelay time.Duration
	Audit       AuditFunc    // nil: nothing is audited
	Log         *slog.Logger // nil: slog.Default()
	// Notify is told of every alert opened (it must not block: it queues);
	// nil: alerts are only recorded, logged and audited.
	Notify func(ctx context.Context, a store.Alert)

	mu      sync.Mutex
	tenants map[string]*sync.Mutex
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Service) audit(ctx context.Context, actor, action, tenant string, detail map[string]any) {
	if s.Audit != nil {
		s.Audit(ctx, actor, action, tenant, detail)
	}
}

func (s *Service) grace() time.Duration {
	if s.Grace > 0 {
		return s.Grace
	}
	return DefaultGrace
}

func (s *Service) loosenDelay() time.Duration {
	switch {
	case s.LoosenDelay < 0:
		return 0
	case s.LoosenDelay == 0:
		return DefaultLoosenDelay
	}
	return s.LoosenDelay
}

// tenantLock is held by a snapshot commit and by a collection of the same
// tenant: a collection never sees a snapshot half-committed, so it cannot
// delete a pack that a snapshot being accepted names. (One server process
// per storage; several would need a shared lock.)
func (s *Service) tenantLock(tenant string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tenants == nil {
		s.tenants = map[string]*sync.Mutex{}
	}
	m := s.tenants[tenant]
	if m == nil {
		m = &sync.Mutex{}
		s.tenants[tenant] = m
	}
	return m
}

// Guard runs fn while no collection runs on tenant.
func (s *Service) Guard(tenant string, fn func() error) error {
	m := s.tenantLock(tenant)
	m.Lock()
	defer m.Unlock()
	return fn()
}

// LockUntil is the retention lock of a file the tenant writes now: its
// lock in days from now, or zero when it has none.
func (s *Service) LockUntil(ctx context.Context, tenant string) (time.Time, error) {
	t, err := s.Store.TenantByName(ctx, tenant)
	if err != nil {
		return time.Time{}, err
	}
	if t.Lock.Days == 0 {
		return time.Time{}, nil
	}
	return s.now().Add(time.Duration(t.Lock.Days) * 24 * time.Hour), nil
}

// Committed records a snapshot the repository API has just stored, with
// the server's clock as its time of arrival and the verdict flag of its
// plain header. A suspect or infected snapshot opens an alert (once per
// snapshot): it is audited, notified, and freezes the tenant's retention
// until an admin closes it.
func (s *Service) Committed(ctx context.Context, tenant, name, writer string, size int64, lockUntil time.Time, flag snapshot.Flag) error {
	t, err := s.Store.TenantByName(ctx, tenant)
	if err != nil {
		return err
	}
	err = s.Store.RecordSnapshot(ctx, store.SnapshotRecord{
		TenantID: t.ID, Name: name, Received: s.now(), Writer: writer, Size: size, LockUntil: lockUntil,
	})
	if err != nil {
		return err
	}
	if flag == snapshot.FlagNone {
		return nil
	}
	if err := s.Store.SetSnapshotFlag(ctx, t.ID, name, int(flag)); err != nil {
		return err
	}
	if flag == snapshot.FlagSuspect || flag == snapshot.FlagInfected {
		return s.raise(ctx, t, name, flag)
	}
	return nil
}

// raise opens the alert of a suspect or infected snapshot, with the last
// clean snapshot of the same source as its frozen restore point.
func (s *Service) raise(ctx context.Context, t store.Tenant, name string, flag snapshot.Flag) error {
	// The first record counts: a replayed upload keeps its first arrival
	// and its first sender.
	rec, err := s.Store.SnapshotRecordByName(ctx, t.ID, name)
	if err != nil {
		return err
	}
	n := store.NewAlert{TenantID: t.ID, Snapshot: name, Flag: int(flag), Source: rec.Writer}
	clean, err := s.Store.LastCleanSnapshot(ctx, t.ID, rec.Writer, rec.Received)
	switch {
	case err == nil:
		n.CleanSnapshot, n.CleanReceived = clean.Name, clean.Received
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	a, created, err := s.Store.OpenAlert(ctx, n)
	if err != nil {
		return err
	}
	if !created {
		return nil
	}
	s.log().WarnContext(ctx, "SENTINEL ALERT: a snapshot is flagged "+flag.String()+"; retention of the tenant is frozen until the alert is closed",
		"tenant", t.Name, "alert", a.ID, "snapshot", name, "source", a.Source, "clean_snapshot", a.CleanSnapshot)
	s.audit(ctx, "server", "sentinel.alert.open", t.Name, map[string]any{
		"alert_id": a.ID, "snapshot": name, "verdict": flag.String(), "source": a.Source,
		"received": rec.Received, "clean_snapshot": a.CleanSnapshot,
	})
	if s.Notify != nil {
		s.Notify(ctx, a)
	}
	return nil
}

// PolicyChange is the outcome of SetPolicy.
type PolicyChange struct {
	Policy      Policy    `json:"policy"`
	Pending     bool      `json:"pending"`                // true: waits until EffectiveAt
	EffectiveAt time.Time `json:"effective_at,omitempty"` // when a pending policy applies
}

// SetPolicy changes a tenant's retention policy. A policy that keeps as
// much or more applies at once; one that keeps less in any respect waits
// for the loosening delay. Both are audited.
func (s *Service) SetPolicy(ctx context.Context, actor string, t store.Tenant, next Policy) (PolicyChange, error) {
	cur, err := ParsePolicy(t.Retention)
	if err != nil {
		return PolicyChange{}, fmt.Errorf("retention: tenant %s: stored policy: %w", t.Name, err)
	}
	change := PolicyChange{Policy: next}
	empty, err := s.noSnapshots(ctx, t)
	if err != nil {
		return PolicyChange{}, err
	}
	// Nothing can vanish from a tenant with no snapshot yet: a new town's
	// first policy applies at once.
	if cur.Looser(next) && s.loosenDelay() > 0 && !empty {
		change.Pending, change.EffectiveAt = true, s.now().Add(s.loosenDelay()).UTC()
		if err := s.Store.SetPendingRetention(ctx, t.ID, next.JSON(), change.EffectiveAt); err != nil {
			return PolicyChange{}, err
		}
		s.audit(ctx, actor, "retention.policy.scheduled", t.Name, map[string]any{
			"from": cur.String(), "to": next.String(), "effective_at": change.EffectiveAt,
		})
		return change, nil
	}
	if err := s.Store.SetRetention(ctx, t.ID, next.JSON()); err != nil {
		return PolicyChange{}, err
	}
	s.audit(ctx, actor, "retention.policy.set", t.Name, map[string]any{"from": cur.String(), "to": next.String()})
	return change, nil
}

// noSnapshots reports whether the tenant has no snapshot stored.
func (s *Service) noSnapshots(ctx context.Context, t store.Tenant) (bool, error) {
	errFound := errors.New("found")
	err := s.Storage.List(ctx, t.Name, backend.Snapshot, func(storage.Info) error { return errFound })
	switch {
	case errors.Is(err, errFound):
		return false, nil
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return false, fmt.Errorf("retention: tenant %s: list snapshots: %w", t.Name, err)
	}
	return true, nil
}

// SetLockDays lengthens the lock of the tenant's new snapshots; shortening
// it is refused (store.ErrLocked) and the attempt audited.
func (s *Service) SetLockDays(ctx context.Context, actor string, t store.Tenant, days int) error {
	if err := s.Store.SetLockDays(ctx, t.ID, days); err != nil {
		if errors.Is(err, store.ErrLocked) {
			s.audit(ctx, actor, "retention.lock.refused", t.Name, map[string]any{"from_days": t.Lock.Days, "to_days": days})
		}
		return err
	}
	s.audit(ctx, actor, "retention.lock.set", t.Name, map[string]any{"from_days": t.Lock.Days, "to_days": days})
	return nil
}

// Report is what one collection of a tenant did (or, in a dry run, would
// do).
type Report struct {
	Tenant           string     `json:"tenant"`
	DryRun           bool       `json:"dry_run"`
	Policy           string     `json:"policy"`
	Started          time.Time  `json:"started"`
	Finished         time.Time  `json:"finished"`
	Snapshots        []Decision `json:"snapshots"`
	SnapshotsKept    int        `json:"snapshots_kept"`
	SnapshotsDeleted int        `json:"snapshots_deleted"`
	// SnapshotsLocked expired by policy but the storage still locks them.
	SnapshotsLocked int   `json:"snapshots_locked"`
	PacksReferenced int   `json:"packs_referenced"`
	PacksDeleted    int   `json:"packs_deleted"`
	BytesFreed      int64 `json:"bytes_freed"`
	// PacksYoung are unreferenced but within the grace period.
	PacksYoung   int `json:"packs_young"`
	PacksLocked  int `json:"packs_locked"`
	LocksRemoved int `json:"locks_removed"`
	// Postponed says why packs were not collected this time ("" if they were).
	Postponed string `json:"postponed,omitempty"`
	// FrozenBy lists the open Sentinel alerts: while there is one, no
	// snapshot of the tenant expires.
	FrozenBy []int64 `json:"frozen_by_alerts,omitempty"`
}

// Collect applies the tenant's retention now: snapshots that no rule keeps
// and no lock protects are deleted, then packs that no remaining snapshot
// names and that are older than the grace period, then stale client locks.
// With dryRun nothing is changed.
func (s *Service) Collect(ctx context.Context, actor, tenant string, dryRun bool) (Report, error) {
	m := s.tenantLock(tenant)
	m.Lock()
	defer m.Unlock()
	rep := Report{Tenant: tenant, DryRun: dryRun, Started: s.now().UTC()}
	t, err := s.Store.TenantByName(ctx, tenant)
	if err != nil {
		return rep, err
	}
	err = s.collect(ctx, t, &rep)
	rep.Finished = s.now().UTC()
	run := store.GCRun{
		TenantID: t.ID, Started: rep.Started, Finished: rep.Finished, DryRun: dryRun,
		SnapshotsKept: rep.SnapshotsKept, SnapshotsDeleted: rep.SnapshotsDeleted,
		PacksDeleted: rep.PacksDeleted, BytesFreed: rep.BytesFreed, LocksRemoved: rep.LocksRemoved,
	}
	if err != nil {
		run.Error = err.Error()
	}
	if rerr := s.Store.RecordGCRun(context.WithoutCancel(ctx), run); rerr != nil {
		s.log().ErrorContext(ctx, "retention: recording a collection", "tenant", tenant, "err", rerr)
	}
	if !dryRun && (err != nil || rep.SnapshotsDeleted > 0 || rep.PacksDeleted > 0 || rep.LocksRemoved > 0) {
		detail := map[string]any{
			"snapshots_deleted": rep.SnapshotsDeleted, "packs_deleted": rep.PacksDeleted,
			"bytes_freed": rep.BytesFreed, "locks_removed": rep.LocksRemoved, "snapshots_kept": rep.SnapshotsKept,
		}
		if err != nil {
			detail["error"] = err.Error()
		}
		s.audit(context.WithoutCancel(ctx), actor, "retention.collect", tenant, detail)
	}
	if err != nil {
		return rep, fmt.Errorf("retention: tenant %s: %w", tenant, err)
	}
	return rep, nil
}

func (s *Service) collect(ctx context.Context, t store.Tenant, rep *Report) error {
	now := s.now()
	if !rep.DryRun {
		applied, err := s.Store.ApplyPendingRetention(ctx, t.ID)
		if err != nil {
			return err
		}
		if applied {
			if t, err = s.Store.TenantByName(ctx, t.Name); err != nil {
				return err
			}
			s.audit(ctx, "server", "retention.policy.applied", t.Name, map[string]any{"policy": string(t.Retention)})
		}
	}
	policy, err := ParsePolicy(t.Retention)
	if err != nil {
		return fmt.Errorf("stored policy: %w", err)
	}
	rep.Policy = policy.String()

	// What is stored, and what the server knows of it.
	stored := map[string]storage.Info{}
	err = s.Storage.List(ctx, t.Name, backend.Snapshot, func(i storage.Info) error {
		stored[i.Name] = i
		return nil
	})
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	records, err := s.Store.Snapshots(ctx, t.ID, false)
	if err != nil {
		return err
	}
	known := map[string]store.SnapshotRecord{}
	for _, r := range records {
		if _, ok := stored[r.Name]; !ok {
			// The server's records say it is stored: someone removed it
			// behind the server's back. Loud, never silent.
			s.log().ErrorContext(ctx, "retention: a recorded snapshot is missing from storage", "tenant", t.Name, "snapshot", r.Name)
			s.audit(ctx, "server", "retention.snapshot.missing", t.Name, map[string]any{"snapshot": r.Name, "received": r.Received})
			continue
		}
		known[r.Name] = r
	}
	var snaps []Snapshot
	for name, info := range stored {
		r, ok := known[name]
		if !ok {
			// Stored before the server kept records (or the record was
			// lost): the file's time stands for its arrival.
			r = store.SnapshotRecord{TenantID: t.ID, Name: name, Received: info.ModTime, Size: info.Size}
			if t.Lock.Days > 0 {
				r.LockUntil = info.ModTime.Add(time.Duration(t.Lock.Days) * 24 * time.Hour)
			}
			if !rep.DryRun {
				if err := s.Store.RecordSnapshot(ctx, r); err != nil {
					return err
				}
			}
		}
		lock := r.LockUntil
		if info.RetainUntil.After(lock) {
			lock = info.RetainUntil
		}
		snaps = append(snaps, Snapshot{Name: name, Received: r.Received, Source: r.Writer, LockUntil: lock})
	}
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].Received.Before(snaps[j].Received) })
	// An open Sentinel alert freezes every snapshot of the tenant: which
	// of them are clean is only known coarsely, and nothing may vanish
	// while people investigate.
	alerts, err := s.Store.OpenAlerts(ctx, t.ID)
	if err != nil {
		return err
	}
	if len(alerts) > 0 {
		for i := range snaps {
			snaps[i].Hold = true
		}
	}
	rep.Snapshots = policy.Decide(snaps, now, s.Location)
	if len(alerts) > 0 {
		frozen(rep, alerts)
	}

	// Expired snapshots go first: packs are judged by what remains.
	remaining := map[string]bool{}
	for _, d := range rep.Snapshots {
		if d.Keep {
			rep.SnapshotsKept++
			remaining[d.Name] = true
			continue
		}
		if rep.DryRun {
			rep.SnapshotsDeleted++
			continue
		}
		err := s.Storage.Delete(ctx, t.Name, storage.File{Type: backend.Snapshot, Name: d.Name})
		if errors.Is(err, storage.ErrLocked) {
			rep.SnapshotsLocked++
			remaining[d.Name] = true
			continue
		}
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("delete snapshot %s: %w", d.Name, err)
		}
		if err := s.Store.MarkSnapshotDeleted(ctx, t.ID, d.Name); err != nil {
			return err
		}
		rep.SnapshotsDeleted++
		s.audit(ctx, "server", "retention.snapshot.deleted", t.Name, map[string]any{
			"snapshot": d.Name, "received": d.Received, "source": d.Source,
		})
	}

	// Client locks: stale ones go; a live one means a backup is running.
	var live []string
	var staleLocks []string
	err = s.Storage.List(ctx, t.Name, backend.Lock, func(i storage.Info) error {
		if now.Sub(i.ModTime) > LockStale {
			staleLocks = append(staleLocks, i.Name)
		} else {
			live = append(live, i.Name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list locks: %w", err)
	}
	for _, name := range staleLocks {
		if !rep.DryRun {
			err := s.Storage.Delete(ctx, t.Name, storage.File{Type: backend.Lock, Name: name})
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("delete stale lock %s: %w", name, err)
			}
		}
		rep.LocksRemoved++
	}
	if len(live) > 0 {
		rep.Postponed = fmt.Sprintf("a client holds %d lock(s) (a backup or check is running); packs are collected next time", len(live))
		return nil
	}

	// Packs: keep every one a remaining snapshot names.
	referenced := map[string]bool{}
	for name := range remaining {
		packs, err := s.snapshotPacks(ctx, t.Name, name)
		if err != nil {
			// Never collect packs from an incomplete picture.
			rep.Postponed = fmt.Sprintf("snapshot %s cannot be read (%v); no pack was collected", name, err)
			return fmt.Errorf("snapshot %s: %w; no pack was collected", name, err)
		}
		for _, p := range packs {
			referenced[p] = true
		}
	}
	rep.PacksReferenced = len(referenced)
	type victim struct {
		name string
		size int64
	}
	var victims []victim
	err = s.Storage.List(ctx, t.Name, backend.Pack, func(i storage.Info) error {
		switch {
		case referenced[i.Name]:
		case now.Sub(i.ModTime) < s.grace():
			rep.PacksYoung++
		case i.RetainUntil.After(now):
			rep.PacksLocked++
		default:
			victims = append(victims, victim{i.Name, i.Size})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list packs: %w", err)
	}
	for _, v := range victims {
		if !rep.DryRun {
			err := s.Storage.Delete(ctx, t.Name, storage.File{Type: backend.Pack, Name: v.name})
			if errors.Is(err, storage.ErrLocked) {
				rep.PacksLocked++
				continue
			}
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("delete pack %s: %w", v.name, err)
			}
		}
		rep.PacksDeleted++
		rep.BytesFreed += v.size
	}
	return nil
}

// frozen names the open alerts in the decisions: "frozen by alert #N" in
// place of "hold", and "last clean snapshot before alert #N" on each
// alert's clean restore point.
func frozen(rep *Report, alerts []store.Alert) {
	ids := make([]string, len(alerts))
	for i, a := range alerts {
		rep.FrozenBy = append(rep.FrozenBy, a.ID)
		ids[i] = "#" + strconv.FormatInt(a.ID, 10)
	}
	why := "frozen by alert " + strings.Join(ids, ", ")
	if len(ids) > 1 {
		why = "frozen by alerts " + strings.Join(ids, ", ")
	}
	for i := range rep.Snapshots {
		d := &rep.Snapshots[i]
		d.Keep = true
		named := false
		for j, r := range d.Reasons {
			if r == "hold" {
				d.Reasons[j], named = why, true
			}
		}
		if !named { // the empty policy keeps everything before looking at holds
			d.Reasons = append(d.Reasons, why)
		}
		for _, a := range alerts {
			if a.CleanSnapshot == d.Name {
				d.Reasons = append(d.Reasons, "last clean snapshot before alert #"+strconv.FormatInt(a.ID, 10))
			}
		}
	}
}

// snapshotPacks reads the plain pack list of a stored snapshot.
func (s *Service) snapshotPacks(ctx context.Context, tenant, name string) ([]string, error) {
	obj, err := s.Storage.Open(ctx, tenant, storage.File{Type: backend.Snapshot, Name: name})
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	buf, err := io.ReadAll(io.LimitReader(obj, maxSnapshotFile+1))
	if err != nil {
		return nil, err
	}
	if crypto.Hash(buf).String() != name {
		return nil, errors.New("its content does not match its name (damaged storage)")
	}
	ids, _, err := snapshot.ReadPacks(buf)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out, nil
}

// CollectAll collects every tenant; one tenant's failure does not stop the
// others. It returns the reports and the first error.
func (s *Service) CollectAll(ctx context.Context) ([]Report, error) {
	tenants, err := s.Store.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	var reports []Report
	var first error
	for _, t := range tenants {
		rep, err := s.Collect(ctx, "server", t.Name, false)
		if err != nil {
			s.log().ErrorContext(ctx, "retention: collection failed", "tenant", t.Name, "err", err)
			if first == nil {
				first = err
			}
		}
		reports = append(reports, rep)
	}
	return reports, first
}

// Loop collects every tenant each interval until ctx ends.
func (s *Service) Loop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.CollectAll(ctx); err != nil && ctx.Err() == nil {
				s.log().WarnContext(ctx, "retention: a collection failed; the next run retries", "err", err)
			}
		}
	}
}
