// Package repo owns a repository: its config, the key files that unlock the
// master key, the in-memory index, the writing of blobs into packs and their
// reading back, snapshots, and locks. Everything above (backup, restore,
// check, prune) talks to storage only through a Repository.
package repo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/index"
)

// FormatVersion is the repository format this code writes (docs/format.md).
const FormatVersion = 1

// ChunkerParams pin the content-defined chunker.
type ChunkerParams struct {
	Algorithm string `json:"algorithm"`
	Min       int    `json:"min"`
	Avg       int    `json:"avg"`
	Max       int    `json:"max"`
}

// Config is the plain, write-once description of a repository.
type Config struct {
	Version  int           `json:"version"`
	ID       string        `json:"id"`
	Created  time.Time     `json:"created"`
	Chunker  ChunkerParams `json:"chunker"`
	PackSize int           `json:"pack_size"`
}

// DefaultChunker: FastCDC, 512 KiB to 8 MiB, 1 MiB on average.
var DefaultChunker = ChunkerParams{Algorithm: "fastcdc-v1.0.0", Min: 512 << 10, Avg: 1 << 20, Max: 8 << 20}

// DefaultPackSize is the target size of a pack.
const DefaultPackSize = 16 << 20

// Errors callers test with errors.Is.
var (
	ErrWrongPassword = errors.New("wrong passphrase or recovery key: no key of this repository opens with it")
	ErrNotRepository = backend.ErrNotRepository
	ErrNewerFormat   = errors.New("repository was written by a newer Rempart")
)

// Repository is an open repository.
type Repository struct {
	be     backend.Backend
	key    *crypto.Key
	keyID  string
	cfg    Config
	idx    *index.Index
	writer *blobWriter
	dec    *codec
	trees  treeCache
	// damagedIndex lists the index files LoadIndex could not read.
	damagedIndex []crypto.ID
	// packsListed is set once storage's packs were listed after the
	// index was loaded, and indexed packs absent from the listing marked
	// gone (MarkAbsentPacks): one listing per session is enough.
	packsListed atomic.Bool
}

// Backend returns the storage.
func (r *Repository) Backend() backend.Backend { return r.be }

// Key returns the master key.
func (r *Repository) Key() *crypto.Key { return r.key }

// KeyID returns the key file that opened the repository.
func (r *Repository) KeyID() string { return r.keyID }

// Config returns the repository's config.
func (r *Repository) Config() Config { return r.cfg }

// Index returns the in-memory index (LoadIndex fills it).
func (r *Repository) Index() *index.Index { return r.idx }

// Init creates a new repository on an empty backend, protected by
// passphrase and by a fresh recovery key, which is returned formatted for
// paper. It is the only time the recovery key is ever shown.
func Init(ctx context.Context, be backend.Backend, passphrase string) (*Repository, string, error) {
	if passphrase == "" {
		return nil, "", errors.New("empty passphrase: choose one (REMPART_PASSWORD, --password-file or the prompt)")
	}
	if _, err := be.Stat(ctx, backend.Handle{Type: backend.Config}); err == nil {
		return nil, "", fmt.Errorf("%s already holds a repository", be.Location())
	}
	idb := make([]byte, 16)
	if _, err := rand.Read(idb); err != nil {
		return nil, "", err
	}
	cfg := Config{Version: FormatVersion, ID: hex.EncodeToString(idb), Created: time.Now().UTC().Truncate(time.Second), Chunker: DefaultChunker, PackSize: DefaultPackSize}
	k, err := crypto.NewRandomKey()
	if err != nil {
		return nil, "", err
	}
	r := &Repository{be: be, key: k, cfg: cfg, idx: index.New(), dec: newCodec()}
	kid, err := r.AddPassphrase(ctx, passphrase)
	if err != nil {
		return nil, "", err
	}
	r.keyID = kid
	rk, err := crypto.NewRecoveryKey()
	if err != nil {
		return nil, "", err
	}
	if _, err := r.addKey(ctx, KindRecovery, rk); err != nil {
		return nil, "", err
	}
	buf, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, "", err
	}
	// The config goes last: a repository without it is not a repository, so
	// an interrupted init leaves nothing that could be mistaken for one.
	if err := be.Save(ctx, backend.Handle{Type: backend.Config}, append(buf, '\n')); err != nil {
		return nil, "", fmt.Errorf("writing config: %w", err)
	}
	return r, crypto.FormatRecoveryKey(rk), nil
}

// ReadConfig loads and validates the config.
func ReadConfig(ctx context.Context, be backend.Backend) (Config, error) {
	var cfg Config
	buf, err := be.Load(ctx, backend.Handle{Type: backend.Config}, 0, 0)
	if err != nil {
		if errors.Is(err, backend.ErrNotFound) {
			return cfg, fmt.Errorf("%s: %w (no config file); create one with `rempart init`", be.Location(), ErrNotRepository)
		}
		return cfg, fmt.Errorf("reading config: %w", err)
	}
	if err := json.Unmarshal(buf, &cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w (config file is damaged: %v)", be.Location(), ErrNotRepository, err)
	}
	if cfg.Version > FormatVersion {
		return cfg, fmt.Errorf("%w (format %d, this program reads up to %d): upgrade Rempart", ErrNewerFormat, cfg.Version, FormatVersion)
	}
	if cfg.Version < 1 || cfg.ID == "" {
		return cfg, fmt.Errorf("%s: %w (config file is incomplete)", be.Location(), ErrNotRepository)
	}
	// Bounds keep a damaged or hostile config from making a backup allocate
	// absurd buffers; blob lengths are 32-bit in packs anyway.
	c := cfg.Chunker
	if c.Algorithm != DefaultChunker.Algorithm || c.Min < 64 || c.Avg <= c.Min || c.Max <= c.Avg || c.Max > 64<<20 || c.Avg&(c.Avg-1) != 0 {
		return cfg, fmt.Errorf("%s: %w (config file has unusable chunker settings %+v)", be.Location(), ErrNotRepository, c)
	}
	if cfg.PackSize <= 0 || cfg.PackSize > 1<<30 {
		cfg.PackSize = DefaultPackSize
	}
	return cfg, nil
}

// Open unlocks a repository with a passphrase or a recovery key. It does
// not load the index: call LoadIndex when blobs are needed.
func Open(ctx context.Context, be backend.Backend, secret string) (*Repository, error) {
	cfg, err := ReadConfig(ctx, be)
	if err != nil {
		return nil, err
	}
	k, kid, err := unlock(ctx, be, cfg, secret)
	if err != nil {
		return nil, err
	}
	return &Repository{be: be, key: k, keyID: kid, cfg: cfg, idx: index.New(), dec: newCodec()}, nil
}

// Close flushes nothing: call Flush first when writing. It releases the
// backend.
func (r *Repository) Close() error { return r.be.Close() }
