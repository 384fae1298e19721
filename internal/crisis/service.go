package crisis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rempart/rempart/internal/crisis/e2ee"
	"github.com/rempart/rempart/internal/ratelimit"
)

// Limits of the relay.
const (
	MaxSignedBody  = 256 << 10 // an envelope, roster or wrap bundle body
	MaxEventsPage  = 5000
	DefaultPage    = 500
	MaxWrapsPage   = 1000
	MaxRefs        = 4
	MaxNameRunes   = 64
	DefaultInvite  = 24 * time.Hour
	MinInvite      = time.Minute
	MaxInvite      = 7 * 24 * time.Hour
	roomIDBytes    = 16
	keyBytes       = 32
	nonceBytes     = 12
	timeFormatJSON = "2006-01-02T15:04:05.000Z"
)

// JoinLimits bound joining. Invitations are single use, so a join that
// creates a member costs an invitation; the limits bound what a script can
// do without them (try tokens, replay links, make the relay verify proofs)
// and what a batch of leaked links can do to a room. Over a limit, join
// answers 429 with Retry-After.
type JoinLimits struct {
	Window  time.Duration
	PerAddr int // join requests from one address in Window, whatever their outcome
	PerRoom int // members created in one room in Window
	Pending int // members of a room waiting for the coordinator at once
}

// DefaultJoinLimits are the limits of a server (Options.Joins nil).
var DefaultJoinLimits = JoinLimits{Window: 10 * time.Minute, PerAddr: 20, PerRoom: 60, Pending: 50}

const (
	joinLimitKeys = 10000 // addresses and rooms remembered
	pendingRetry  = 60    // seconds: Retry-After when JoinLimits.Pending is reached
)

// Principal is a platform account, as the server's Accounts sees it.
type Principal struct {
	Username string
	Role     string
	Tenant   string // "" for a server-wide account
}

// Accounts checks a platform session token (from /v1/login).
type Accounts interface {
	// Authenticate returns who holds bearer; ErrUnauthenticated when it is
	// not a valid session of a person (agents are refused).
	Authenticate(ctx context.Context, bearer string) (Principal, error)
}

// ErrUnauthenticated is returned by Accounts for a missing, invalid or
// expired session.
var ErrUnauthenticated = errors.New("crisis: not signed in")

// AuditFunc writes an action to the server's audit trail.
type AuditFunc func(ctx context.Context, actor, action, tenant string, detail map[string]any)

// CreatorRoles are the platform roles that may create rooms.
var CreatorRoles = []string{"operator", "tenant_admin", "coordinator"}

// Service enforces the relay's rules on top of a Store.
type Service struct {
	st       Store
	accounts Accounts
	audit    AuditFunc
	blobs    *blobDir
	log      *slog.Logger
	now      func() time.Time
	hub      *hub
	calls    *callHub          // live call sessions (call.go)
	joins    *ratelimit.Window // join requests per address, members created per room
	limits   JoinLimits

	// appendMu serialises appends per room in this process, so that live
	// pushes leave in position order.
	appendMu sync.Map // room id -> *sync.Mutex
}

var (
	roomIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)
	// tenantRe is the server's spelling of tenant names.
	tenantRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
)

// validRoomID: b64u of 16 bytes.
func validRoomID(s string) bool {
	if !roomIDRe.MatchString(s) {
		return false
	}
	b, err := e2ee.B64.Strict().DecodeString(s)
	return err == nil && len(b) == roomIDBytes
}

func decodeKey(field, s string) ([]byte, error) {
	b, err := e2ee.B64.Strict().DecodeString(s)
	if err != nil || len(b) != keyBytes {
		return nil, badRequest("%q must be a public key of %d bytes, base64url without padding", field, keyBytes)
	}
	return b, nil
}

// checkName: a display name, visible to the server; 1 to 64 characters, no
// control characters.
func checkName(name string) error {
	if name == "" || strings.TrimSpace(name) != name || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameRunes {
		return badRequest("the display name must be 1 to %d characters without spaces around it (a role such as \"Maire\" is enough)", MaxNameRunes)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return badRequest("the display name cannot hold control characters")
		}
	}
	return nil
}

func (s *Service) lockRoom(room string) func() {
	mu, _ := s.appendMu.LoadOrStore(room, &sync.Mutex{})
	m := mu.(*sync.Mutex)
	m.Lock()
	return m.Unlock
}

func memberActor(m Member) string { return "crisis:" + m.Room + "/" + m.ID }

// joinRequest is the part of room creation and joining that describes the
// device.
type joinRequest struct {
	Name  string `json:"name"`
	Sign  string `json:"sign"`
	DH    string `json:"dh"`
	Proof string `json:"proof"`
}

// device checks a device's name, keys and join proof for room.
func (j joinRequest) device(room string) (Member, error) {
	if err := checkName(j.Name); err != nil {
		return Member{}, err
	}
	sign, err := decodeKey("sign", j.Sign)
	if err != nil {
		return Member{}, err
	}
	dh, err := decodeKey("dh", j.DH)
	if err != nil {
		return Member{}, err
	}
	if err := e2ee.VerifyJoinProof(room, j.Name, sign, dh, j.Proof); err != nil {
		return Member{}, coded(http.StatusBadRequest, CodeBadProof, "the join proof does not verify: it must be the signature of enc(%q, room, name, sign, dh) with the device's signing key", e2ee.LabelJoin)
	}
	return Member{Room: room, ID: e2ee.MemberID(sign), Name: j.Name, Sign: sign, DH: dh, Proof: j.Proof}, nil
}

// CreateRoomRequest is the body of POST /v1/crisis/rooms.
type CreateRoomRequest struct {
	Tenant string `json:"tenant"`
	joinRequest
	Roster e2ee.Signed `json:"roster"`
}

// Created is what the creator of a room or a joining device receives.
type Created struct {
	Room        string `json:"room,omitempty"`
	Member      string `json:"member"`
	MemberToken string `json:"member_token"`
}

func allowedCreator(role string) bool {
	for _, r := range CreatorRoles {
		if r == role {
			return true
		}
	}
	return false
}

// CreateRoom creates a room with the coordinator's device admitted and
// roster version 1.
func (s *Service) CreateRoom(ctx context.Context, p Principal, in CreateRoomRequest) (Created, error) {
	if !allowedCreator(p.Role) {
		return Created{}, coded(http.StatusForbidden, CodeRoleForbidden, "access denied: only an operator, a tenant admin or a coordinator may create a crisis room (your role: %s)", p.Role)
	}
	tenant := in.Tenant
	switch {
	case p.Tenant != "" && tenant == "":
		tenant = p.Tenant
	case p.Tenant != "" && tenant != p.Tenant:
		return Created{}, coded(http.StatusForbidden, CodeRoleForbidden, "access denied: your account belongs to tenant %q and may create rooms for it only", p.Tenant)
	case tenant != "" && !tenantRe.MatchString(tenant):
		return Created{}, badRequest("invalid tenant name %q: use a tenant's name as listed by `rempart tenant list`, or leave it out", tenant)
	}
	if len(in.Roster.Body) > MaxSignedBody {
		return Created{}, errf(http.StatusRequestEntityTooLarge, "the roster is larger than %d bytes", MaxSignedBody)
	}
	r, err := e2ee.ParseRoster([]byte(in.Roster.Body))
	if err != nil {
		return Created{}, badRequest("the roster cannot be read: %v", err)
	}
	if !validRoomID(r.Room) {
		return Created{}, badRequest("the room id must be 16 random bytes, base64url without padding (22 characters)")
	}
	coord, err := in.device(r.Room)
	if err != nil {
		return Created{}, err
	}
	if err := e2ee.Verify(coord.Sign, e2ee.LabelRoster, r.Room, []byte(in.Roster.Body), in.Roster.Sig); err != nil {
		return Created{}, badRequest("the roster's signature does not verify with the coordinator key you sent")
	}
	if err := checkFirstRoster(r.Room, coord, r); err != nil {
		return Created{}, err
	}
	tok, hash, err := newToken(MemberTokenPrefix)
	if err != nil {
		return Created{}, err
	}
	now := s.now().UTC()
	coord.Status, coord.JoinedAt, coord.AdmittedAt, coord.VisibleFrom = StatusAdmitted, now, now, 1
	room := Room{ID: r.Room, Tenant: tenant, CreatedAt: now, CreatedBy: p.Username, Coordinator: coord.ID,
		CoordSign: coord.Sign, Epoch: 1, Version: 1}
	err = s.st.CreateRoom(ctx, NewRoom{Room: room, Coordinator: NewMember{Member: coord, TokenHash: hash},
		Roster: RosterRecord{Room: r.Room, Version: 1, Epoch: 1, Body: in.Roster.Body, Sig: in.Roster.Sig, CreatedAt: now}})
	if errors.Is(err, ErrExists) {
		return Created{}, coded(http.StatusConflict, CodeRoomExists, "a room with this id exists already: draw a new random room id")
	}
	if err != nil {
		return Created{}, fmt.Errorf("crisis: create room: %w", err)
	}
	s.audit(ctx, "account:"+p.Username, "crisis.room.create", tenant, map[string]any{"room": room.ID, "coordinator": coord.ID, "name": coord.Name})
	return Created{Room: room.ID, Member: coord.ID, MemberToken: tok}, nil
}

// ListRooms returns the rooms p may see: its tenant's, or every room for a
// server-wide account.
func (s *Service) ListRooms(ctx context.Context, p Principal) ([]RoomSummary, error) {
	list, err := s.st.ListRooms(ctx, p.Tenant)
	if err != nil {
		return nil, fmt.Errorf("crisis: list rooms: %w", err)
	}
	return list, nil
}

// Authenticate finds the member holding token in room. Removed members and
// tokens of other rooms are refused with 401.
func (s *Service) Authenticate(ctx context.Context, room, token string) (Member, error) {
	if token == "" {
		return Member{}, errf(http.StatusUnauthorized, "no member token: open your invitation link again on this device")
	}
	if !wellFormed(MemberTokenPrefix, token) {
		return Member{}, errf(http.StatusUnauthorized, "this is not a member token (rcm_…): open your invitation link again")
	}
	m, err := s.st.MemberByToken(ctx, hashToken(token))
	if errors.Is(err, ErrNotFound) || (err == nil && m.Room != room) {
		return Member{}, errf(http.StatusUnauthorized, "this member token is not valid for this room: join again with a new invitation")
	}
	if err != nil {
		return Member{}, fmt.Errorf("crisis: check member token: %w", err)
	}
	if m.Status == StatusRemoved {
		return Member{}, coded(http.StatusUnauthorized, CodeMemberRemoved, "this device was removed from the room: ask the coordinator for a new invitation")
	}
	return m, nil
}

func requireAdmitted(m Member) error {
	if m.Status != StatusAdmitted {
		return coded(http.StatusForbidden, CodeNotAdmitted, "you are not admitted yet: compare your safety number with the coordinator, who will admit you")
	}
	return nil
}

func (s *Service) requireCoordinator(ctx context.Context, m Member) (Room, error) {
	room, err := s.st.Room(ctx, m.Room)
	if err != nil {
		return Room{}, fmt.Errorf("crisis: room %s: %w", m.Room, err)
	}
	if m.ID != room.Coordinator {
		return Room{}, coded(http.StatusForbidden, CodeNotCoordinator, "only the room's coordinator may do this")
	}
	return room, nil
}

// CreateInvite issues a one-time invitation valid for ttl (0: 24 h).
func (s *Service) CreateInvite(ctx context.Context, m Member, ttl time.Duration) (string, time.Time, error) {
	room, err := s.requireCoordinator(ctx, m)
	if err != nil {
		return "", time.Time{}, err
	}
	if ttl == 0 {
		ttl = DefaultInvite
	}
	if ttl < MinInvite || ttl > MaxInvite {
		return "", time.Time{}, badRequest("ttl_seconds must be between %d and %d", int(MinInvite.Seconds()), int(MaxInvite.Seconds()))
	}
	tok, hash, err := newToken(InviteTokenPrefix)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.now().UTC()
	inv := Invite{Room: m.Room, TokenHash: hash, CreatedAt: now, ExpiresAt: now.Add(ttl), CreatedBy: m.ID}
	if err := s.st.CreateInvite(ctx, inv); err != nil {
		return "", time.Time{}, fmt.Errorf("crisis: create invitation: %w", err)
	}
	s.audit(ctx, memberActor(m), "crisis.invite.create", room.Tenant, map[string]any{"room": m.Room, "expires_at": inv.ExpiresAt})
	return tok, inv.ExpiresAt, nil
}

// JoinRequest is the body of POST /v1/crisis/rooms/{room}/join.
type JoinRequest struct {
	Invite string `json:"invite"`
	joinRequest
}

// JoinResult is the answer to a join.
type JoinResult struct {
	Created
	Coordinator struct {
		ID   string `json:"id"`
		Sign string `json:"sign"`
		DH   string `json:"dh"`
	} `json:"coordinator"`
}

// retryAfter is a wait in whole seconds, at least 1.
func retryAfter(d time.Duration) int {
	return max(int((d+time.Second-1)/time.Second), 1)
}

// waitText says a wait in words: "3 minutes", "1 minute", "40 seconds".
func waitText(secs int) string {
	switch {
	case secs < 60:
		return fmt.Sprintf("%d seconds", secs)
	case secs < 120:
		return "1 minute"
	default:
		return fmt.Sprintf("%d minutes", (secs+59)/60)
	}
}

// joinLimited is the 429 of a join over a limit.
func (s *Service) joinLimited(ctx context.Context, room Room, remote, code, why string, wait int) error {
	s.audit(ctx, "anonymous", "crisis.join.limited", room.Tenant, map[string]any{"room": room.ID, "remote": remote, "reason": code})
	return &Error{Status: http.StatusTooManyRequests, Code: code, RetryAfter: wait,
		Msg: fmt.Sprintf("%s: wait %s, then open the invitation link again", why, waitText(wait))}
}

// Join consumes an invitation and adds the device as a pending member.
// remote is the client's address (http.Request.RemoteAddr), for the join
// limits.
func (s *Service) Join(ctx context.Context, roomID, remote string, in JoinRequest) (JoinResult, error) {
	var res JoinResult
	addr := "a:" + ratelimit.Host(remote)
	lim := s.limits
	if blocked, wait := s.joins.Blocked(ratelimit.Limit{Key: addr, Max: lim.PerAddr}); blocked {
		return res, s.joinLimited(ctx, Room{ID: roomID}, remote, CodeJoinRateLimited,
			fmt.Sprintf("too many requests to join a crisis room from this address (%d in %s)", lim.PerAddr, lim.Window), retryAfter(wait))
	}
	s.joins.Add(addr)
	room, err := s.st.Room(ctx, roomID)
	if errors.Is(err, ErrNotFound) {
		return res, coded(http.StatusNotFound, CodeRoomNotFound, "no such room: check the invitation link")
	}
	if err != nil {
		return res, fmt.Errorf("crisis: room %s: %w", roomID, err)
	}
	if blocked, wait := s.joins.Blocked(ratelimit.Limit{Key: "r:" + roomID, Max: lim.PerRoom}); blocked {
		return res, s.joinLimited(ctx, room, remote, CodeJoinRateLimited,
			fmt.Sprintf("too many devices joined this room recently (%d in %s)", lim.PerRoom, lim.Window), retryAfter(wait))
	}
	if pending, err := s.pending(ctx, roomID); err != nil {
		return res, err
	} else if lim.Pending > 0 && len(pending) >= lim.Pending {
		return res, s.joinLimited(ctx, room, remote, CodeTooManyPending,
			fmt.Sprintf("%d devices are already waiting for the coordinator to admit or refuse them", len(pending)), pendingRetry)
	}
	if !wellFormed(InviteTokenPrefix, in.Invite) {
		return res, coded(http.StatusGone, CodeInviteInvalid, "this invitation is not valid: check that the link was copied whole, or ask the coordinator for a new one")
	}
	m, err := in.device(roomID)
	if err != nil {
		return res, err
	}
	tok, hash, err := newToken(MemberTokenPrefix)
	if err != nil {
		return res, err
	}
	now := s.now().UTC()
	m.Status, m.JoinedAt = StatusPending, now
	err = s.st.ConsumeInvite(ctx, roomID, hashToken(in.Invite), now, NewMember{Member: m, TokenHash: hash})
	switch {
	case errors.Is(err, ErrInviteUsed):
		s.audit(ctx, "anonymous", "crisis.invite.replay", room.Tenant, map[string]any{"room": roomID, "member": m.ID})
		return res, coded(http.StatusGone, CodeInviteUsed, "this invitation has already been used: ask the coordinator for a new one")
	case errors.Is(err, ErrInviteExpired):
		return res, coded(http.StatusGone, CodeInviteExpired, "this invitation has expired: ask the coordinator for a new one")
	case errors.Is(err, ErrNotFound):
		return res, coded(http.StatusGone, CodeInviteInvalid, "this invitation is not valid for this room: ask the coordinator for a new one")
	case errors.Is(err, ErrExists):
		return res, coded(http.StatusConflict, CodeAlreadyJoined, "this device already joined the room (or was removed from it): a removed device must make new keys and use a new invitation")
	case err != nil:
		return res, fmt.Errorf("crisis: join: %w", err)
	}
	s.joins.Add("r:" + roomID)
	s.audit(ctx, memberActor(m), "crisis.member.join", room.Tenant, map[string]any{"room": roomID, "member": m.ID, "name": m.Name})
	s.pushPending(ctx, roomID)
	coord, err := s.member(ctx, roomID, room.Coordinator)
	if err != nil {
		return res, err
	}
	res.Member, res.MemberToken = m.ID, tok
	res.Coordinator.ID, res.Coordinator.Sign, res.Coordinator.DH = coord.ID, e2ee.B64.EncodeToString(coord.Sign), e2ee.B64.EncodeToString(coord.DH)
	return res, nil
}

func (s *Service) member(ctx context.Context, room, id string) (Member, error) {
	list, err := s.st.Members(ctx, room)
	if err != nil {
		return Member{}, fmt.Errorf("crisis: members of %s: %w", room, err)
	}
	for _, m := range list {
		if m.ID == id {
			return m, nil
		}
	}
	return Member{}, fmt.Errorf("crisis: member %s of %s: %w", id, room, ErrNotFound)
}

// PendingJSON is a member waiting for admission.
type PendingJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Sign     string `json:"sign"`
	DH       string `json:"dh"`
	Proof    string `json:"proof"`
	JoinedAt string `json:"joined_at"`
}

func (s *Service) pending(ctx context.Context, room string) ([]PendingJSON, error) {
	list, err := s.st.Members(ctx, room)
	if err != nil {
		return nil, fmt.Errorf("crisis: members of %s: %w", room, err)
	}
	return pendingOf(list), nil
}

func pendingOf(list []Member) []PendingJSON {
	out := []PendingJSON{}
	for _, m := range list {
		if m.Status == StatusPending {
			out = append(out, PendingJSON{ID: m.ID, Name: m.Name, Sign: e2ee.B64.EncodeToString(m.Sign),
				DH: e2ee.B64.EncodeToString(m.DH), Proof: m.Proof, JoinedAt: fmtTime(m.JoinedAt)})
		}
	}
	return out
}

// visibleFrom maps each admitted member to its admission position (the
// first event position it may read), as the state and the roster push
// hand it out: a member who writes gives a newcomer its chain at the index
// of its first envelope at or after that position (docs/crisis-e2ee.md,
// "Wrap bundle").
func visibleFrom(list []Member) map[string]int64 {
	out := make(map[string]int64, len(list))
	for _, m := range list {
		if m.Status == StatusAdmitted {
			out[m.ID] = m.VisibleFrom
		}
	}
	return out
}

func fmtTime(t time.Time) string { return t.UTC().Format(timeFormatJSON) }

// StateJSON is the answer of GET state.
type StateJSON struct {
	Room string `json:"room"`
	You  struct {
		ID     string       `json:"id"`
		Status MemberStatus `json:"status"`
	} `json:"you"`
	Roster e2ee.Signed `json:"roster"`
	// The rest is for admitted members only (pointers: present, even
	// when empty, for them; absent for a pending member).
	Pending *[]PendingJSON `json:"pending,omitempty"`
	Epoch   *int64         `json:"epoch,omitempty"`
	LastPos *int64         `json:"last_pos,omitempty"`
	Online  *[]string      `json:"online,omitempty"`
	// VisibleFrom: each admitted member's admission position.
	VisibleFrom *map[string]int64 `json:"visible_from,omitempty"`
}

// State is what a member's client needs to start; a pending member gets
// its status and the roster only.
func (s *Service) State(ctx context.Context, m Member) (StateJSON, error) {
	var out StateJSON
	out.Room, out.You.ID, out.You.Status = m.Room, m.ID, m.Status
	rec, err := s.st.Roster(ctx, m.Room)
	if err != nil {
		return out, fmt.Errorf("crisis: roster of %s: %w", m.Room, err)
	}
	out.Roster = e2ee.Signed{Body: rec.Body, Sig: rec.Sig}
	if m.Status != StatusAdmitted {
		return out, nil
	}
	room, err := s.st.Room(ctx, m.Room)
	if err != nil {
		return out, fmt.Errorf("crisis: room %s: %w", m.Room, err)
	}
	list, err := s.st.Members(ctx, m.Room)
	if err != nil {
		return out, fmt.Errorf("crisis: members of %s: %w", m.Room, err)
	}
	pending, vis := pendingOf(list), visibleFrom(list)
	online := s.hub.online(m.Room)
	out.Pending, out.Epoch, out.LastPos, out.Online, out.VisibleFrom = &pending, &room.Epoch, &room.LastPos, &online, &vis
	return out, nil
}

// AppliedRoster is a roster as the relay applied it.
type AppliedRoster struct {
	*e2ee.Roster
	// VisibleFrom is the position from which the roster takes effect (the
	// room's last position + 1 when it was applied, under the room's
	// lock: every event before it was stored before, every event from it
	// on after). The members it admits read from there on.
	VisibleFrom int64
}

// ApplyRoster checks and stores a roster signed by the coordinator, then
// tells every connected member, and closes removed members' connections
// and calls.
// It returns the roster as applied.
func (s *Service) ApplyRoster(ctx context.Context, m Member, in e2ee.Signed) (*AppliedRoster, error) {
	room, err := s.requireCoordinator(ctx, m)
	if err != nil {
		return nil, err
	}
	if len(in.Body) > MaxSignedBody {
		return nil, errf(http.StatusRequestEntityTooLarge, "the roster is larger than %d bytes", MaxSignedBody)
	}
	if err := e2ee.Verify(room.CoordSign, e2ee.LabelRoster, room.ID, []byte(in.Body), in.Sig); err != nil {
		s.audit(ctx, memberActor(m), "crisis.roster.refused", room.Tenant, map[string]any{"room": room.ID, "reason": "signature"})
		return nil, coded(http.StatusBadRequest, CodeRosterRefused, "the roster is not signed by the room's coordinator key: sign it on the coordinator's device")
	}
	next, err := e2ee.ParseRoster([]byte(in.Body))
	if err != nil {
		return nil, badRequest("the roster cannot be read: %v", err)
	}
	var plan RosterPlan
	var names map[string]string
	var vis map[string]int64
	var from int64
	unlock := s.lockRoom(room.ID) // pushes stay in order with events
	defer unlock()
	rec := RosterRecord{Room: room.ID, Version: next.Version, Epoch: next.Epoch, Body: in.Body, Sig: in.Sig, CreatedAt: s.now().UTC()}
	err = s.st.ApplyRoster(ctx, rec, func(st RosterState) (RosterPlan, error) {
		cur, err := e2ee.ParseRoster([]byte(st.Current.Body))
		if err != nil {
			return RosterPlan{}, fmt.Errorf("crisis: stored roster %d of %s: %w", st.Current.Version, room.ID, err)
		}
		names = make(map[string]string, len(st.Members))
		for _, mm := range st.Members {
			names[mm.ID] = mm.Name
		}
		plan, err = checkRoster(st.Room, cur, next, st.Members)
		if err != nil {
			return plan, err
		}
		// The store gives the members it admits visible_from = LastPos+1
		// in this transaction: no event can come between.
		from = st.Room.LastPos + 1
		vis = visibleFrom(st.Members)
		for _, id := range plan.Remove {
			delete(vis, id)
		}
		for _, id := range plan.Admit {
			vis[id] = from
		}
		return plan, nil
	})
	if err != nil {
		if e, ok := asError(err); ok {
			s.audit(ctx, memberActor(m), "crisis.roster.refused", room.Tenant, map[string]any{"room": room.ID, "reason": e.Msg})
			if e.Code == "" && e.Status == http.StatusBadRequest {
				e.Code = CodeRosterRefused
			}
			return nil, e
		}
		return nil, fmt.Errorf("crisis: apply roster %d of %s: %w", next.Version, room.ID, err)
	}
	for _, id := range plan.Admit {
		s.audit(ctx, memberActor(m), "crisis.member.admit", room.Tenant, map[string]any{"room": room.ID, "member": id, "name": names[id], "version": next.Version})
	}
	for _, id := range plan.Remove {
		s.audit(ctx, memberActor(m), "crisis.member.remove", room.Tenant, map[string]any{"room": room.ID, "member": id, "name": names[id], "version": next.Version, "epoch": next.Epoch})
	}
	s.hub.applyRoster(room.ID, in, plan, vis)
	// Removed members leave the call at once, with their room WebSocket;
	// the others learn the epoch so that they rotate their media keys.
	s.calls.applyRoster(room.ID, plan.Remove, next.Epoch)
	s.pushPending(ctx, room.ID)
	return &AppliedRoster{Roster: next, VisibleFrom: from}, nil
}

func (s *Service) pushPending(ctx context.Context, room string) {
	list, err := s.pending(ctx, room)
	if err != nil {
		s.log.WarnContext(ctx, "cannot list pending members for the live push", "room", room, "err", err)
		return
	}
	r, err := s.st.Room(ctx, room)
	if err != nil {
		s.log.WarnContext(ctx, "cannot read the room for the live push", "room", room, "err", err)
		return
	}
	s.hub.sendTo(room, r.Coordinator, mustJSON(map[string]any{"type": "pending", "pending": list}))
}

// PostWraps stores a wrap bundle from m, for the room's admitted members.
func (s *Service) PostWraps(ctx context.Context, m Member, in e2ee.Signed) (int64, error) {
	if err := requireAdmitted(m); err != nil {
		return 0, err
	}
	if len(in.Body) > MaxSignedBody {
		return 0, errf(http.StatusRequestEntityTooLarge, "the wrap bundle is larger than %d bytes", MaxSignedBody)
	}
	if err := e2ee.Verify(m.Sign, e2ee.LabelWraps, m.Room, []byte(in.Body), in.Sig); err != nil {
		return 0, badRequest("the wrap bundle's signature does not verify with your key: sign it with this device's key")
	}
	b, err := e2ee.ParseWrapBundle([]byte(in.Body))
	if err != nil {
		return 0, badRequest("the wrap bundle cannot be read: %v", err)
	}
	if b.Room != m.Room || b.Sender != m.ID {
		return 0, badRequest("the wrap bundle must name this room and you as its sender")
	}
	room, err := s.st.Room(ctx, m.Room)
	if err != nil {
		return 0, fmt.Errorf("crisis: room %s: %w", m.Room, err)
	}
	// A bundle is for the current epoch, or for an earlier one when it
	// hands a member admitted late in that epoch the sender's chain for
	// the entries it wrote there after that member's admission (an
	// admission followed at once by a removal): then every recipient must
	// be able to read one of them.
	if b.Epoch < 1 || b.Epoch > room.Epoch {
		return 0, &Error{Status: http.StatusConflict, Code: CodeEpochConflict, Msg: "the wrap bundle is not for the room's current epoch: fetch the state, draw a key for this epoch and wrap it again",
			Extra: map[string]any{"epoch": room.Epoch}}
	}
	var lastOfEpoch int64 // the sender's last position in an earlier epoch
	if b.Epoch < room.Epoch {
		if lastOfEpoch, err = s.st.SenderLastPos(ctx, m.Room, m.ID, b.Epoch); err != nil {
			return 0, fmt.Errorf("crisis: last position of %s in epoch %d: %w", m.ID, b.Epoch, err)
		}
	}
	if len(b.Wraps) == 0 || len(b.Wraps) > MaxMembers {
		return 0, badRequest("a wrap bundle holds 1 to %d wraps", MaxMembers)
	}
	members, err := s.st.Members(ctx, m.Room)
	if err != nil {
		return 0, fmt.Errorf("crisis: members of %s: %w", m.Room, err)
	}
	admitted := map[string]int64{} // member → visible_from
	for _, mm := range members {
		if mm.Status == StatusAdmitted {
			admitted[mm.ID] = mm.VisibleFrom
		}
	}
	seen := map[string]bool{}
	to := make([]string, 0, len(b.Wraps))
	for _, w := range b.Wraps {
		from, ok := admitted[w.To]
		if !ok {
			return 0, badRequest("a wrap is addressed to %q, who is not an admitted member of the room: wrap only for the members of the current roster", w.To)
		}
		if b.Epoch < room.Epoch && from > lastOfEpoch {
			return 0, &Error{Status: http.StatusConflict, Code: CodeEpochConflict, Extra: map[string]any{"epoch": room.Epoch},
				Msg: fmt.Sprintf("a wrap of epoch %d (the room is in epoch %d) is addressed to %q, who cannot read any entry you wrote in that epoch: wrap an earlier epoch only for members admitted before your last entry in it", b.Epoch, room.Epoch, w.To)}
		}
		if seen[w.To] {
			return 0, badRequest("two wraps are addressed to %q", w.To)
		}
		seen[w.To] = true
		if n, err := e2ee.B64.DecodeString(w.Nonce); err != nil || len(n) != nonceBytes {
			return 0, badRequest("the wrap for %q has a bad nonce (12 bytes, base64url)", w.To)
		}
		if k, err := e2ee.B64.DecodeString(w.Eph); err != nil || len(k) != keyBytes {
			return 0, badRequest("the wrap for %q has a bad ephemeral key (32 bytes, base64url)", w.To)
		}
		to = append(to, w.To)
	}
	rec := WrapRecord{Room: m.Room, Epoch: b.Epoch, Sender: m.ID, To: to, Body: in.Body, Sig: in.Sig, CreatedAt: s.now().UTC()}
	id, err := s.st.AddWraps(ctx, rec)
	if err != nil {
		return 0, fmt.Errorf("crisis: store wraps: %w", err)
	}
	rec.ID = id
	s.hub.pushWraps(rec)
	return id, nil
}

// Wraps returns the bundles that hold a wrap for m.
func (s *Service) Wraps(ctx context.Context, m Member, after int64) ([]WrapRecord, error) {
	if err := requireAdmitted(m); err != nil {
		return nil, err
	}
	// History shares live beside the wrap bundles: they have their own
	// endpoint (history.go).
	return s.allFor(ctx, m.Room, m.ID, after, func(w WrapRecord) bool { return !isHistory(w) }, 1)
}

// EventResult is the answer to an envelope.
type EventResult struct {
	Event
	Resend bool
}

func chainConflict(code, msg string, epoch, lastSeq int64, lastHash string) *Error {
	return &Error{Status: http.StatusConflict, Code: code, Msg: msg,
		Extra: map[string]any{"epoch": epoch, "next_seq": lastSeq + 1, "prev": lastHash}}
}

// AppendEvent accepts an envelope from its admitted sender and gives it the
// next position; a resend of a stored envelope gets its position back.
func (s *Service) AppendEvent(ctx context.Context, m Member, in e2ee.Signed) (EventResult, error) {
	if err := requireAdmitted(m); err != nil {
		return EventResult{}, err
	}
	body := []byte(in.Body)
	if len(body) > MaxSignedBody {
		return EventResult{}, errf(http.StatusRequestEntityTooLarge, "the envelope is larger than %d bytes: send large files as attachments (blobs)", MaxSignedBody)
	}
	env, err := e2ee.ParseEnvelope(body)
	if err != nil {
		return EventResult{}, badRequest("the envelope cannot be read: %v", err)
	}
	if env.Room != m.Room || env.Sender != m.ID {
		return EventResult{}, badRequest("the envelope must name this room and you as its sender")
	}
	if err := e2ee.Verify(m.Sign, e2ee.LabelEnvelope, m.Room, body, in.Sig); err != nil {
		return EventResult{}, badRequest("the envelope's signature does not verify with your key: sign it with this device's key")
	}
	if err := checkEnvelopeFields(env); err != nil {
		return EventResult{}, err
	}
	hash := e2ee.Hash(body)
	unlock := s.lockRoom(m.Room)
	defer unlock()
	ev := Event{Room: m.Room, Sender: m.ID, Seq: env.Seq, Hash: hash, Epoch: env.Epoch, Body: in.Body, Sig: in.Sig}
	resend := false
	stored, err := s.st.AppendEvent(ctx, ev, env.Refs, func(st AppendState) (bool, error) {
		if st.SenderStatus != StatusAdmitted {
			return false, coded(http.StatusForbidden, CodeMemberRemoved, "you are no longer an admitted member of this room")
		}
		if st.Existing != nil {
			if st.Existing.Hash == hash {
				resend = true
				return true, nil
			}
			return false, chainConflict(CodeChainConflict, "you already sent another envelope with this seq: continue your chain from next_seq and prev", st.Room.Epoch, st.LastSeq, st.LastHash)
		}
		if env.Epoch != st.Room.Epoch {
			return false, chainConflict(CodeEpochConflict, fmt.Sprintf("the room is in epoch %d, not %d: fetch the roster, send your new key's wraps and encrypt again", st.Room.Epoch, env.Epoch), st.Room.Epoch, st.LastSeq, st.LastHash)
		}
		if env.Seq != st.LastSeq+1 || env.Prev != st.LastHash {
			return false, chainConflict(CodeChainConflict, "the envelope does not follow your last one: use next_seq and prev", st.Room.Epoch, st.LastSeq, st.LastHash)
		}
		if len(st.MissingRefs) > 0 {
			return false, badRequest("the envelope cites %d entries that are not in the room (%s): cite only entries you received", len(st.MissingRefs), strings.Join(st.MissingRefs, ", "))
		}
		return false, nil
	})
	if err != nil {
		if _, ok := asError(err); ok {
			return EventResult{}, err
		}
		return EventResult{}, fmt.Errorf("crisis: append event: %w", err)
	}
	if !resend {
		s.hub.pushEvent(stored)
	}
	return EventResult{Event: stored, Resend: resend}, nil
}

func checkEnvelopeFields(env *e2ee.Envelope) error {
	switch {
	case env.Seq < 1:
		return badRequest("seq starts at 1")
	case env.Seq == 1 && env.Prev != "":
		return badRequest("the first envelope (seq 1) has an empty prev")
	case env.I < 0:
		return badRequest("the chain index i cannot be negative")
	case len(env.Refs) > MaxRefs:
		return badRequest("an envelope cites at most %d other entries", MaxRefs)
	}
	if n, err := e2ee.B64.DecodeString(env.Nonce); err != nil || len(n) != nonceBytes {
		return badRequest("the envelope's nonce must be 12 bytes, base64url")
	}
	if _, err := e2ee.B64.DecodeString(env.CT); err != nil || env.CT == "" {
		return badRequest("the envelope's ct must be base64url ciphertext")
	}
	for _, r := range env.Refs {
		if h, err := e2ee.B64.DecodeString(r); err != nil || len(h) != 32 {
			return badRequest("ref %q is not an envelope hash (32 bytes, base64url)", r)
		}
	}
	return nil
}

// Events returns the events m may read after pos after: from its admission
// on, or from what the coordinator shared with it (readFrom).
func (s *Service) Events(ctx context.Context, m Member, after int64, limit int) ([]Event, bool, error) {
	if err := requireAdmitted(m); err != nil {
		return nil, false, err
	}
	if limit <= 0 {
		limit = DefaultPage
	}
	limit = min(limit, MaxEventsPage)
	from := m.VisibleFrom
	if after < from-1 {
		var err error
		if from, err = s.readFrom(ctx, m); err != nil {
			return nil, false, err
		}
	}
	after = max(after, from-1, 0)
	list, err := s.st.Events(ctx, m.Room, after, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("crisis: events: %w", err)
	}
	more := len(list) > limit
	if more {
		list = list[:limit]
	}
	return list, more, nil
}
