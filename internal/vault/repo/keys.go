package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"sort"
	"time"

	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/crypto"
)

// Key kinds.
const (
	KindPassphrase = "passphrase"
	KindRecovery   = "recovery"
)

// KeyFile is a stored key: the master secret wrapped by one passphrase or
// by the recovery key. It is plain JSON, named by the hash of its bytes.
type KeyFile struct {
	Version  int              `json:"version"`
	Kind     string           `json:"kind"`
	Created  time.Time        `json:"created"`
	Host     string           `json:"host,omitempty"`
	Username string           `json:"username,omitempty"`
	KDF      crypto.KDFParams `json:"kdf"`
	Wrapped  []byte           `json:"wrapped"`

	ID string `json:"-"`
}

func wrapAAD(repoID, kind string) []byte {
	return []byte("rempart key v1\x00" + repoID + "\x00" + kind)
}

// AddPassphrase adds a key file for a new passphrase.
func (r *Repository) AddPassphrase(ctx context.Context, passphrase string) (string, error) {
	if passphrase == "" {
		return "", errors.New("empty passphrase")
	}
	return r.addKey(ctx, KindPassphrase, []byte(passphrase))
}

func (r *Repository) addKey(ctx context.Context, kind string, secret []byte) (string, error) {
	var p crypto.KDFParams
	var err error
	if kind == KindRecovery {
		p, err = crypto.RecoveryKDF()
	} else {
		p, err = crypto.DefaultKDF()
	}
	if err != nil {
		return "", err
	}
	kek, err := crypto.DeriveKEK(p, secret)
	if err != nil {
		return "", err
	}
	wrapped, err := crypto.WrapMaster(kek, r.key, wrapAAD(r.cfg.ID, kind))
	if err != nil {
		return "", err
	}
	kf := KeyFile{Version: 1, Kind: kind, Created: time.Now().UTC().Truncate(time.Second), KDF: p, Wrapped: wrapped}
	kf.Host, _ = os.Hostname()
	if u, err := user.Current(); err == nil {
		kf.Username = u.Username
	}
	buf, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return "", err
	}
	id := crypto.Hash(buf).String()
	if err := r.be.Save(ctx, backend.Handle{Type: backend.Key, Name: id}, buf); err != nil {
		return "", fmt.Errorf("writing key file: %w", err)
	}
	return id, nil
}

// ListKeys returns every key file, oldest first. Damaged files are
// reported with Kind "damaged".
func (r *Repository) ListKeys(ctx context.Context) ([]KeyFile, error) {
	return listKeys(ctx, r.be)
}

func listKeys(ctx context.Context, be backend.Backend) ([]KeyFile, error) {
	var out []KeyFile
	err := be.List(ctx, backend.Key, func(fi backend.FileInfo) error {
		if fi.Size > 1<<16 {
			out = append(out, KeyFile{ID: fi.Name, Kind: "damaged"})
			return nil
		}
		buf, err := be.Load(ctx, backend.Handle{Type: backend.Key, Name: fi.Name}, 0, 0)
		if err != nil {
			return err
		}
		var kf KeyFile
		if json.Unmarshal(buf, &kf) != nil {
			kf = KeyFile{Kind: "damaged"}
		}
		kf.ID = fi.Name
		out = append(out, kf)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, err
}

// RemoveKey deletes a key file. It refuses to remove the key in use, and
// the last passphrase key.
func (r *Repository) RemoveKey(ctx context.Context, id string) error {
	keys, err := r.ListKeys(ctx)
	if err != nil {
		return err
	}
	var target *KeyFile
	passphrases := 0
	for i := range keys {
		if keys[i].Kind == KindPassphrase {
			passphrases++
		}
		if keys[i].ID == id || (len(id) >= 6 && len(id) < len(keys[i].ID) && keys[i].ID[:len(id)] == id) {
			if target != nil {
				return fmt.Errorf("key prefix %q is ambiguous", id)
			}
			target = &keys[i]
		}
	}
	if target == nil {
		return fmt.Errorf("no key %q in this repository (see `rempart key list`)", id)
	}
	if target.ID == r.keyID {
		return errors.New("refusing to remove the key you opened the repository with: open it with another key first")
	}
	if target.Kind == KindPassphrase && passphrases <= 1 {
		return errors.New("refusing to remove the last passphrase")
	}
	return r.be.Remove(ctx, backend.Handle{Type: backend.Key, Name: target.ID})
}

func unlock(ctx context.Context, be backend.Backend, cfg Config, secret string) (*crypto.Key, string, error) {
	if secret == "" {
		return nil, "", fmt.Errorf("%w (empty passphrase)", ErrWrongPassword)
	}
	keys, err := listKeys(ctx, be)
	if err != nil {
		return nil, "", fmt.Errorf("listing keys: %w", err)
	}
	if len(keys) == 0 {
		return nil, "", fmt.Errorf("%s: %w (no key files)", be.Location(), ErrNotRepository)
	}
	kind, raw := KindPassphrase, []byte(secret)
	if rk, err := crypto.ParseRecoveryKey(secret); err == nil {
		kind, raw = KindRecovery, rk
	} else if errors.Is(err, crypto.ErrRecoveryChecksum) {
		return nil, "", err
	}
	var firstErr error
	for _, kf := range keys {
		if kf.Kind != kind {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		kek, err := crypto.DeriveKEK(kf.KDF, raw)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		k, err := crypto.UnwrapMaster(kek, kf.Wrapped, wrapAAD(cfg.ID, kf.Kind))
		if err == nil {
			return k, kf.ID, nil
		}
	}
	if firstErr != nil {
		return nil, "", fmt.Errorf("%w (%v)", ErrWrongPassword, firstErr)
	}
	return nil, "", ErrWrongPassword
}
