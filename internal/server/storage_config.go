package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/rempart/rempart/internal/server/storage"
)

// Storage types (storage.type in rempart.yaml).
const (
	StorageFolder = "folder"
	StorageS3     = "s3"
)

// Environment variables that hold the S3 keys, so that rempart.yaml need
// not: they win over the file when set.
const (
	EnvS3AccessKey = "REMPART_S3_ACCESS_KEY"
	EnvS3SecretKey = "REMPART_S3_SECRET_KEY"
)

// StorageConfig is the storage section of rempart.yaml:
//
//	storage:
//	  type: s3            # or folder (default): DATA/repos
//	  s3:
//	    endpoint: s3.example.org:443
//	    bucket: rempart   # created with Object Lock enabled
//	    ...
type StorageConfig struct {
	Type string           `yaml:"type"`
	S3   storage.S3Config `yaml:"s3"`
}

// resolvePaths makes a relative CA file relative to the configuration
// file's folder dir, like the data folder.
func (c *StorageConfig) resolvePaths(dir string) {
	if c.S3.CAFile != "" && !filepath.IsAbs(c.S3.CAFile) {
		c.S3.CAFile = filepath.Join(dir, c.S3.CAFile)
	}
}

// openStorage creates where the repository files live, as configured: a
// folder in the data folder, or an S3 bucket, checked to have Object Lock
// before the server accepts anything.
func openStorage(ctx context.Context, cfg Config) (storage.Storage, error) {
	sc := cfg.Storage
	switch sc.Type {
	case "", StorageFolder:
		if sc.S3 != (storage.S3Config{}) {
			return nil, fmt.Errorf("server: configuration: storage.s3 is set but storage.type is %q (set storage.type: s3 to use it, or remove storage.s3)", StorageFolder)
		}
		root := filepath.Join(cfg.Data, "repos")
		folder, err := storage.NewFolder(root)
		if err != nil {
			return nil, fmt.Errorf("server: repository folder: %w", err)
		}
		slog.Default().InfoContext(ctx, "repository storage", "type", StorageFolder, "path", root)
		return folder, nil
	case StorageS3:
		c := sc.S3
		if v := os.Getenv(EnvS3AccessKey); v != "" {
			c.AccessKey = v
		}
		if v := os.Getenv(EnvS3SecretKey); v != "" {
			c.SecretKey = v
		}
		// Uploads are verified before they are sent; large ones wait in
		// the data folder, which has room, rather than in a /tmp that
		// may be small or in memory. Files left there by a crash are
		// uploads that never completed: removed.
		c.SpoolDir = filepath.Join(cfg.Data, "spool")
		_ = os.RemoveAll(c.SpoolDir)
		if err := os.MkdirAll(c.SpoolDir, 0o700); err != nil {
			return nil, fmt.Errorf("server: S3 upload spool folder: %w", err)
		}
		s3, err := storage.NewS3(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		// The secret key is never logged (S3Config hides it anyway).
		slog.Default().InfoContext(ctx, "repository storage", "type", StorageS3,
			"endpoint", c.Endpoint, "bucket", c.Bucket, "prefix", c.Prefix, "mode", modeName(c.Mode))
		return s3, nil
	}
	return nil, fmt.Errorf("server: configuration: unknown storage.type %q (use %s or %s)", sc.Type, StorageFolder, StorageS3)
}

func modeName(m string) string {
	if m == "" {
		return storage.ModeCompliance
	}
	return m
}
