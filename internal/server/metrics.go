package server

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rempart/rempart/internal/crisis/sfu"
)

// metrics counts requests for /metrics, in the Prometheus text format.
type metrics struct {
	start time.Time

	mu       sync.Mutex
	requests map[[2]string]uint64 // route, status → count
	received map[string]uint64    // route → request body bytes
	sent     map[string]uint64    // route → response body bytes
	inFlight atomic.Int64

	// calls reads the SFU's counters (nil: calls are off), set before the
	// server serves.
	calls func() sfu.Metrics
}

func newMetrics() *metrics {
	return &metrics{start: time.Now(), requests: map[[2]string]uint64{}, received: map[string]uint64{}, sent: map[string]uint64{}}
}

type countingBody struct {
	io.ReadCloser
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	return n, err
}

type recorder struct {
	http.ResponseWriter
	status int
	n      int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// wrap counts every request; serve returns the route label.
func (m *metrics) wrap(serve func(http.ResponseWriter, *http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.inFlight.Add(1)
		defer m.inFlight.Add(-1)
		body := &countingBody{ReadCloser: r.Body}
		r.Body = body
		rec := &recorder{ResponseWriter: w}
		route := serve(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		m.mu.Lock()
		m.requests[[2]string{route, strconv.Itoa(rec.status)}]++
		m.received[route] += uint64(body.n)
		m.sent[route] += uint64(rec.n)
		m.mu.Unlock()
	})
}

func label(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func (m *metrics) serve(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	var lines []string
	for k, v := range m.requests {
		lines = append(lines, fmt.Sprintf("rempart_http_requests_total{route=\"%s\",code=\"%s\"} %d", label(k[0]), k[1], v))
	}
	sort.Strings(lines)
	var rx, tx []string
	for k, v := range m.received {
		rx = append(rx, fmt.Sprintf("rempart_http_received_bytes_total{route=\"%s\"} %d", label(k), v))
	}
	for k, v := range m.sent {
		tx = append(tx, fmt.Sprintf("rempart_http_sent_bytes_total{route=\"%s\"} %d", label(k), v))
	}
	m.mu.Unlock()
	sort.Strings(rx)
	sort.Strings(tx)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	var b strings.Builder
	b.WriteString("# HELP rempart_http_requests_total HTTP requests answered, by route and status code.\n# TYPE rempart_http_requests_total counter\n")
	writeLines(&b, lines)
	b.WriteString("# HELP rempart_http_received_bytes_total Request body bytes received, by route.\n# TYPE rempart_http_received_bytes_total counter\n")
	writeLines(&b, rx)
	b.WriteString("# HELP rempart_http_sent_bytes_total Response body bytes sent, by route.\n# TYPE rempart_http_sent_bytes_total counter\n")
	writeLines(&b, tx)
	fmt.Fprintf(&b, "# HELP rempart_http_requests_in_flight Requests being served.\n# TYPE rempart_http_requests_in_flight gauge\nrempart_http_requests_in_flight %d\n", m.inFlight.Load())
	fmt.Fprintf(&b, "# HELP rempart_uptime_seconds Seconds since the server started.\n# TYPE rempart_uptime_seconds gauge\nrempart_uptime_seconds %.0f\n", time.Since(m.start).Seconds())
	if m.calls != nil {
		writeCallMetrics(&b, m.calls())
	}
	_, _ = io.WriteString(w, b.String())
}

func writeLines(b *strings.Builder, lines []string) {
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
}

// writeCallMetrics exports the crisis room SFU's counters. Participants are
// summed over rooms: a room id per label would grow without bound, and the
// operator watches load, not who meets.
func writeCallMetrics(b *strings.Builder, c sfu.Metrics) {
	participants, rooms := 0, 0
	for _, n := range c.Participants {
		if n > 0 {
			participants += n
			rooms++
		}
	}
	for _, x := range []struct {
		name, typ, help string
		v               uint64
	}{
		{"rempart_call_forwarded_packets_total", "counter", "RTP packets the SFU forwarded to call participants.", c.PacketsForwarded},
		{"rempart_call_forwarded_bytes_total", "counter", "RTP payload bytes (encrypted media) the SFU forwarded.", c.BytesForwarded},
		{"rempart_call_retransmitted_packets_total", "counter", "Packets resent to participants that reported a loss (NACK).", c.Retransmitted},
		{"rempart_call_pli_received_total", "counter", "Keyframe requests (PLI/FIR) received from participants.", c.PLIReceived},
		{"rempart_call_keyframe_requests_total", "counter", "Keyframe requests (PLI) sent to publishers, after rate limiting.", c.KeyframeRequests},
		{"rempart_call_send_stalls_total", "counter", "Sends that waited for the shared UDP socket.", c.SendStalls},
		{"rempart_call_participants", "gauge", "Participants in a call, all rooms together.", uint64(participants)}, //nolint:gosec // a count
		{"rempart_call_rooms", "gauge", "Rooms with a call going on.", uint64(rooms)},                               //nolint:gosec // a count
	} {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", x.name, x.help, x.name, x.typ, x.name, x.v)
	}
}
