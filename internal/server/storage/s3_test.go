package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/rempart/rempart/internal/server/storage/s3test"
	"github.com/rempart/rempart/internal/vault/backend"
)

// These tests run against versitygw (internal/server/storage/s3test), which
// `make test` installs; they fail when it is missing.

func newS3(t *testing.T, srv *s3test.Server, bucket, prefix, mode string) *S3 {
	t.Helper()
	s, err := NewS3(context.Background(), S3Config{
		Endpoint:  srv.Endpoint,
		Bucket:    bucket,
		Prefix:    prefix,
		Region:    srv.Region,
		AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey,
		Insecure:  true,
		Mode:      mode,
		SpoolDir:  t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3Conformance(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, true)
	n := 0
	testConformance(t, func(t *testing.T) Storage {
		// One prefix per sub-test: they share the bucket, not their files.
		n++
		return newS3(t, srv, bucket, fmt.Sprintf("/conformance-%d/", n), "")
	})
}

// versionsOf lists the versions of key as the raw client sees them.
func versionsOf(t *testing.T, c *minio.Client, bucket, key string) (data, markers []minio.ObjectInfo) {
	t.Helper()
	for oi := range c.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: key, Recursive: true, WithVersions: true}) {
		if oi.Err != nil {
			t.Fatalf("list versions: %v", oi.Err)
		}
		switch {
		case oi.Key != key:
		case oi.IsDeleteMarker:
			markers = append(markers, oi)
		default:
			data = append(data, oi)
		}
	}
	return data, markers
}

func rawRead(t *testing.T, c *minio.Client, bucket, key, version string) []byte {
	t.Helper()
	o, err := c.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{VersionID: version})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatalf("raw read of %s (version %q): %v", key, version, err)
	}
	return b
}

// TestS3ObjectLock is what S3 storage is for: a pack written with a
// retention lock survives the server and anyone holding the storage's own
// root credentials, until its date.
func TestS3ObjectLock(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, true)
	s := newS3(t, srv, bucket, "", "")
	raw := srv.Client(t)
	const tenant = "mairie-a"

	pack := randomBytes(t, 20_000)
	f := File{Type: backend.Pack, Name: name(pack)}
	key := s.key(tenant, f)
	if key != tenant+"/data/"+f.Name {
		t.Fatalf("key %q", key)
	}
	until := time.Now().Add(time.Hour)
	put(t, s, tenant, f, pack, PutOptions{RetainUntil: until})

	info, err := s.Stat(ctx, tenant, f)
	if err != nil {
		t.Fatal(err)
	}
	if !info.RetainUntil.Equal(ceilSecond(until)) {
		t.Fatalf("Stat RetainUntil %v, want %v", info.RetainUntil, ceilSecond(until))
	}
	o, err := s.Open(ctx, tenant, f)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Info().RetainUntil.Equal(info.RetainUntil) {
		t.Errorf("Open RetainUntil %v, Stat %v", o.Info().RetainUntil, info.RetainUntil)
	}
	_ = o.Close()

	t.Run("StorageDeleteRefused", func(t *testing.T) {
		err := s.Delete(ctx, tenant, f)
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("Delete of a locked pack: %v, want ErrLocked", err)
		}
		t.Logf("Delete: %v", err)
		if got := read(t, s, tenant, f); !bytes.Equal(got, pack) {
			t.Fatal("locked pack changed after a refused delete")
		}
	})

	t.Run("RootCredentialsCannotDestroy", func(t *testing.T) {
		data, markers := versionsOf(t, raw, bucket, key)
		if len(data) != 1 || len(markers) != 0 {
			t.Fatalf("versions: %d data, %d markers", len(data), len(markers))
		}
		v := data[0].VersionID
		err := raw.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: v})
		if err == nil {
			t.Fatal("the root credentials deleted a locked version")
		}
		t.Logf("raw delete of the version: %v (HTTP %d %s)", err, minio.ToErrorResponse(err).StatusCode, minio.ToErrorResponse(err).Code)
		// Compliance mode: no bypass, even when asked for.
		err = raw.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: v, GovernanceBypass: true})
		if err == nil {
			t.Fatal("the root credentials deleted a compliance-locked version with the governance bypass")
		}
		// Nor can the lock be shortened to delete it sooner.
		soon := time.Now().Add(time.Minute).UTC()
		mode := minio.Compliance
		err = raw.PutObjectRetention(ctx, bucket, key, minio.PutObjectRetentionOptions{Mode: &mode, RetainUntilDate: &soon, VersionID: v})
		if err == nil {
			t.Fatal("the root credentials shortened a compliance lock")
		}
		if info, err := s.Stat(ctx, tenant, f); err != nil || !info.RetainUntil.Equal(ceilSecond(until)) {
			t.Fatalf("after an attempt to shorten: %+v, %v", info, err)
		}
		if got := rawRead(t, raw, bucket, key, v); !bytes.Equal(got, pack) {
			t.Fatal("the locked version does not read back byte-identical")
		}
		if got := read(t, s, tenant, f); !bytes.Equal(got, pack) {
			t.Fatal("the pack does not read back byte-identical")
		}
	})

	t.Run("PlainDeleteOnlyHides", func(t *testing.T) {
		// The most an attacker with the storage credentials can do: a
		// DELETE without a version adds a delete marker, which hides the
		// pack from readers but destroys nothing.
		if err := raw.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{}); err != nil {
			t.Fatalf("plain delete: %v", err)
		}
		if _, err := s.Stat(ctx, tenant, f); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Stat of a hidden pack: %v, want ErrNotFound", err)
		}
		if got := list(t, s, tenant, backend.Pack); len(got) != 0 {
			t.Errorf("hidden pack listed: %v", got)
		}
		data, markers := versionsOf(t, raw, bucket, key)
		if len(data) != 1 || len(markers) != 1 {
			t.Fatalf("after a plain delete: %d data versions, %d delete markers; want 1 and 1", len(data), len(markers))
		}
		if got := rawRead(t, raw, bucket, key, data[0].VersionID); !bytes.Equal(got, pack) {
			t.Fatal("the hidden version does not read back byte-identical")
		}
		// The server's own Delete still refuses, and removes nothing.
		if err := s.Delete(ctx, tenant, f); !errors.Is(err, ErrLocked) {
			t.Fatalf("Delete of a hidden locked pack: %v, want ErrLocked", err)
		}
		if d, m := versionsOf(t, raw, bucket, key); len(d) != 1 || len(m) != 1 {
			t.Fatalf("a refused Delete changed the versions: %d data, %d markers", len(d), len(m))
		}
		// Recovery (docs/server.md): delete the delete marker.
		if err := raw.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: markers[0].VersionID}); err != nil {
			t.Fatalf("removing the delete marker: %v", err)
		}
		if got := read(t, s, tenant, f); !bytes.Equal(got, pack) {
			t.Fatal("the recovered pack differs")
		}
	})

	t.Run("OverwriteOnlyShadows", func(t *testing.T) {
		// The other thing such an attacker can do: PUT other bytes on the
		// key. That adds a newer version, which readers then get (and
		// clients reject: its content does not hash to its name); the
		// locked version stays, byte for byte.
		junk := []byte("ransom note")
		if _, err := raw.PutObject(ctx, bucket, key, bytes.NewReader(junk), int64(len(junk)), minio.PutObjectOptions{}); err != nil {
			t.Fatalf("raw overwrite: %v", err)
		}
		data, _ := versionsOf(t, raw, bucket, key)
		if len(data) != 2 {
			t.Fatalf("after an overwrite: %d data versions, want 2", len(data))
		}
		var original, shadow string
		for _, v := range data {
			if v.IsLatest {
				shadow = v.VersionID
			} else {
				original = v.VersionID
			}
		}
		if got := rawRead(t, raw, bucket, key, original); !bytes.Equal(got, pack) {
			t.Fatal("the locked version changed under an overwrite")
		}
		// Recovery (docs/server.md): delete the newer, unlocked version.
		if err := raw.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: shadow}); err != nil {
			t.Fatalf("removing the shadowing version: %v", err)
		}
		if got := read(t, s, tenant, f); !bytes.Equal(got, pack) {
			t.Fatal("the recovered pack differs")
		}
	})

	t.Run("RetainExtendsNeverShortens", func(t *testing.T) {
		before, err := s.Stat(ctx, tenant, f)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Retain(ctx, tenant, f, time.Now().Add(10*time.Minute)); err != nil {
			t.Fatalf("Retain to an earlier date: %v", err)
		}
		if got, _ := s.Stat(ctx, tenant, f); !got.RetainUntil.Equal(before.RetainUntil) {
			t.Fatalf("Retain to an earlier date moved the lock from %v to %v", before.RetainUntil, got.RetainUntil)
		}
		later := time.Now().Add(2 * time.Hour)
		if err := s.Retain(ctx, tenant, f, later); err != nil {
			t.Fatalf("Retain to a later date: %v", err)
		}
		if got, _ := s.Stat(ctx, tenant, f); !got.RetainUntil.Equal(ceilSecond(later)) {
			t.Fatalf("after Retain to %v: lock until %v", ceilSecond(later), got.RetainUntil)
		}
		// Locks files are never locked: Retain leaves them deletable.
		lock := File{Type: backend.Lock, Name: name([]byte("lock"))}
		put(t, s, tenant, lock, []byte("lock"), PutOptions{Writer: "agent-1"})
		if err := s.Retain(ctx, tenant, lock, later); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, tenant, lock); err != nil {
			t.Fatalf("delete of a lock file after Retain: %v", err)
		}
	})

	t.Run("ExpiredLockDeletes", func(t *testing.T) {
		// Two packs locked for 2 s; one has its lock extended. Once the
		// 2 s have passed, the first is deleted (every version: nothing
		// left behind), the extended one is still refused.
		short := time.Now().Add(2 * time.Second)
		expiring, extended := []byte("expiring pack"), []byte("extended pack")
		fe := File{Type: backend.Pack, Name: name(expiring)}
		fx := File{Type: backend.Pack, Name: name(extended)}
		put(t, s, tenant, fe, expiring, PutOptions{RetainUntil: short})
		put(t, s, tenant, fx, extended, PutOptions{RetainUntil: short})
		if err := s.Delete(ctx, tenant, fe); !errors.Is(err, ErrLocked) {
			t.Fatalf("Delete before the date: %v, want ErrLocked", err)
		}
		if err := s.Retain(ctx, tenant, fx, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(ceilSecond(short)) + 1100*time.Millisecond)
		if err := s.Delete(ctx, tenant, fe); err != nil {
			t.Fatalf("Delete after the lock expired: %v", err)
		}
		if d, m := versionsOf(t, raw, bucket, s.key(tenant, fe)); len(d)+len(m) != 0 {
			t.Errorf("Delete left %d data versions and %d delete markers", len(d), len(m))
		}
		if _, err := s.Stat(ctx, tenant, fe); !errors.Is(err, ErrNotFound) {
			t.Errorf("Stat after delete: %v", err)
		}
		if err := s.Delete(ctx, tenant, fx); !errors.Is(err, ErrLocked) {
			t.Fatalf("Delete of the extended pack after its first date: %v, want ErrLocked", err)
		}
		if got := read(t, s, tenant, fx); !bytes.Equal(got, extended) {
			t.Fatal("extended pack changed")
		}
	})
}

func TestS3Governance(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, true)
	s := newS3(t, srv, bucket, "gov", ModeGovernance)
	body := []byte("a snapshot under governance")
	f := File{Type: backend.Snapshot, Name: name(body)}
	put(t, s, "mairie-a", f, body, PutOptions{RetainUntil: time.Now().Add(time.Hour)})
	if err := s.Delete(ctx, "mairie-a", f); !errors.Is(err, ErrLocked) {
		t.Fatalf("Delete under governance: %v, want ErrLocked (the server never bypasses)", err)
	}
	oi, err := srv.Client(t).StatObject(ctx, bucket, s.key("mairie-a", f), minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m := oi.Metadata.Get("X-Amz-Object-Lock-Mode"); m != string(minio.Governance) {
		t.Errorf("lock mode %q, want GOVERNANCE", m)
	}
}

// TestS3ConditionalPut shows that the storage itself refuses a put over an
// existing name (If-None-Match: *), which closes the race between two puts
// that both passed the Stat check.
func TestS3ConditionalPut(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, true)
	s := newS3(t, srv, bucket, "", "")
	body := []byte(`{"version":1}`)
	f := File{Type: backend.Config}
	put(t, s, "mairie-a", f, body, PutOptions{})
	b, err := spool(ctx, "", strings.NewReader(`{"version":666}`))
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	err = s.putObject(ctx, s.key("mairie-a", f), "racing put", b, minio.PutObjectOptions{DisableMultipart: true}, true)
	if !errors.Is(err, ErrExists) {
		t.Fatalf("conditional put over an existing key: %v, want ErrExists", err)
	}
	if !s.conditional.Load() {
		t.Error("versitygw honours If-None-Match, yet Put stopped sending it")
	}
	if got := read(t, s, "mairie-a", f); !bytes.Equal(got, body) {
		t.Fatalf("config became %q", got)
	}
}

func TestS3KeysAndWriter(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, true)
	s := newS3(t, srv, bucket, "/towns/", "")
	put(t, s, "mairie-a", File{Type: backend.Config}, []byte("{}"), PutOptions{})
	pack := []byte("pack")
	put(t, s, "mairie-a", File{Type: backend.Pack, Name: name(pack)}, pack, PutOptions{})
	put(t, s, "mairie-a", File{Type: backend.Lock, Name: "l1"}, []byte("lock"), PutOptions{Writer: "agent-7"})
	var keys []string
	raw := srv.Client(t)
	for oi := range raw.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if oi.Err != nil {
			t.Fatal(oi.Err)
		}
		keys = append(keys, oi.Key)
	}
	slices.Sort(keys)
	want := []string{"towns/mairie-a/config", "towns/mairie-a/data/" + name(pack), "towns/mairie-a/locks/l1"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	oi, err := raw.StatObject(ctx, bucket, "towns/mairie-a/locks/l1", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if w := oi.Metadata.Get("X-Amz-Meta-Rempart-Writer"); w != "agent-7" {
		t.Errorf("X-Amz-Meta-Rempart-Writer %q", w)
	}
	if m := oi.Metadata.Get("X-Amz-Object-Lock-Mode"); m != "" {
		t.Errorf("a lock file got an Object Lock mode %q", m)
	}
}

func TestNewS3Refuses(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	good := S3Config{Endpoint: srv.Endpoint, Bucket: srv.Bucket(t, true), Region: srv.Region, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Insecure: true}
	withDefault := srv.Bucket(t, true)
	mode, validity, unit := minio.Compliance, uint(1), minio.Days
	if err := srv.Client(t).SetObjectLockConfig(ctx, withDefault, &mode, &validity, &unit); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(*S3Config)
		want string
	}{
		{"no object lock", func(c *S3Config) { c.Bucket = srv.Bucket(t, false) }, "create the bucket with Object Lock enabled"},
		{"missing bucket", func(c *S3Config) { c.Bucket = "no-such-bucket" }, "create the bucket with Object Lock enabled"},
		{"bad bucket name", func(c *S3Config) { c.Bucket = "B" }, "check storage.s3.bucket"},
		{"default retention", func(c *S3Config) { c.Bucket = withDefault }, "remove the bucket's default retention"},
		{"wrong secret", func(c *S3Config) { c.SecretKey = "wrong" }, "check the access and secret keys"},
		{"no secret", func(c *S3Config) { c.SecretKey = "" }, "REMPART_S3_SECRET_KEY"},
		{"plain http", func(c *S3Config) { c.Endpoint = "http://" + c.Endpoint; c.Insecure = false }, "in clear"},
		{"mode", func(c *S3Config) { c.Mode = "strict" }, "use compliance or governance"},
		{"ca file", func(c *S3Config) { c.CAFile = "/nonexistent/ca.pem" }, "storage.s3.ca_file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := good
			c.edit(&cfg)
			_, err := NewS3(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("NewS3: %v, want an error saying %q", err, c.want)
			}
			t.Log(err)
			if strings.Contains(err.Error(), srv.SecretKey) {
				t.Errorf("the secret key is in the error: %v", err)
			}
		})
	}
	if _, err := NewS3(ctx, good); err != nil {
		t.Fatalf("a good configuration: %v", err)
	}
	for _, s := range []string{fmt.Sprint(good), fmt.Sprintf("%+v", good), fmt.Sprintf("%v", &good)} {
		if strings.Contains(s, good.SecretKey) {
			t.Errorf("the secret key is printed: %s", s)
		}
	}
}
