package sfu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/pion/webrtc/v4"
)

// Message types exchanged over a Signal (see the package documentation).
const (
	TypeOffer        = "offer"
	TypeAnswer       = "answer"
	TypeCandidate    = "candidate"
	TypeLayer        = "layer"
	TypeMute         = "mute"
	TypeLeave        = "leave"
	TypeSpeaker      = "speaker"
	TypeTracks       = "tracks"
	TypeError        = "error"
	TypeParticipants = "participants" // everyone in the call, with tracks or not
)

// Message is one signalling message. Fields unused by a type are omitted.
type Message struct {
	Type         string                   `json:"type"`
	SDP          string                   `json:"sdp,omitempty"`
	Candidate    *webrtc.ICECandidateInit `json:"candidate,omitempty"`
	Participant  string                   `json:"participant,omitempty"`
	Track        string                   `json:"track,omitempty"`
	Layer        string                   `json:"layer,omitempty"`
	Muted        bool                     `json:"muted,omitempty"`
	Tracks       []TrackInfo              `json:"tracks,omitempty"`
	Speakers     []SpeakerLevel           `json:"speakers,omitempty"`
	Participants []string                 `json:"participants,omitempty"` // sorted, the recipient included
	Error        string                   `json:"error,omitempty"`
}

// TrackInfo describes one track a client receives.
type TrackInfo struct {
	Participant string   `json:"participant"`
	Track       string   `json:"track"`
	Stream      string   `json:"stream"`
	Kind        string   `json:"kind"`
	Mid         string   `json:"mid,omitempty"`
	Layers      []string `json:"layers,omitempty"`
	Muted       bool     `json:"muted,omitempty"`
}

// SpeakerLevel is one participant's smoothed audio loudness (127 - dBov).
type SpeakerLevel struct {
	Participant string `json:"participant"`
	Level       int    `json:"level"`
}

// Signal carries signalling messages between the server and one client.
// Send may be called from several goroutines; Recv from one. Recv returns an
// error when the transport is gone, which ends the participant's session.
type Signal interface {
	Send(Message) error
	Recv(ctx context.Context) (Message, error)
}

// StreamSignal is a Signal that writes one JSON object per line on a byte
// stream. Tests and the load tool use it over net.Pipe or TCP; the crisis
// relay will provide its own WebSocket-backed Signal.
type StreamSignal struct {
	wmu  sync.Mutex
	enc  *json.Encoder
	rd   *bufio.Reader
	conn io.ReadWriteCloser
}

// NewStreamSignal wraps conn; closing the signal closes conn.
func NewStreamSignal(conn io.ReadWriteCloser) *StreamSignal {
	return &StreamSignal{enc: json.NewEncoder(conn), rd: bufio.NewReaderSize(conn, 64<<10), conn: conn}
}

// Send writes m as one line.
func (s *StreamSignal) Send(m Message) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.enc.Encode(m); err != nil {
		return fmt.Errorf("sfu: send %s: %w", m.Type, err)
	}
	return nil
}

// Recv reads the next line. Cancelling ctx closes the stream, since a
// blocking read cannot be interrupted otherwise.
func (s *StreamSignal) Recv(ctx context.Context) (Message, error) {
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			_ = s.conn.Close()
		case <-done:
		}
	}()
	line, err := s.rd.ReadBytes('\n')
	if err != nil {
		if ctx.Err() != nil {
			return Message{}, fmt.Errorf("sfu: recv: %w", ctx.Err())
		}
		return Message{}, fmt.Errorf("sfu: recv: %w", err)
	}
	var m Message
	if err := json.Unmarshal(line, &m); err != nil {
		return Message{}, fmt.Errorf("sfu: decode message: %w", err)
	}
	return m, nil
}

// Close closes the underlying stream.
func (s *StreamSignal) Close() error {
	if err := s.conn.Close(); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		return fmt.Errorf("sfu: close signal: %w", err)
	}
	return nil
}
