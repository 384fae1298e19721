package repo

import (
	"context"
	"sync"

	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/index"
)

// treeCache keeps whole tree packs in memory. Walking a snapshot reads
// thousands of small tree blobs that were written together; reading their
// pack once instead of one small read per folder is what makes an
// incremental backup (which walks the parent) and a restore plan fast on
// a cold disk. The cache is bounded in bytes and forgets the oldest pack.
type treeCache struct {
	mu    sync.Mutex
	packs map[crypto.ID][]byte
	order []crypto.ID
	size  int
}

const (
	treeCacheMax     = 24 << 20
	treeCachePackMax = 8 << 20
)

// get returns the sealed blob at loc from a cached tree pack, loading the
// pack when it is small enough. It returns nil when the caller should read
// the blob directly (pack too big, or unreadable as a whole: the direct read
// then reports the precise error).
func (c *treeCache) get(ctx context.Context, r *Repository, loc index.Location) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	data, ok := c.packs[loc.Pack]
	if !ok {
		size, known := r.idx.PackSize(loc.Pack)
		if !known || size > treeCachePackMax {
			return nil
		}
		buf, err := r.be.Load(ctx, backend.Handle{Type: backend.Pack, Name: loc.Pack.String()}, 0, size)
		if err != nil {
			return nil
		}
		if c.packs == nil {
			c.packs = map[crypto.ID][]byte{}
		}
		for c.size+len(buf) > treeCacheMax && len(c.order) > 0 {
			old := c.order[0]
			c.order = c.order[1:]
			c.size -= len(c.packs[old])
			delete(c.packs, old)
		}
		c.packs[loc.Pack] = buf
		c.order = append(c.order, loc.Pack)
		c.size += len(buf)
		data = buf
	}
	end := int64(loc.Offset) + int64(loc.Length)
	if end > int64(len(data)) {
		return nil
	}
	return data[loc.Offset:end]
}

// ReleaseCaches drops cached tree packs (after a walk, before heavy work).
func (r *Repository) ReleaseCaches() {
	r.trees.mu.Lock()
	r.trees.packs, r.trees.order, r.trees.size = nil, nil, 0
	r.trees.mu.Unlock()
}
