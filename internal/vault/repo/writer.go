package repo

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/zeebo/blake3"

	"github.com/rempart/rempart/internal/bufpool"
	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/index"
	"github.com/rempart/rempart/internal/vault/pack"
)

// packFile is a pack being written to a temporary file: memory stays small
// whatever the pack size, and the file is moved into place when finished.
type packFile struct {
	typ   pack.BlobType
	f     *os.File
	w     *bufio.Writer
	h     *blake3.Hasher
	size  int64
	blobs []pack.Blob
}

func (p *packFile) write(b []byte) error {
	_, _ = p.h.Write(b)
	_, err := p.w.Write(b)
	p.size += int64(len(b))
	return err
}

// blobWriter routes sealed blobs into packs and stores finished packs in
// the background. Several packs per type are open at once so that savers
// on different cores do not wait for each other.
type blobWriter struct {
	r        *Repository
	free     [2]chan *packFile // open packs ready to receive blobs, per type
	finishWG sync.WaitGroup
	finSem   chan struct{}

	mu         sync.Mutex
	pending    [2]map[crypto.ID]struct{}
	unindexed  []index.PackInfo
	err        error
	stats      WriteStats
	indexEvery int
}

// WriteStats counts what a writer added.
type WriteStats struct {
	Blobs       uint64
	Bytes       uint64 // plaintext
	PackedBytes uint64 // stored
	Packs       uint64
}

const openPacksPerType = 2

// StartWriting prepares the repository to receive blobs. Call Flush to
// finish.
func (r *Repository) StartWriting() {
	w := &blobWriter{r: r, finSem: make(chan struct{}, 3), indexEvery: 32}
	for t := range w.free {
		w.free[t] = make(chan *packFile, openPacksPerType)
		for i := 0; i < openPacksPerType; i++ {
			w.free[t] <- nil // created lazily
		}
		w.pending[t] = map[crypto.ID]struct{}{}
	}
	r.writer = w
}

func (w *blobWriter) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

// Err returns the first error of the background writers.
func (w *blobWriter) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// HasBlob reports whether a blob is stored or on its way.
func (r *Repository) HasBlob(t pack.BlobType, id crypto.ID) bool {
	if r.idx.Has(t, id) {
		return true
	}
	if w := r.writer; w != nil {
		w.mu.Lock()
		_, ok := w.pending[t][id]
		w.mu.Unlock()
		return ok
	}
	return false
}

// SaveBlob stores plaintext as a blob of type t with the given ID (the
// caller computed it with Key().BlobID), unless it is already stored. It
// compresses and encrypts in the calling goroutine, so callers on several
// cores work in parallel. It returns whether the blob was new.
func (r *Repository) SaveBlob(ctx context.Context, t pack.BlobType, id crypto.ID, data []byte) (bool, error) {
	w := r.writer
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if r.idx.Has(t, id) {
		return false, nil
	}
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return false, err
	}
	if _, ok := w.pending[t][id]; ok {
		w.mu.Unlock()
		return false, nil
	}
	w.pending[t][id] = struct{}{}
	w.mu.Unlock()

	// Compress after a reserved nonce and seal in place, in a recycled
	// buffer: one buffer and no copy per blob.
	buf := bufpool.Get(len(data) + crypto.Overhead + 64)
	stored, flags := r.dec.compress(buf[:crypto.NonceSize], data)
	sealed := r.key.SealInPlace(stored, pack.BlobAAD(t, id))
	defer bufpool.Put(sealed)

	var p *packFile
	select {
	case p = <-w.free[t]:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	if p == nil {
		var err error
		if p, err = w.newPack(t); err != nil {
			w.free[t] <- nil
			w.fail(err)
			return false, err
		}
	}
	b := pack.Blob{Type: t, Flags: flags, ID: id, Offset: uint32(p.size), Length: uint32(len(sealed)), RawLength: uint32(len(data))}
	if err := p.write(sealed); err != nil {
		w.free[t] <- nil
		_ = p.f.Close()
		_ = os.Remove(p.f.Name())
		err = fmt.Errorf("writing pack: %w", err)
		w.fail(err)
		return false, err
	}
	p.blobs = append(p.blobs, b)
	w.mu.Lock()
	w.stats.Blobs++
	w.stats.Bytes += uint64(len(data))
	w.stats.PackedBytes += uint64(len(sealed))
	w.mu.Unlock()
	if p.size >= int64(r.cfg.PackSize) {
		w.finish(ctx, p)
		p = nil
	}
	w.free[t] <- p
	return true, nil
}

func (w *blobWriter) newPack(t pack.BlobType) (*packFile, error) {
	dir := w.r.be.TempDir()
	if dir != "" {
		_ = os.MkdirAll(dir, 0o700)
	}
	f, err := os.CreateTemp(dir, "pack-")
	if err != nil {
		return nil, fmt.Errorf("creating temporary pack: %w", err)
	}
	return &packFile{typ: t, f: f, w: bufio.NewWriterSize(f, 256<<10), h: blake3.New()}, nil
}

// finish seals the pack's header and stores it in the background.
func (w *blobWriter) finish(ctx context.Context, p *packFile) {
	w.finSem <- struct{}{}
	w.finishWG.Add(1)
	go func() {
		defer w.finishWG.Done()
		defer func() { <-w.finSem }()
		if err := w.store(ctx, p); err != nil {
			w.fail(err)
		}
	}()
}

func (w *blobWriter) store(ctx context.Context, p *packFile) error {
	trailer := pack.EncodeHeader(w.r.key, nil, p.blobs)
	err := p.write(trailer)
	if err == nil {
		err = p.w.Flush()
	}
	if err != nil {
		_ = p.f.Close()
		_ = os.Remove(p.f.Name())
		return fmt.Errorf("writing pack: %w", err)
	}
	var id crypto.ID
	p.h.Sum(id[:0])
	if err := w.r.be.SaveFile(ctx, backend.Handle{Type: backend.Pack, Name: id.String()}, p.f); err != nil {
		return fmt.Errorf("storing pack %s: %w", id.Short(), err)
	}
	info := index.PackInfo{ID: id, Size: p.size, Blobs: p.blobs}
	w.r.idx.AddPack(info)
	w.mu.Lock()
	for _, b := range p.blobs {
		delete(w.pending[b.Type], b.ID)
	}
	w.unindexed = append(w.unindexed, info)
	w.stats.Packs++
	var batch []index.PackInfo
	if len(w.unindexed) >= w.indexEvery {
		batch, w.unindexed = w.unindexed, nil
	}
	w.mu.Unlock()
	if batch != nil {
		// Indexing as we go means a killed backup leaves most of its work
		// findable by the next one.
		return w.r.SaveIndex(ctx, &index.File{Packs: batch})
	}
	return nil
}

// Flush finishes every open pack, waits for them to be stored, and writes
// an index file for the packs not yet indexed. After Flush, every blob
// saved is durable and findable; the writer stays usable.
func (r *Repository) Flush(ctx context.Context) error {
	w := r.writer
	if w == nil {
		return nil
	}
	for t := range w.free {
		for i := 0; i < openPacksPerType; i++ {
			p := <-w.free[t]
			if p != nil && len(p.blobs) > 0 {
				w.finish(ctx, p)
			} else if p != nil {
				_ = p.f.Close()
				_ = os.Remove(p.f.Name())
			}
			defer func() { w.free[t] <- nil }()
		}
	}
	w.finishWG.Wait()
	if err := w.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	batch := w.unindexed
	w.unindexed = nil
	w.mu.Unlock()
	if len(batch) > 0 {
		if err := r.SaveIndex(ctx, &index.File{Packs: batch}); err != nil {
			w.fail(err)
			return err
		}
	}
	return nil
}

// Abort drops open packs without storing them (after an error).
func (r *Repository) Abort() {
	w := r.writer
	if w == nil {
		return
	}
	for t := range w.free {
		for i := 0; i < openPacksPerType; i++ {
			if p := <-w.free[t]; p != nil {
				_ = p.f.Close()
				_ = os.Remove(p.f.Name())
			}
		}
	}
	w.finishWG.Wait()
	r.writer = nil
}

// WriteStats returns what was written since StartWriting.
func (r *Repository) WriteStats() WriteStats {
	if r.writer == nil {
		return WriteStats{}
	}
	r.writer.mu.Lock()
	defer r.writer.mu.Unlock()
	return r.writer.stats
}
