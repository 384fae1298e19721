package repoapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/server/storage"
	"github.com/rempart/rempart/internal/server/storage/s3test"
	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/backend/remote"
	"github.com/rempart/rempart/internal/vault/repo"
)

// TestS3LocksFollowRetention runs the repository API on S3 with Object Lock:
// every stored file gets the tenant's lock, and when the server's own
// clock or database is wrong (here: moved two days ahead), the storage
// still refuses to delete a locked snapshot.
func TestS3LocksFollowRetention(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	st, err := storage.NewS3(ctx, storage.S3Config{
		Endpoint: srv.Endpoint, Bucket: srv.Bucket(t, true), AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		Region: srv.Region, Insecure: true, SpoolDir: t.TempDir(),
	})
	must(t, err)
	e := newEnvWith(t, func(storage.Storage) storage.Storage { return st })
	pantin, agentTok := e.tenant("pantin")
	must(t, e.ret.SetLockDays(ctx, "op", pantin, 1))
	_, err = e.ret.SetPolicy(ctx, "op", pantin, mustPolicy(t, `{"keep_all": "1h"}`))
	must(t, err)

	be, err := remote.New(e.base+"/pantin", agentTok, e.client)
	must(t, err)
	_, _, err = repo.Init(ctx, be, passphrase)
	must(t, err)
	src := makeTree(t)
	start := time.Now()
	backupAt(t, e, "pantin", agentTok, src)
	e.clock.Add(time.Minute)
	backupAt(t, e, "pantin", agentTok, src)

	for _, typ := range []backend.FileType{backend.Pack, backend.Index, backend.Snapshot} {
		n := 0
		must(t, st.List(ctx, "pantin", typ, func(i storage.Info) error {
			info, err := st.Stat(ctx, "pantin", storage.File{Type: typ, Name: i.Name})
			if err != nil {
				return err
			}
			if info.RetainUntil.Before(start.Add(24*time.Hour - time.Minute)) {
				t.Errorf("%s/%s is locked until %v, want a day from now", typ, i.Name, info.RetainUntil)
			}
			n++
			return nil
		}))
		if n == 0 {
			t.Fatalf("no %s stored", typ)
		}
	}

	e.clock.Add(2 * day)
	rep, err := e.ret.Collect(ctx, "op", "pantin", false)
	must(t, err)
	if rep.SnapshotsDeleted != 0 || rep.SnapshotsLocked != 1 {
		t.Fatalf("collection with the server's clock two days ahead: %+v; the storage's lock must hold", rep)
	}
	sn := 0
	must(t, st.List(ctx, "pantin", backend.Snapshot, func(storage.Info) error { sn++; return nil }))
	if sn != 2 {
		t.Fatalf("%d snapshots stored, want 2", sn)
	}
}
