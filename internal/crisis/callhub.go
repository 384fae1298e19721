package crisis

import (
	"slices"
	"sync"
)

// callEnd says why the relay ended a call session (rather than the client
// or the media connection).
type callEnd int

const (
	callEndNone    callEnd = iota
	callEndRemoved         // the coordinator removed the member
	callEndStop            // the server is stopping
)

// callSession is one member's live call socket, as the relay sees it: the
// roster decides when it must end and when its keys must rotate, so the
// relay keeps a handle on it next to the room WebSocket.
type callSession struct {
	room   string
	member string

	done chan struct{} // closed by stop
	once sync.Once
	why  callEnd // set before done is closed

	mu    sync.Mutex
	epoch int64         // latest epoch known for the room
	kick  chan struct{} // capacity 1: the writer has an epoch to send
}

func newCallSession(room, member string, epoch int64) *callSession {
	return &callSession{room: room, member: member, epoch: epoch, done: make(chan struct{}), kick: make(chan struct{}, 1)}
}

// stop ends the session; the first reason wins.
func (s *callSession) stop(why callEnd) {
	s.once.Do(func() {
		s.why = why
		close(s.done)
	})
}

// reason is why stop was called; valid once done is closed.
func (s *callSession) reason() callEnd {
	select {
	case <-s.done:
		return s.why
	default:
		return callEndNone
	}
}

// setEpoch records a newer epoch and wakes the writer. Never blocks: the
// roster is applied under the room's lock, and only the latest epoch
// matters to a browser (it derives that epoch's media keys), so pushes
// coalesce instead of queueing.
func (s *callSession) setEpoch(n int64) {
	s.mu.Lock()
	newer := n > s.epoch
	if newer {
		s.epoch = n
	}
	s.mu.Unlock()
	if newer {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

func (s *callSession) currentEpoch() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epoch
}

// callHub knows every live call session, by room.
type callHub struct {
	mu    sync.Mutex
	rooms map[string]map[*callSession]struct{}
}

func newCallHub() *callHub { return &callHub{rooms: map[string]map[*callSession]struct{}{}} }

func (h *callHub) add(s *callSession) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.rooms[s.room]
	if set == nil {
		set = map[*callSession]struct{}{}
		h.rooms[s.room] = set
	}
	set[s] = struct{}{}
}

func (h *callHub) remove(s *callSession) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if set := h.rooms[s.room]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(h.rooms, s.room)
		}
	}
}

// applyRoster ends the removed members' calls at once and tells the others
// the room's epoch (a no-op for sessions that know it already).
func (h *callHub) applyRoster(room string, removed []string, epoch int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.rooms[room] {
		if slices.Contains(removed, s.member) {
			s.stop(callEndRemoved)
			continue
		}
		s.setEpoch(epoch)
	}
}

// closeAll ends every call (server shutdown).
func (h *callHub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, set := range h.rooms {
		for s := range set {
			s.stop(callEndStop)
		}
	}
}
