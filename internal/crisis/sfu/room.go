package sfu

import (
	"context"
	"slices"
	"sync"
	"time"
)

// room is one conference: its participants and the speaker detector.
type room struct {
	name string
	srv  *Server

	mu      sync.Mutex
	parts   map[string]*participant
	members int // sessions joined and not yet cleaned up, guarded by srv.mu

	cancel context.CancelFunc
}

func newRoom(srv *Server, name string) *room {
	ctx, cancel := context.WithCancel(context.Background())
	r := &room{name: name, srv: srv, parts: map[string]*participant{}, cancel: cancel}
	go r.speakerLoop(ctx)
	return r
}

// add inserts p, replacing an earlier session of the same participant,
// and subscribes p to everything already published.
func (r *room) add(p *participant) {
	r.mu.Lock()
	old := r.parts[p.id]
	r.parts[p.id] = p
	var tracks []*upTrack
	for _, o := range r.parts {
		if o == p {
			continue
		}
		o.mu.Lock()
		for _, t := range o.ups {
			tracks = append(tracks, t)
		}
		o.mu.Unlock()
	}
	r.announceLocked()
	r.mu.Unlock()
	if old != nil {
		old.end(ErrReplaced)
	}
	for _, t := range tracks {
		p.subscribe(t)
	}
}

// remove forgets p: its tracks leave every subscriber, its subscriptions
// leave every publisher, and the others are told.
func (r *room) remove(p *participant) {
	r.mu.Lock()
	current := r.parts[p.id] == p
	if current {
		delete(r.parts, p.id)
		r.announceLocked()
	}
	r.mu.Unlock()

	p.mu.Lock()
	p.closed = true
	ups := make([]*upTrack, 0, len(p.ups))
	for _, t := range p.ups {
		ups = append(ups, t)
	}
	p.ups = map[string]*upTrack{}
	downs := p.downs
	p.downs = map[*upTrack]*downTrack{}
	p.mu.Unlock()

	for _, t := range ups {
		r.unpublish(t)
	}
	for t, d := range downs {
		t.removeDown(d)
	}
	if current {
		r.broadcast(p, Message{Type: TypeLeave, Participant: p.id})
	}
}

// announceLocked tells everyone in the room who is in the call, a
// participant that publishes nothing (listening only) included. It runs
// under r.mu, so that two joins or leaves in a row reach every participant
// in the order they happened (send only queues).
func (r *room) announceLocked() {
	ids := make([]string, 0, len(r.parts))
	for id := range r.parts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, o := range r.parts {
		o.send(Message{Type: TypeParticipants, Participants: ids})
	}
}

func (r *room) others(p *participant) []*participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*participant, 0, len(r.parts))
	for _, o := range r.parts {
		if o != p {
			out = append(out, o)
		}
	}
	return out
}

func (r *room) all() []*participant { return r.others(nil) }

func (r *room) publish(t *upTrack) {
	for _, o := range r.others(t.pub) {
		o.subscribe(t)
	}
}

func (r *room) unpublish(t *upTrack) {
	for _, d := range t.takeDowns() {
		d.sub.unsubscribe(t)
	}
}

// broadcast sends m to everyone but from.
func (r *room) broadcast(from *participant, m Message) {
	for _, o := range r.others(from) {
		o.send(m)
	}
}

// Speaker detection: every speakerTick the mean audio level of each audio
// track over the tick is smoothed; the loudest one above speakerThreshold
// becomes the dominant speaker once it has led for speakerHold.
const (
	speakerTick      = 200 * time.Millisecond
	speakerHold      = 400 * time.Millisecond
	speakerThreshold = 127 - 50 // louder than -50 dBov
	speakerAlpha     = 0.4
)

func (r *room) speakerLoop(ctx context.Context) {
	tick := time.NewTicker(speakerTick)
	defer tick.Stop()
	var dominant, leader string
	var leaderSince time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			best, bestLevel := "", 0.0
			var levels []SpeakerLevel
			for _, p := range r.all() {
				p.mu.Lock()
				ups := make([]*upTrack, 0, len(p.ups))
				for _, t := range p.ups {
					ups = append(ups, t)
				}
				p.mu.Unlock()
				for _, t := range ups {
					n := t.levelCount.Swap(0)
					sum := t.levelSum.Swap(0)
					if n == 0 && t.smoothed == 0 {
						continue
					}
					loud := 0.0 // silence when no packet (DTX, muted)
					if n > 0 {
						loud = 127 - float64(sum)/float64(n)
					}
					t.smoothed += speakerAlpha * (loud - t.smoothed)
					if t.muted.Load() {
						continue
					}
					levels = append(levels, SpeakerLevel{Participant: p.id, Level: int(t.smoothed)})
					if t.smoothed > bestLevel {
						best, bestLevel = p.id, t.smoothed
					}
				}
			}
			if bestLevel < speakerThreshold {
				best = ""
			}
			if best != leader {
				leader, leaderSince = best, now
			}
			if leader != "" && leader != dominant && now.Sub(leaderSince) >= speakerHold {
				dominant = leader
				r.broadcast(nil, Message{Type: TypeSpeaker, Participant: dominant, Speakers: levels})
			}
		}
	}
}
