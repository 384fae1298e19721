package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rempart/rempart/internal/server/storage"
	"github.com/rempart/rempart/internal/server/storage/s3test"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rempart.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigFileStorage(t *testing.T) {
	p := writeConfig(t, `
data: d
storage:
  type: s3
  s3:
    endpoint: s3.example.org:9000
    bucket: rempart
    prefix: towns
    region: eu-west-3
    access_key: AKIA
    secret_key: s3cr3t
    ca_file: ca.pem
    mode: governance
`)
	c, err := LoadConfigFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := storage.S3Config{Endpoint: "s3.example.org:9000", Bucket: "rempart", Prefix: "towns", Region: "eu-west-3",
		AccessKey: "AKIA", SecretKey: "s3cr3t", CAFile: filepath.Join(filepath.Dir(p), "ca.pem"), Mode: "governance"}
	if c.Storage.Type != StorageS3 || c.Storage.S3 != want {
		t.Errorf("storage loaded as %+v", c.Storage)
	}
	if s := fmt.Sprintf("%+v", c); strings.Contains(s, "s3cr3t") {
		t.Errorf("the secret key is printed with the configuration: %s", s)
	}
	for _, bad := range []string{
		"storage:\n  typ: s3\n",
		"storage:\n  type: s3\n  s3:\n    secret: x\n",
		"storage:\n  s3:\n    spooldir: /tmp\n",
	} {
		if _, err := LoadConfigFile(writeConfig(t, bad)); err == nil {
			t.Errorf("an unknown key is accepted:\n%s", bad)
		}
	}
}

func TestOpenStorage(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()

	st, err := openStorage(ctx, Config{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*storage.Folder); !ok || st.Immutable() {
		t.Errorf("default storage %T", st)
	}
	if _, err := os.Stat(filepath.Join(data, "repos")); err != nil {
		t.Errorf("folder storage: %v", err)
	}

	if _, err := openStorage(ctx, Config{Data: data, Storage: StorageConfig{Type: "nfs"}}); err == nil || !strings.Contains(err.Error(), "use folder or s3") {
		t.Errorf("unknown type: %v", err)
	}
	if _, err := openStorage(ctx, Config{Data: data, Storage: StorageConfig{S3: storage.S3Config{Bucket: "b"}}}); err == nil || !strings.Contains(err.Error(), "storage.type: s3") {
		t.Errorf("s3 section without type: %v", err)
	}

	srv := s3test.Start(t)
	sc := StorageConfig{Type: StorageS3, S3: storage.S3Config{
		Endpoint: srv.Endpoint, Bucket: srv.Bucket(t, true), Region: srv.Region, Insecure: true,
		AccessKey: "wrong", SecretKey: "wrong",
	}}
	// The keys from the environment win over the file.
	t.Setenv(EnvS3AccessKey, srv.AccessKey)
	t.Setenv(EnvS3SecretKey, srv.SecretKey)
	st, err = openStorage(ctx, Config{Data: data, Storage: sc})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*storage.S3); !ok || !st.Immutable() {
		t.Errorf("s3 storage %T", st)
	}

	sc.S3.Bucket = srv.Bucket(t, false)
	_, err = openStorage(ctx, Config{Data: data, Storage: sc})
	if err == nil || !strings.Contains(err.Error(), "create the bucket with Object Lock enabled") {
		t.Errorf("a bucket without Object Lock: %v", err)
	}
}
