// Package repoapi serves the repository files of the server's tenants over
// HTTP (docs/server.md, "Repository files"): append-only, content-addressed
// uploads checked by hashing, snapshots accepted only when every pack they
// name is stored, and no deletion except of one's own locks. Who may do what
// comes from a pluggable Authorizer; where files live from a Storage.
package repoapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/rempart/rempart/internal/server/storage"
	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/snapshot"
)

// Prefix is the path under which the handler serves.
const Prefix = "/v1/repos/"

// DefaultLimits are the largest bodies accepted per file type.
var DefaultLimits = map[backend.FileType]int64{
	backend.Config:   64 << 10,
	backend.Key:      64 << 10,
	backend.Lock:     64 << 10,
	backend.Pack:     64 << 20,
	backend.Index:    256 << 20,
	backend.Snapshot: 64 << 20,
}

// AuditFunc receives every refused request: who (zero Principal when
// unauthenticated), an action ("repo.put.refused"...) and a detail for
// people, with the status, the reason and the remote address.
type AuditFunc func(ctx context.Context, p Principal, action, detail string)

// Options configure a Handler.
type Options struct {
	Storage storage.Storage
	Auth    Authorizer
	Audit   AuditFunc    // nil: refusals are only logged
	Logger  *slog.Logger // nil: slog.Default()
	// Limits override DefaultLimits per type.
	Limits map[backend.FileType]int64
	// Retention, when set, locks what is stored and records snapshots as
	// they arrive (nil: files are append-only but never locked).
	Retention Retention
}

// Retention is the server's retention seen from the repository API.
type Retention interface {
	// Guard runs fn while no garbage collection runs on tenant, so that a
	// snapshot being accepted cannot lose a pack it names.
	Guard(tenant string, fn func() error) error
	// LockUntil is the retention lock for a file tenant writes now; zero
	// for none.
	LockUntil(ctx context.Context, tenant string) (time.Time, error)
	// Committed records a snapshot that has just been stored, with the
	// verdict flag of its plain header (a suspect or infected one raises
	// an alert).
	Committed(ctx context.Context, tenant, name, writer string, size int64, lockUntil time.Time, flag snapshot.Flag) error
}

// Handler serves Prefix. Mount it at Prefix without a path-cleaning mux in
// front, or let the mux pass the raw path through: names are checked here.
type Handler struct {
	st     storage.Storage
	auth   Authorizer
	audit  AuditFunc
	log    *slog.Logger
	limits map[backend.FileType]int64
	ret    Retention
	lockMu sync.Mutex // serialises lock ownership checks and writes
}

// New returns a Handler.
func New(o Options) (*Handler, error) {
	if o.Storage == nil || o.Auth == nil {
		return nil, errors.New("repoapi: Storage and Auth are required")
	}
	h := &Handler{st: o.Storage, auth: o.Auth, audit: o.Audit, log: o.Logger, limits: map[backend.FileType]int64{}, ret: o.Retention}
	if h.log == nil {
		h.log = slog.Default()
	}
	for t, n := range DefaultLimits {
		h.limits[t] = n
	}
	for t, n := range o.Limits {
		h.limits[t] = n
	}
	return h, nil
}

var (
	tenantRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	hashRe   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	lockRe   = regexp.MustCompile(`^[0-9a-f]{16,64}$`)
)

// request is one parsed request and how it is being answered.
type request struct {
	w      *statusWriter
	r      *http.Request
	p      Principal
	tenant string
	file   storage.File
	list   bool
}

type statusWriter struct {
	http.ResponseWriter
	status int
	reason string
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// fail answers with a status and a message meant for people.
func (q *request) fail(code int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	q.w.reason = msg
	http.Error(q.w, msg, code)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := &request{w: &statusWriter{ResponseWriter: w}, r: r}
	defer h.finish(q)
	p, err := h.auth.Authorize(r)
	if err != nil {
		if errors.Is(err, ErrUnauthenticated) {
			q.w.Header().Set("WWW-Authenticate", `Bearer realm="rempart"`)
			q.fail(http.StatusUnauthorized, "not signed in: %v", err)
			return
		}
		h.log.ErrorContext(r.Context(), "repoapi: authorization failed", "err", err)
		q.fail(http.StatusServiceUnavailable, "the server cannot check credentials right now; try again later")
		return
	}
	q.p = p
	if !h.parse(q) {
		return
	}
	if !h.allowed(q) {
		return
	}
	switch {
	case q.list:
		if r.Method != http.MethodGet {
			q.fail(http.StatusMethodNotAllowed, "%s is not allowed on a listing", r.Method)
			return
		}
		h.serveList(q)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		h.serveFile(q)
	case r.Method == http.MethodPut:
		h.put(q)
	case r.Method == http.MethodDelete:
		h.delete(q)
	default:
		q.w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
		q.fail(http.StatusMethodNotAllowed, "method %s is not allowed", r.Method)
	}
}

func (h *Handler) finish(q *request) {
	if q.w.status < 400 || q.w.status == http.StatusNotFound {
		return
	}
	action := "repo." + strings.ToLower(q.r.Method) + ".refused"
	detail := fmt.Sprintf("%s %s: %d %s (from %s)", q.r.Method, q.r.URL.EscapedPath(), q.w.status, q.w.reason, q.r.RemoteAddr)
	h.log.WarnContext(q.r.Context(), "repoapi: request refused", "principal", q.p.ID, "action", action, "detail", detail)
	if h.audit != nil && q.w.status < 500 {
		h.audit(context.WithoutCancel(q.r.Context()), q.p, action, detail)
	}
}

// parse reads tenant, type and name from the raw path.
func (h *Handler) parse(q *request) bool {
	rest, ok := strings.CutPrefix(q.r.URL.EscapedPath(), Prefix)
	parts := strings.Split(rest, "/")
	if !ok || len(parts) < 2 || len(parts) > 3 || !tenantRe.MatchString(parts[0]) {
		q.fail(http.StatusBadRequest, "invalid repository path: use /v1/repos/TENANT/config or /v1/repos/TENANT/TYPE/NAME")
		return false
	}
	q.tenant = parts[0]
	if len(parts) == 2 {
		if parts[1] != string(backend.Config) {
			q.fail(http.StatusBadRequest, "invalid repository path %q", parts[1])
			return false
		}
		q.file = storage.File{Type: backend.Config}
		return true
	}
	t := backend.FileType(parts[1])
	switch t {
	case backend.Key, backend.Pack, backend.Index, backend.Snapshot, backend.Lock:
	default:
		q.fail(http.StatusBadRequest, "invalid file type %q", parts[1])
		return false
	}
	q.file = storage.File{Type: t, Name: parts[2]}
	if parts[2] == "" {
		q.list = true
		return true
	}
	re := hashRe
	if t == backend.Lock {
		re = lockRe
	}
	if !re.MatchString(parts[2]) {
		q.fail(http.StatusBadRequest, "invalid file name: names are lower-case hexadecimal hashes")
		return false
	}
	return true
}

// allowed enforces tenants and roles.
func (h *Handler) allowed(q *request) bool {
	write := q.r.Method != http.MethodGet && q.r.Method != http.MethodHead
	switch q.p.Role {
	case RoleAgent, RoleTenantAdmin:
		if q.p.Tenant == q.tenant {
			return true
		}
		q.fail(http.StatusForbidden, "access denied: %s belongs to another tenant", q.tenant)
	case RoleOperator:
		if !write {
			return true
		}
		q.fail(http.StatusForbidden, "access denied: operators read repositories but never change them")
	default:
		q.fail(http.StatusForbidden, "access denied: role %q has no access to repositories", q.p.Role)
	}
	return false
}

func (h *Handler) storageError(q *request, err error) {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		q.fail(http.StatusNotFound, "%s not found", q.what())
	case errors.Is(err, storage.ErrNoSpace):
		h.log.ErrorContext(q.r.Context(), "repoapi: storage full", "tenant", q.tenant, "err", err)
		q.fail(http.StatusInsufficientStorage, "the server's storage is full: ask its operator to add space")
	case errors.Is(err, context.Canceled):
		q.fail(499, "request cancelled")
	default:
		h.log.ErrorContext(q.r.Context(), "repoapi: storage error", "tenant", q.tenant, "file", q.what(), "err", err)
		q.fail(http.StatusInternalServerError, "storage error on the server (see its log)")
	}
}

func (q *request) what() string {
	return backend.Handle{Type: q.file.Type, Name: q.file.Name}.String()
}

type listEntry struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

func (h *Handler) serveList(q *request) {
	out := []listEntry{}
	err := h.st.List(q.r.Context(), q.tenant, q.file.Type, func(i storage.Info) error {
		out = append(out, listEntry{i.Name, i.Size})
		return nil
	})
	if err != nil {
		h.storageError(q, err)
		return
	}
	q.w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(q.w).Encode(out); err != nil {
		h.log.DebugContext(q.r.Context(), "repoapi: writing list", "err", err)
	}
}

func (h *Handler) serveFile(q *request) {
	obj, err := h.st.Open(q.r.Context(), q.tenant, q.file)
	if err != nil {
		h.storageError(q, err)
		return
	}
	defer obj.Close()
	q.w.Header().Set("Content-Type", "application/octet-stream")
	q.w.Header().Set("Cache-Control", "no-store")
	// ServeContent answers Range (206, or 416 for a bad one) and HEAD.
	http.ServeContent(q.w, q.r, "", obj.Info().ModTime, obj)
}

func (h *Handler) delete(q *request) {
	if q.file.Type != backend.Lock {
		q.fail(http.StatusForbidden, "deleting %s is not allowed: backups on this server cannot be deleted or changed by clients", q.what())
		return
	}
	h.lockMu.Lock()
	defer h.lockMu.Unlock()
	info, err := h.st.Stat(q.r.Context(), q.tenant, q.file)
	if err != nil {
		h.storageError(q, err)
		return
	}
	if info.Writer != q.p.ID {
		q.fail(http.StatusForbidden, "lock %s was written by another client; only its writer may remove it (it expires by itself)", q.file.Name)
		return
	}
	if err := h.st.Delete(q.r.Context(), q.tenant, q.file); err != nil {
		h.storageError(q, err)
		return
	}
	q.w.WriteHeader(http.StatusNoContent)
}

func isUploadError(err error) bool {
	var ue *uploadError
	return errors.As(err, &ue)
}

// body limits the request body to the type's limit, refusing early when the
// declared length is already too large.
func (h *Handler) body(q *request) (io.Reader, int64, bool) {
	limit := h.limits[q.file.Type]
	if q.r.ContentLength > limit {
		q.fail(http.StatusRequestEntityTooLarge, "%s is too large: %d bytes, at most %d accepted", q.what(), q.r.ContentLength, limit)
		return nil, 0, false
	}
	return clientReader{http.MaxBytesReader(q.w, q.r.Body, limit)}, limit, true
}

// clientReader marks errors that come from reading the client's upload, so
// that they are told apart from the server's own storage failures.
type clientReader struct{ r io.Reader }

func (c clientReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		err = &uploadError{err}
	}
	return n, err
}

// uploadError is a failure to read the request body.
type uploadError struct{ err error }

func (e *uploadError) Error() string { return e.err.Error() }
func (e *uploadError) Unwrap() error { return e.err }

// bodyError answers a failed read of the request body.
func (h *Handler) bodyError(q *request, err error) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		q.fail(http.StatusRequestEntityTooLarge, "%s is too large: at most %d bytes accepted", q.what(), tooBig.Limit)
	case errors.Is(err, errHashMismatch):
		q.fail(http.StatusBadRequest, "%s: the name is not the BLAKE3-256 hash of the content; nothing was stored", q.what())
	case errors.Is(err, errShort):
		q.fail(http.StatusBadRequest, "%s: %v; nothing was stored", q.what(), err)
	case errors.Is(err, storage.ErrNoSpace), errors.Is(err, storage.ErrNotFound), errors.Is(err, context.Canceled):
		h.storageError(q, err)
	case isUploadError(err):
		q.fail(http.StatusBadRequest, "%s: upload interrupted (%v); nothing was stored", q.what(), err)
	default:
		// Not the client's fault: the server could not store the file.
		h.storageError(q, err)
	}
}

var (
	errHashMismatch = errors.New("content does not match its name")
	errShort        = errors.New("body shorter than its declared length")
)

// readAll reads a whole (limited) body.
func (h *Handler) readAll(q *request) ([]byte, bool) {
	body, _, ok := h.body(q)
	if !ok {
		return nil, false
	}
	buf, err := io.ReadAll(body)
	if err == nil && q.r.ContentLength >= 0 && int64(len(buf)) != q.r.ContentLength {
		err = errShort
	}
	if err != nil {
		h.bodyError(q, err)
		return nil, false
	}
	return buf, true
}

func (h *Handler) put(q *request) {
	switch q.file.Type {
	case backend.Config:
		h.putConfig(q)
	case backend.Lock:
		h.putLock(q)
	case backend.Snapshot:
		h.putSnapshot(q)
	default:
		h.putHashed(q)
	}
}

func created(q *request, fresh bool) {
	if fresh {
		q.w.WriteHeader(http.StatusCreated)
	} else {
		q.w.WriteHeader(http.StatusOK)
	}
}

func (h *Handler) putConfig(q *request) {
	buf, ok := h.readAll(q)
	if !ok {
		return
	}
	if !json.Valid(buf) {
		if _, err := h.st.Stat(q.r.Context(), q.tenant, q.file); err == nil {
			h.sameAsStored(q, buf) // an attempt to replace it: 409
			return
		}
		q.fail(http.StatusBadRequest, "config is not valid JSON; nothing was stored")
		return
	}
	until, ok := h.lockUntil(q)
	if !ok {
		return
	}
	err := h.st.Put(q.r.Context(), q.tenant, q.file, bytes.NewReader(buf), storage.PutOptions{RetainUntil: until})
	if errors.Is(err, storage.ErrExists) {
		h.sameAsStored(q, buf)
		return
	}
	if err != nil {
		h.storageError(q, err)
		return
	}
	created(q, true)
}

// sameAsStored answers a put of an existing name: 200 for the same bytes,
// 409 for others.
func (h *Handler) sameAsStored(q *request, buf []byte) {
	obj, err := h.st.Open(q.r.Context(), q.tenant, q.file)
	if err != nil {
		h.storageError(q, err)
		return
	}
	defer obj.Close()
	old, err := io.ReadAll(io.LimitReader(obj, int64(len(buf))+1))
	if err != nil {
		h.storageError(q, err)
		return
	}
	if !bytes.Equal(old, buf) {
		q.fail(http.StatusConflict, "%s already exists with other content; stored files are never replaced", q.what())
		return
	}
	created(q, false)
}

func (h *Handler) putLock(q *request) {
	buf, ok := h.readAll(q)
	if !ok {
		return
	}
	if !json.Valid(buf) {
		q.fail(http.StatusBadRequest, "lock is not valid JSON; nothing was stored")
		return
	}
	h.lockMu.Lock()
	defer h.lockMu.Unlock()
	info, err := h.st.Stat(q.r.Context(), q.tenant, q.file)
	exists := err == nil
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.storageError(q, err)
		return
	}
	if exists && info.Writer != q.p.ID {
		q.fail(http.StatusConflict, "lock %s belongs to another client", q.file.Name)
		return
	}
	err = h.st.Put(q.r.Context(), q.tenant, q.file, bytes.NewReader(buf), storage.PutOptions{Replace: exists, Writer: q.p.ID})
	if err != nil {
		h.storageError(q, err)
		return
	}
	created(q, !exists)
}

func (h *Handler) putSnapshot(q *request) {
	buf, ok := h.readAll(q)
	if !ok {
		return
	}
	if crypto.Hash(buf).String() != q.file.Name {
		h.mismatch(q)
		return
	}
	hdr, _, err := snapshot.ReadHeader(buf)
	if err != nil {
		q.fail(http.StatusBadRequest, "%s is not a Rempart snapshot (%v); nothing was stored", q.what(), err)
		return
	}
	until, ok := h.lockUntil(q)
	if !ok {
		return
	}
	commit := func() error { h.commitSnapshot(q, buf, hdr, until); return nil }
	if h.ret != nil {
		_ = h.ret.Guard(q.tenant, commit)
		return
	}
	_ = commit()
}

// commitSnapshot stores a snapshot once every pack it names is stored, and
// extends the packs' storage locks to the snapshot's.
func (h *Handler) commitSnapshot(q *request, buf []byte, hdr snapshot.Header, until time.Time) {
	ctx := q.r.Context()
	var missing []string
	for _, id := range hdr.Packs {
		f := storage.File{Type: backend.Pack, Name: id.String()}
		info, err := h.st.Stat(ctx, q.tenant, f)
		if errors.Is(err, storage.ErrNotFound) {
			missing = append(missing, id.String())
			continue
		} else if err != nil {
			h.storageError(q, err)
			return
		}
		if !until.IsZero() && h.st.Immutable() && info.RetainUntil.Before(until) {
			if err := h.st.Retain(ctx, q.tenant, f, until); err != nil {
				h.storageError(q, err)
				return
			}
		}
	}
	if len(missing) > 0 {
		shown := missing
		if len(shown) > 20 {
			shown = shown[:20]
		}
		q.fail(http.StatusConflict, "%s names %d pack(s) that are not stored (never uploaded, or collected by the server's retention while this backup ran); run the backup again: %s",
			q.what(), len(missing), strings.Join(shown, " "))
		return
	}
	err := h.st.Put(ctx, q.tenant, q.file, bytes.NewReader(buf), storage.PutOptions{RetainUntil: until})
	if err != nil && !errors.Is(err, storage.ErrExists) { // ErrExists: same name, hence same content
		h.storageError(q, err)
		return
	}
	if h.ret != nil {
		if rerr := h.ret.Committed(context.WithoutCancel(ctx), q.tenant, q.file.Name, q.p.ID, int64(len(buf)), until, hdr.Flag); rerr != nil {
			// Stored all the same: retention falls back on the file's
			// time for a snapshot it has no record of.
			h.log.ErrorContext(ctx, "repoapi: recording a snapshot", "tenant", q.tenant, "snapshot", q.file.Name, "err", rerr)
		}
	}
	created(q, err == nil)
}

// lockUntil is the storage lock for a file written now.
func (h *Handler) lockUntil(q *request) (time.Time, bool) {
	if h.ret == nil {
		return time.Time{}, true
	}
	until, err := h.ret.LockUntil(q.r.Context(), q.tenant)
	if err != nil {
		h.log.ErrorContext(q.r.Context(), "repoapi: retention settings", "tenant", q.tenant, "err", err)
		q.fail(http.StatusServiceUnavailable, "the server cannot read this tenant's retention settings right now; try again later")
		return time.Time{}, false
	}
	return until, true
}

// mismatch answers a body that does not hash to its name: 409 when the
// name is already stored (an attempt to replace it), 400 otherwise.
func (h *Handler) mismatch(q *request) {
	if _, err := h.st.Stat(q.r.Context(), q.tenant, q.file); err == nil {
		q.fail(http.StatusConflict, "%s already exists with other content; stored files are never replaced", q.what())
		return
	}
	h.bodyError(q, errHashMismatch)
}

// putHashed streams a key, index or pack into storage, hashing it on the way.
func (h *Handler) putHashed(q *request) {
	body, _, ok := h.body(q)
	if !ok {
		return
	}
	hasher := crypto.NewHasher()
	counted := &countReader{r: io.TeeReader(body, hasher)}
	verify := func() error {
		if q.r.ContentLength >= 0 && counted.n != q.r.ContentLength {
			return errShort
		}
		var got crypto.ID
		copy(got[:], hasher.Sum(nil))
		if got.String() != q.file.Name {
			return errHashMismatch
		}
		return nil
	}
	until, ok := h.lockUntil(q)
	if !ok {
		return
	}
	err := h.st.Put(q.r.Context(), q.tenant, q.file, counted, storage.PutOptions{Verify: verify, RetainUntil: until})
	switch {
	case err == nil:
		created(q, true)
	case errors.Is(err, storage.ErrExists):
		// Already stored: the upload is a repeat if the body hashes to
		// the name (files are named by their content).
		if _, cerr := io.Copy(io.Discard, counted); cerr != nil {
			h.bodyError(q, cerr)
			return
		}
		if verr := verify(); errors.Is(verr, errHashMismatch) {
			q.fail(http.StatusConflict, "%s already exists with other content; stored files are never replaced", q.what())
			return
		} else if verr != nil {
			h.bodyError(q, verr)
			return
		}
		created(q, false)
	case errors.Is(err, errHashMismatch):
		h.mismatch(q)
	default:
		h.bodyError(q, err)
	}
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
