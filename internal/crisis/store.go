package crisis

import (
	"context"
	"errors"
	"time"
)

// Errors a Store returns, tested with errors.Is.
var (
	ErrNotFound      = errors.New("crisis: not found")
	ErrExists        = errors.New("crisis: already exists")
	ErrInviteUsed    = errors.New("crisis: invitation already used")
	ErrInviteExpired = errors.New("crisis: invitation expired")
)

// MemberStatus is where a member stands in its room.
type MemberStatus string

// Member statuses. A member joins as pending, is admitted by a roster that
// lists it, and is removed by a roster that lists it in "removed"; removal
// is final (the device joins again with new keys).
const (
	StatusPending  MemberStatus = "pending"
	StatusAdmitted MemberStatus = "admitted"
	StatusRemoved  MemberStatus = "removed"
)

// Room is a crisis room as the relay knows it: routing metadata only (its
// title is an encrypted envelope).
type Room struct {
	ID          string
	Tenant      string // "" for none
	CreatedAt   time.Time
	CreatedBy   string // platform user name
	Coordinator string // member id of the coordinator's device
	CoordSign   []byte // the coordinator's Ed25519 public key
	Epoch       int64
	Version     int64 // current roster version
	LastPos     int64 // position of the last event, 0 if none
	ClosedAt    time.Time
}

// RoomSummary is a line of ListRooms.
type RoomSummary struct {
	Room
	Members int // admitted
	Pending int
}

// Member is a device in a room.
type Member struct {
	Room     string
	ID       string
	Name     string
	Sign     []byte
	DH       []byte
	Proof    string // b64u join proof, as sent
	Status   MemberStatus
	JoinedAt time.Time
	// VisibleFrom is the first event position the member may read (its
	// admission position); 0 while pending.
	VisibleFrom int64
	AdmittedAt  time.Time
	RemovedAt   time.Time
}

// NewMember is a device joining (or the coordinator creating the room), with
// the SHA-256 of its member token.
type NewMember struct {
	Member
	TokenHash []byte
}

// NewRoom is what CreateRoom stores: the room, its coordinator (admitted),
// and roster version 1.
type NewRoom struct {
	Room        Room
	Coordinator NewMember
	Roster      RosterRecord
}

// Invite is a one-time invitation, known by the SHA-256 of its token.
type Invite struct {
	Room      string
	TokenHash []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	CreatedBy string // member id
}

// RosterRecord is one version of a room's roster, as signed.
type RosterRecord struct {
	Room      string
	Version   int64
	Epoch     int64
	Body      string
	Sig       string
	CreatedAt time.Time
}

// RosterState is what ApplyRoster reads in its transaction and hands to the
// plan function.
type RosterState struct {
	Room    Room
	Current RosterRecord
	Members []Member // every member of the room, any status
}

// RosterPlan is what a new roster changes, decided by the Service.
type RosterPlan struct {
	Admit  []string // pending member ids now admitted
	Remove []string // member ids now removed
}

// WrapRecord is a stored wrap bundle.
type WrapRecord struct {
	ID        int64
	Room      string
	Epoch     int64
	Sender    string
	To        []string // recipients (the index)
	Body      string
	Sig       string
	CreatedAt time.Time
}

// Event is a stored envelope with its position.
type Event struct {
	Room       string
	Pos        int64
	Sender     string
	Seq        int64
	Hash       string
	Epoch      int64
	Body       string
	Sig        string
	ReceivedAt time.Time
}

// AppendState is what AppendEvent reads in its transaction and hands to the
// check function.
type AppendState struct {
	Room         Room
	SenderStatus MemberStatus
	LastSeq      int64  // the sender's last seq, 0 if none
	LastHash     string // hash of that envelope, "" if none
	// Existing is the sender's event with the same seq, if any (a resend,
	// or a conflicting one).
	Existing *Event
	// MissingRefs are the refs that name no event of the room.
	MissingRefs []string
}

// BlobMeta describes a stored attachment (the ciphertext is a file).
type BlobMeta struct {
	Room      string
	ID        string
	Size      int64
	Uploader  string
	CreatedAt time.Time
}

// Store persists the relay's state. Implementations must be safe for
// concurrent use; the functions passed to ConsumeInvite, ApplyRoster and
// AppendEvent run inside a transaction that no other writer of the same
// room can interleave with, and their error aborts it.
type Store interface {
	CreateRoom(ctx context.Context, r NewRoom) error
	Room(ctx context.Context, id string) (Room, error)
	// ListRooms returns the rooms of one tenant, or every room when tenant
	// is "", oldest first.
	ListRooms(ctx context.Context, tenant string) ([]RoomSummary, error)

	CreateInvite(ctx context.Context, inv Invite) error
	// ConsumeInvite marks the invitation used and adds m as pending, at
	// once: ErrNotFound, ErrInviteUsed or ErrInviteExpired (at now) when it
	// cannot be used, ErrExists when the member id is already in the room
	// (the invitation then stays unused).
	ConsumeInvite(ctx context.Context, room string, tokenHash []byte, now time.Time, m NewMember) error

	// MemberByToken finds a member by the SHA-256 of its token (any status).
	MemberByToken(ctx context.Context, tokenHash []byte) (Member, error)
	Members(ctx context.Context, room string) ([]Member, error)

	// Roster returns the current roster; RosterVersion an older one.
	Roster(ctx context.Context, room string) (RosterRecord, error)
	RosterVersion(ctx context.Context, room string, version int64) (RosterRecord, error)
	// ApplyRoster stores rec as the next version: plan sees the state in the
	// transaction and says whom it admits and removes; the store then sets
	// their status (admitted members see events from LastPos+1 on: their
	// VisibleFrom, with the LastPos that plan saw), the room's epoch and
	// version. No event is appended to the room in between.
	ApplyRoster(ctx context.Context, rec RosterRecord, plan func(RosterState) (RosterPlan, error)) error

	AddWraps(ctx context.Context, w WrapRecord) (int64, error)
	// WrapsFor returns the bundles holding a wrap for member, id > after,
	// oldest first, at most limit.
	WrapsFor(ctx context.Context, room, member string, after int64, limit int) ([]WrapRecord, error)

	// AppendEvent gives ev (Pos and ReceivedAt unset) the position
	// LastPos+1 if check accepts the state; when check says resend, nothing
	// is written and the existing event is returned.
	AppendEvent(ctx context.Context, ev Event, refs []string, check func(AppendState) (resend bool, err error)) (Event, error)
	// Events returns events with pos > after, in order, at most limit.
	Events(ctx context.Context, room string, after int64, limit int) ([]Event, error)
	// SenderLastPos returns the position of sender's last event of epoch,
	// 0 if none.
	SenderLastPos(ctx context.Context, room, sender string, epoch int64) (int64, error)

	PutBlob(ctx context.Context, b BlobMeta) error
	Blob(ctx context.Context, room, id string) (BlobMeta, error)
}
