package crisis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rempart/rempart/internal/crisis/e2ee"
	"github.com/rempart/rempart/internal/ratelimit"
)

// Prefix is where the relay API lives.
const Prefix = "/v1/crisis/"

// Body limits: signed objects (envelopes, rosters, wrap bundles, room
// creation) may be up to MaxSignedBody once decoded, and JSON escaping can
// double the quotes of a body; other requests are small.
const (
	maxSignedRequest = 2*MaxSignedBody + 4<<10
	maxJSONRequest   = 64 << 10
)

// Options configure New.
type Options struct {
	Store    Store
	Accounts Accounts
	// Audit receives the administrative actions (nil: none).
	Audit AuditFunc
	// DataDir is the server's data folder: attachments live in
	// DataDir/crisis/blobs.
	DataDir string
	Logger  *slog.Logger
	Now     func() time.Time
	// Call wires the audio and video calls (call.go); nil: calls are off.
	Call *CallOptions
	// Joins bounds joining (nil: DefaultJoinLimits).
	Joins *JoinLimits
}

// Handler serves everything under /v1/crisis/.
type Handler struct {
	svc      *Service
	callOpts CallOptions
	mux      *http.ServeMux
	ctx      context.Context // cancelled by Close: ends live connections
	cancel   context.CancelFunc
}

// New builds the relay.
func New(o Options) (*Handler, error) {
	if o.Store == nil || o.Accounts == nil || o.DataDir == "" {
		return nil, errors.New("crisis: New needs a Store, Accounts and a DataDir")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Audit == nil {
		o.Audit = func(context.Context, string, string, string, map[string]any) {}
	}
	root := filepath.Join(o.DataDir, "crisis", "blobs")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("crisis: blob folder: %w", err)
	}
	limits := DefaultJoinLimits
	if o.Joins != nil {
		limits = *o.Joins
	}
	s := &Service{st: o.Store, accounts: o.Accounts, audit: o.Audit, blobs: &blobDir{root: root},
		log: o.Logger, now: o.Now, hub: newHub(o.Logger), calls: newCallHub(),
		joins: ratelimit.New(limits.Window, joinLimitKeys, o.Now), limits: limits}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Handler{svc: s, mux: http.NewServeMux(), ctx: ctx, cancel: cancel}
	if o.Call != nil {
		h.callOpts = *o.Call
	}
	h.routes()
	return h, nil
}

// Service returns the rules behind the handler.
func (h *Handler) Service() *Service { return h.svc }

// Close ends every live connection (the HTTP server's Shutdown does not
// see hijacked connections).
func (h *Handler) Close() {
	h.svc.calls.closeAll()
	h.cancel()
	h.svc.hub.closeAll()
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) routes() {
	m := h.mux
	m.HandleFunc("POST /v1/crisis/rooms", h.account(h.createRoom))
	m.HandleFunc("GET /v1/crisis/rooms", h.account(h.listRooms))
	m.HandleFunc("POST /v1/crisis/rooms/{room}/join", h.join)
	m.HandleFunc("POST /v1/crisis/rooms/{room}/invites", h.member(h.createInvite))
	m.HandleFunc("GET /v1/crisis/rooms/{room}/state", h.member(h.state))
	m.HandleFunc("PUT /v1/crisis/rooms/{room}/roster", h.member(h.putRoster))
	m.HandleFunc("POST /v1/crisis/rooms/{room}/wraps", h.member(h.postWraps))
	m.HandleFunc("GET /v1/crisis/rooms/{room}/wraps", h.member(h.getWraps))
	m.HandleFunc("POST /v1/crisis/rooms/{room}/history", h.member(h.postHistory))
	m.HandleFunc("GET /v1/crisis/rooms/{room}/history", h.member(h.getHistory))
	m.HandleFunc("POST /v1/crisis/rooms/{room}/events", h.member(h.postEvent))
	m.HandleFunc("GET /v1/crisis/rooms/{room}/events", h.member(h.getEvents))
	m.HandleFunc("POST /v1/crisis/rooms/{room}/blobs", h.member(h.postBlob))
	m.HandleFunc("GET /v1/crisis/rooms/{room}/blobs/{id}", h.member(h.getBlob))
	m.HandleFunc("GET /v1/crisis/rooms/{room}/ws", h.ws)
	m.HandleFunc("GET /v1/crisis/rooms/{room}/call", h.call)
	m.HandleFunc("GET /v1/crisis/rooms/{room}/call/config", h.member(h.getCallConfig))
	m.HandleFunc("/v1/crisis/", func(w http.ResponseWriter, r *http.Request) {
		writeCoded(w, &Error{Status: http.StatusNotFound, Code: CodeNoEndpoint, Msg: "no such crisis room endpoint: " + r.Method + " " + r.URL.Path + " (see docs/crisis-e2ee.md)"})
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers {"error": msg, "code": …} with the status's generic
// code.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeCoded(w, &Error{Status: status, Msg: msg})
}

// writeCoded answers a refusal: {"error": msg, "code": code} and its extra
// fields ("error" stays for clients that know no codes).
func writeCoded(w http.ResponseWriter, e *Error) {
	code := e.Code
	if code == "" {
		code = statusCode(e.Status)
	}
	out := map[string]any{}
	for k, v := range e.Extra {
		out[k] = v
	}
	out["error"], out["code"] = e.Msg, code
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
		out["retry_after"] = e.RetryAfter
	}
	writeJSON(w, e.Status, out)
}

// fail answers err: an *Error as it is, anything else as a 500 whose
// cause goes to the log only.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if e, ok := asError(err); ok {
		writeCoded(w, e)
		return
	}
	h.svc.log.ErrorContext(r.Context(), "crisis request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeCoded(w, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Msg: "internal error on the server (see its log); try again"})
}

// readJSON decodes a body of at most limit bytes into v.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errf(http.StatusRequestEntityTooLarge, "the request body is larger than %d bytes", limit)
		}
		return badRequest("the request body is not the expected JSON: %v", err)
	}
	if dec.More() {
		return badRequest("the request body holds more than one JSON value")
	}
	return nil
}

func bearer(r *http.Request) string {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(tok)
}

func (h *Handler) account(fn func(http.ResponseWriter, *http.Request, Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		if tok == "" {
			writeCoded(w, &Error{Status: http.StatusUnauthorized, Code: CodeNotSignedIn, Msg: "not signed in: sign in with your platform account first (POST /v1/login)"})
			return
		}
		p, err := h.svc.accounts.Authenticate(r.Context(), tok)
		if errors.Is(err, ErrUnauthenticated) {
			writeCoded(w, &Error{Status: http.StatusUnauthorized, Code: CodeSessionExpired, Msg: "your session is invalid or has expired: sign in again"})
			return
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		fn(w, r, p)
	}
}

func (h *Handler) member(fn func(http.ResponseWriter, *http.Request, Member)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m, err := h.svc.Authenticate(r.Context(), r.PathValue("room"), bearer(r))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		fn(w, r, m)
	}
}

func (h *Handler) createRoom(w http.ResponseWriter, r *http.Request, p Principal) {
	var in CreateRoomRequest
	if err := readJSON(w, r, maxSignedRequest, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := h.svc.CreateRoom(r.Context(), p, in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// RoomJSON is a line of GET /v1/crisis/rooms.
type RoomJSON struct {
	ID        string `json:"id"`
	Tenant    string `json:"tenant"`
	CreatedAt string `json:"created_at"`
	CreatedBy string `json:"created_by"`
	Members   int    `json:"members"`
	Pending   int    `json:"pending"`
	Closed    bool   `json:"closed"`
}

func (h *Handler) listRooms(w http.ResponseWriter, r *http.Request, p Principal) {
	list, err := h.svc.ListRooms(r.Context(), p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []RoomJSON{}
	for _, rm := range list {
		out = append(out, RoomJSON{ID: rm.ID, Tenant: rm.Tenant, CreatedAt: fmtTime(rm.CreatedAt), CreatedBy: rm.CreatedBy,
			Members: rm.Members, Pending: rm.Pending, Closed: !rm.ClosedAt.IsZero()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"rooms": out})
}

func (h *Handler) join(w http.ResponseWriter, r *http.Request) {
	var in JoinRequest
	if err := readJSON(w, r, maxJSONRequest, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := h.svc.Join(r.Context(), r.PathValue("room"), r.RemoteAddr, in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h *Handler) createInvite(w http.ResponseWriter, r *http.Request, m Member) {
	var in struct {
		TTLSeconds int64 `json:"ttl_seconds"`
	}
	if err := readJSON(w, r, maxJSONRequest, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	tok, exp, err := h.svc.CreateInvite(r.Context(), m, time.Duration(in.TTLSeconds)*time.Second)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"token": tok, "expires_at": fmtTime(exp)})
}

func (h *Handler) state(w http.ResponseWriter, r *http.Request, m Member) {
	out, err := h.svc.State(r.Context(), m)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func readSigned(w http.ResponseWriter, r *http.Request) (e2ee.Signed, error) {
	var in e2ee.Signed
	if err := readJSON(w, r, maxSignedRequest, &in); err != nil {
		return in, err
	}
	if in.Body == "" || in.Sig == "" {
		return in, badRequest("send a signed object: {\"body\": \"<JSON text>\", \"sig\": \"<base64url>\"}")
	}
	return in, nil
}

func (h *Handler) putRoster(w http.ResponseWriter, r *http.Request, m Member) {
	in, err := readSigned(w, r)
	var applied *AppliedRoster
	if err == nil {
		applied, err = h.svc.ApplyRoster(r.Context(), m, in)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"version": applied.Version, "epoch": applied.Epoch, "visible_from": applied.VisibleFrom})
}

func (h *Handler) postWraps(w http.ResponseWriter, r *http.Request, m Member) {
	in, err := readSigned(w, r)
	var id int64
	if err == nil {
		id, err = h.svc.PostWraps(r.Context(), m, in)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]int64{"id": id})
}

func queryInt(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest("%s must be a whole number ≥ 0", name)
	}
	return n, nil
}

func (h *Handler) getWraps(w http.ResponseWriter, r *http.Request, m Member) {
	after, err := queryInt(r, "after")
	var list []WrapRecord
	if err == nil {
		list, err = h.svc.Wraps(r.Context(), m, after)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	type wrapJSON struct {
		ID   int64  `json:"id"`
		Body string `json:"body"`
		Sig  string `json:"sig"`
	}
	out := make([]wrapJSON, 0, len(list))
	for _, x := range list {
		out = append(out, wrapJSON{x.ID, x.Body, x.Sig})
	}
	writeJSON(w, http.StatusOK, map[string]any{"wraps": out})
}

func (h *Handler) postEvent(w http.ResponseWriter, r *http.Request, m Member) {
	in, err := readSigned(w, r)
	var res EventResult
	if err == nil {
		res, err = h.svc.AppendEvent(r.Context(), m, in)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	code := http.StatusCreated
	if res.Resend {
		code = http.StatusOK
	}
	writeJSON(w, code, map[string]any{"pos": res.Pos, "hash": res.Hash, "received_at": fmtTime(res.ReceivedAt)})
}

// EventJSON is an event as the API hands it out.
type EventJSON struct {
	Pos        int64  `json:"pos"`
	Body       string `json:"body"`
	Sig        string `json:"sig"`
	ReceivedAt string `json:"received_at"`
}

func (h *Handler) getEvents(w http.ResponseWriter, r *http.Request, m Member) {
	after, err := queryInt(r, "after")
	var limit int64
	if err == nil {
		limit, err = queryInt(r, "limit")
	}
	if err == nil && limit > MaxEventsPage {
		err = badRequest("limit is at most %d", MaxEventsPage)
	}
	var list []Event
	var more bool
	if err == nil {
		list, more, err = h.svc.Events(r.Context(), m, after, int(limit))
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]EventJSON, 0, len(list))
	for _, e := range list {
		out = append(out, EventJSON{e.Pos, e.Body, e.Sig, fmtTime(e.ReceivedAt)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out, "more": more})
}

func (h *Handler) postBlob(w http.ResponseWriter, r *http.Request, m Member) {
	body := http.MaxBytesReader(w, r.Body, MaxBlob)
	id, err := h.svc.PutBlob(r.Context(), m, body, r.URL.Query().Get("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
}

func (h *Handler) getBlob(w http.ResponseWriter, r *http.Request, m Member) {
	f, meta, err := h.svc.OpenBlob(r.Context(), m, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(meta.Size, 10))
	// The id is the content's hash: it never changes, but it is a
	// member's data, so no shared cache may keep it.
	w.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, f); err != nil {
		h.svc.log.DebugContext(r.Context(), "blob download interrupted", "room", m.Room, "err", err)
	}
}
