package repoapi_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/server/store"
	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/backend/remote"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/snapshot"
)

// flagged stores a copy of snapshot name with the given verdict flag in
// its plain header, as a client whose detector judged it would, and
// returns the new snapshot's name.
func flagged(t *testing.T, e *env, token, name string, flag snapshot.Flag) string {
	t.Helper()
	ctx := context.Background()
	r := openRemote(t, e, "pantin", token)
	sn, err := r.LoadSnapshot(ctx, mustID(t, name))
	must(t, err)
	sn.Flag = flag
	sn.Time = sn.Time.Add(time.Second)
	id, err := r.SaveSnapshot(ctx, sn, sn.Packs)
	must(t, err)
	return id.String()
}

func decisionsByName(t *testing.T, e *env, dry bool) (map[string][]string, int, []int64) {
	t.Helper()
	rep, err := e.ret.Collect(context.Background(), "account:op", "pantin", dry)
	must(t, err)
	out := map[string][]string{}
	for _, d := range rep.Snapshots {
		if d.Keep {
			out[d.Name] = d.Reasons
		}
	}
	return out, rep.SnapshotsDeleted, rep.FrozenBy
}

// TestSentinelAlertFreezesRetention drives the server's clock: an infected
// snapshot opens one alert (audited, notified) naming the last clean
// snapshot of the same source; while it is open a collection days later
// deletes nothing, even what the policy expires; once it is closed the
// policy applies again.
func TestSentinelAlertFreezesRetention(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	var mu sync.Mutex
	var notified []store.Alert
	e.ret.Notify = func(_ context.Context, a store.Alert) {
		mu.Lock()
		notified = append(notified, a)
		mu.Unlock()
	}
	pantin, tok1 := e.tenant("pantin")
	_, tok2 := e.agent(pantin, "pc-accueil")
	be, err := remote.New(e.base+"/pantin", tok1, e.client)
	must(t, err)
	_, _, err = repo.Init(ctx, be, passphrase)
	must(t, err)
	_, err = e.ret.SetPolicy(ctx, "account:op", pantin, mustPolicy(t, `{"keep_all": "1d"}`))
	must(t, err)

	src := makeTree(t)
	a := backupAt(t, e, "pantin", tok1, src) // agent 1, day 0
	e.clock.Add(day)
	must(t, os.WriteFile(filepath.Join(src, "rh", "note.txt"), []byte(strings.Repeat("note ", 3000)), 0o640))
	b := backupAt(t, e, "pantin", tok1, src) // agent 1, day 1: its last clean one
	e.clock.Add(time.Hour)
	c := flagged(t, e, tok1, b, snapshot.FlagClean) // a clean verdict opens nothing (nor does none)
	other := backupAt(t, e, "pantin", tok2, src)    // another machine
	if alerts, _ := e.st.OpenAlerts(ctx, pantin.ID); len(alerts) != 0 {
		t.Fatalf("clean snapshots opened alerts: %+v", alerts)
	}
	flags, err := e.st.SnapshotFlags(ctx, pantin.ID)
	must(t, err)
	if flags[c] != store.FlagClean || flags[b] > store.FlagClean {
		t.Fatalf("recorded flags %v", flags)
	}

	// Agent 1's machine is being encrypted: its next snapshot is infected.
	e.clock.Add(time.Hour)
	bad := flagged(t, e, tok1, b, snapshot.FlagInfected)
	alerts, err := e.st.OpenAlerts(ctx, pantin.ID)
	must(t, err)
	if len(alerts) != 1 {
		t.Fatalf("open alerts after an infected snapshot: %+v", alerts)
	}
	al := alerts[0]
	if al.Snapshot != bad || al.Flag != store.FlagInfected || al.Tenant != "pantin" || al.CleanSnapshot != c ||
		!strings.HasPrefix(al.Source, "agent:") || !al.Opened.Equal(e.clock.Now().UTC().Truncate(time.Microsecond)) {
		t.Fatalf("alert %+v; want snapshot %s, clean %s (the last clean one of the same machine)", al, bad, c)
	}
	if e.audited("sentinel.alert.open") != 1 || len(notified) != 1 || notified[0].ID != al.ID {
		t.Fatalf("audited %d, notified %+v", e.audited("sentinel.alert.open"), notified)
	}
	// A replayed upload of the same snapshot opens nothing more.
	file, err := os.ReadFile(filepath.Join(e.root, "pantin", "snapshots", bad))
	must(t, err)
	if r := e.do(tok1, "PUT", "/v1/repos/pantin/snapshots/"+bad, file); r.code != 200 {
		t.Fatalf("replay: %d %s", r.code, r.body)
	}
	if alerts, _ := e.st.OpenAlerts(ctx, pantin.ID); len(alerts) != 1 || e.audited("sentinel.alert.open") != 1 || len(notified) != 1 {
		t.Fatalf("a replay opened another alert: %+v", alerts)
	}

	// Five days later keep_all 1d expires a, b and c (not the latest of
	// each machine), but the alert freezes everything.
	e.clock.Add(5 * day)
	for _, dry := range []bool{true, false} {
		kept, deleted, frozenBy := decisionsByName(t, e, dry)
		if deleted != 0 || len(kept) != 5 || !slices.Equal(frozenBy, []int64{al.ID}) {
			t.Fatalf("dry=%v with the alert open: deleted %d, kept %v, frozen by %v", dry, deleted, kept, frozenBy)
		}
		for name, why := range kept {
			if !slices.Contains(why, "frozen by alert #"+itoa(al.ID)) {
				t.Errorf("snapshot %s kept for %v, want \"frozen by alert #%d\"", name[:8], why, al.ID)
			}
		}
		if !slices.Contains(kept[c], "last clean snapshot before alert #"+itoa(al.ID)) {
			t.Errorf("the clean restore point is not named: %v", kept[c])
		}
	}
	if n := len(storedNames(t, e, "pantin", backend.Snapshot)); n != 5 {
		t.Fatalf("%d snapshots stored after a frozen collection, want 5", n)
	}

	// Closed (by an admin, with a note): the policy applies again.
	_, err = e.st.CloseAlert(ctx, al.ID, "account:dsi", "machine reinstalled, files restored from "+c[:8])
	must(t, err)
	kept, deleted, frozenBy := decisionsByName(t, e, false)
	stored := storedNames(t, e, "pantin", backend.Snapshot)
	if deleted != 3 || len(frozenBy) != 0 || stored[a] || stored[b] || stored[c] || !stored[bad] || !stored[other] || len(kept) != 2 {
		t.Fatalf("after closing: deleted %d, kept %v, stored %v", deleted, kept, stored)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
