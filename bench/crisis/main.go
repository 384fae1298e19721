// Command crisis measures the crisis room relay's delivery latency: the
// time from the POST of an envelope to its arrival on every member's
// WebSocket. It starts the relay in this process (the server's SQLite store
// in a temporary folder, HTTPS on 127.0.0.1) or uses a running
// `rempart server` (-url, -token), joins the members with real keys (join
// proofs, a signed roster, wrap bundles), then sends signed, encrypted
// envelopes at a steady pace and records each arrival. Every received
// envelope is also verified and decrypted, as a client would, after its
// arrival time is taken.
//
//	go run ./bench/crisis                      # 50 members, 200 messages
//	go run ./bench/crisis -members 200 -messages 500 -interval 10ms
//
// The target of issue 4 is p99 < 100 ms for 50 members. The whole run is
// bounded by -timeout.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/rempart/rempart/internal/crisis/e2ee"
)

type config struct {
	members  int
	messages int
	warmup   int
	interval time.Duration
	timeout  time.Duration
	url      string
	token    string
	insecure bool
}

func main() {
	var c config
	flag.IntVar(&c.members, "members", 50, "members in the room, each with a WebSocket (2 to 500)")
	flag.IntVar(&c.messages, "messages", 200, "envelopes measured")
	flag.IntVar(&c.warmup, "warmup", 5, "envelopes sent first and not measured")
	flag.DurationVar(&c.interval, "interval", 20*time.Millisecond, "pause between two envelopes")
	flag.DurationVar(&c.timeout, "timeout", 60*time.Second, "bound on the whole run")
	flag.StringVar(&c.url, "url", "", "use a running rempart server at this https:// address instead of an in-process relay")
	flag.StringVar(&c.token, "token", "", "with -url: a platform session token (POST /v1/login) of an operator, tenant admin or coordinator")
	flag.BoolVar(&c.insecure, "insecure", false, "with -url: do not check the server's certificate")
	flag.Parse()
	if c.members < 2 || c.members > 500 || c.messages < 1 {
		fmt.Fprintln(os.Stderr, "crisis bench: -members must be 2 to 500 and -messages at least 1")
		os.Exit(2)
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "crisis bench:", err)
		os.Exit(1)
	}
}

// member is one simulated device.
type member struct {
	name  string
	id    *e2ee.Identity
	token string
	w     *e2ee.Writer
	keys  *e2ee.Keyring // chains of every sender, from the wraps
	ws    *websocket.Conn

	arrivals []arrival // filled by the reader goroutine
	failed   int       // envelopes that did not verify or decrypt
	online   chan int  // presence counts (coordinator only)
}

type arrival struct {
	hash string
	at   time.Time
}

func run(c config) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()

	var a *api
	platform := c.token
	if c.url == "" {
		dir, err := os.MkdirTemp("", "rempart-crisis-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		relay, err := startRelay(ctx, dir)
		if err != nil {
			return err
		}
		defer relay.close()
		a = newAPI(relay.srv.URL, relay.pool(), false)
		platform = relay.token
	} else {
		if c.token == "" {
			return errors.New("-url needs -token (a platform session token from POST /v1/login)")
		}
		a = newAPI(c.url, nil, c.insecure)
	}

	t0 := time.Now()
	room, members, signKeys, err := setUp(ctx, a, platform, c.members)
	if err != nil {
		return fmt.Errorf("setting up the room: %w", err)
	}
	joined := time.Since(t0)

	t1 := time.Now()
	if err := exchangeKeys(ctx, a, room, members, signKeys); err != nil {
		return fmt.Errorf("exchanging sender keys: %w", err)
	}
	keyed := time.Since(t1)

	// Live connections, then wait until the relay shows everyone online.
	members[0].online = make(chan int, 1024)
	var readers sync.WaitGroup
	var received atomic.Int64
	for _, m := range members {
		ws, err := a.dial(ctx, room, m.token)
		if err != nil {
			return err
		}
		m.ws = ws
		readers.Add(1)
		go func() {
			defer readers.Done()
			m.read(ctx, room, signKeys, &received)
		}()
	}
	defer func() {
		for _, m := range members {
			_ = m.ws.CloseNow()
		}
		readers.Wait()
	}()
	if err := waitOnline(ctx, members[0].online, len(members)); err != nil {
		return err
	}

	sent, rtts, err := send(ctx, a, members, c, &received)
	if err != nil {
		return err
	}
	// Let the last deliveries land (bounded), then stop the readers.
	want := int64((c.warmup + c.messages) * len(members))
	deadline := time.Now().Add(5 * time.Second)
	for received.Load() < want && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	for _, m := range members {
		_ = m.ws.CloseNow()
	}
	readers.Wait()

	report(c, members, sent, rtts, joined, keyed)
	return nil
}

// setUp creates the room, invites and joins the members, and admits them
// all with roster version 2. It returns each member's signing key by id,
// as a client reads them from the roster.
func setUp(ctx context.Context, a *api, platform string, n int) (string, []*member, map[string][]byte, error) {
	var rb [16]byte
	if _, err := rand.Read(rb[:]); err != nil {
		return "", nil, nil, err
	}
	room := e2ee.B64.EncodeToString(rb[:])
	members := make([]*member, n)
	signKeys := map[string][]byte{}
	for k := range members {
		id, err := e2ee.NewIdentity(rand.Reader)
		if err != nil {
			return "", nil, nil, err
		}
		members[k] = &member{name: fmt.Sprintf("Membre %d", k), id: id, keys: e2ee.NewKeyring(),
			w: &e2ee.Writer{ID: id, Room: room}}
		signKeys[id.ID()] = id.SignPub()
	}
	coord := members[0]
	coord.name = "Coordinateur"

	roster := func(version int64, list []*member) e2ee.Signed {
		r := e2ee.Roster{V: e2ee.Version, Room: room, Version: version, Epoch: 1, Coordinator: coord.id.ID(),
			Time: e2ee.FormatTime(time.Now()), Removed: []string{}}
		for _, m := range list {
			r.Members = append(r.Members, m.id.Member(room, m.name, 1))
		}
		body, _ := json.Marshal(r)
		return coord.id.Sign(e2ee.LabelRoster, room, body)
	}
	device := func(m *member) map[string]any {
		return map[string]any{"name": m.name, "sign": e2ee.B64.EncodeToString(m.id.SignPub()),
			"dh": e2ee.B64.EncodeToString(m.id.DHPub()), "proof": m.id.JoinProof(room, m.name)}
	}

	req := device(coord)
	req["roster"] = signedJSON(roster(1, members[:1]))
	var created struct {
		MemberToken string `json:"member_token"`
	}
	if err := a.call(ctx, "POST", "/v1/crisis/rooms", platform, req, &created, 201); err != nil {
		return "", nil, nil, err
	}
	coord.token = created.MemberToken

	for _, m := range members[1:] {
		var inv struct {
			Token string `json:"token"`
		}
		if err := a.call(ctx, "POST", "/v1/crisis/rooms/"+room+"/invites", coord.token, map[string]int{"ttl_seconds": 3600}, &inv, 201); err != nil {
			return "", nil, nil, err
		}
		req := device(m)
		req["invite"] = inv.Token
		var joined struct {
			MemberToken string `json:"member_token"`
		}
		if err := a.call(ctx, "POST", "/v1/crisis/rooms/"+room+"/join", "", req, &joined, 201); err != nil {
			return "", nil, nil, err
		}
		m.token = joined.MemberToken
	}
	if err := a.call(ctx, "PUT", "/v1/crisis/rooms/"+room+"/roster", coord.token, signedJSON(roster(2, members)), nil, 200); err != nil {
		return "", nil, nil, err
	}
	return room, members, signKeys, nil
}

// exchangeKeys has every member draw its epoch-1 chain key and post a wrap
// bundle for all members; then every member fetches its wraps and unwraps
// every sender's chain. A few members at a time: the machine is shared.
func exchangeKeys(ctx context.Context, a *api, room string, members []*member, signKeys map[string][]byte) error {
	var to []e2ee.Recipient
	for _, m := range members {
		to = append(to, e2ee.Recipient{ID: m.id.ID(), DH: m.id.DHPub()})
	}
	err := parallel(members, func(m *member) error {
		if err := m.w.NewEpoch(rand.Reader, 1); err != nil {
			return err
		}
		b, err := m.id.Wrap(rand.Reader, room, 1, m.w.Chain, to)
		if err != nil {
			return err
		}
		return a.call(ctx, "POST", "/v1/crisis/rooms/"+room+"/wraps", m.token, signedJSON(b), nil, 201)
	})
	if err != nil {
		return err
	}
	return parallel(members, func(m *member) error {
		var out struct {
			Wraps []e2ee.Signed `json:"wraps"`
		}
		if err := a.call(ctx, "GET", "/v1/crisis/rooms/"+room+"/wraps", m.token, nil, &out, 200); err != nil {
			return err
		}
		for _, s := range out.Wraps {
			b, err := e2ee.ParseWrapBundle([]byte(s.Body))
			if err != nil {
				return err
			}
			c, err := e2ee.Unwrap(s, signKeys[b.Sender], m.id, room, 1)
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			m.keys.Add(b.Sender, 1, c)
		}
		if len(out.Wraps) != len(members) {
			return fmt.Errorf("%s received %d wrap bundles, want %d", m.name, len(out.Wraps), len(members))
		}
		return nil
	})
}

// parallel runs fn for every member, four at a time, and returns the first error.
func parallel(members []*member, fn func(*member) error) error {
	sem := make(chan struct{}, 4)
	errs := make(chan error, len(members))
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs <- fn(m)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// read records the arrival time of every event push, then verifies and
// decrypts it (after the timestamp, so the measure is the relay's).
func (m *member) read(ctx context.Context, room string, signKeys map[string][]byte, received *atomic.Int64) {
	for {
		_, data, err := m.ws.Read(ctx)
		if err != nil {
			return
		}
		at := time.Now()
		var p push
		if err := json.Unmarshal(data, &p); err != nil {
			m.failed++
			continue
		}
		switch p.Type {
		case "presence":
			if m.online != nil {
				select {
				case m.online <- len(p.Online):
				default:
				}
			}
		case "event":
			m.arrivals = append(m.arrivals, arrival{hash: e2ee.Hash([]byte(p.Body)), at: at})
			received.Add(1)
			e, err := e2ee.ParseEnvelope([]byte(p.Body))
			if err == nil {
				var c e2ee.Chain
				if c, err = m.keys.At(e.Sender, e.Epoch, e.I); err == nil {
					_, _, err = e2ee.Open(e2ee.Signed{Body: p.Body, Sig: p.Sig}, signKeys[e.Sender], room, c)
				}
			}
			if err != nil {
				m.failed++
			}
		}
	}
}

func waitOnline(ctx context.Context, online <-chan int, n int) error {
	timer := time.NewTimer(15 * time.Second)
	defer timer.Stop()
	for {
		select {
		case k := <-online:
			if k >= n {
				return nil
			}
		case <-timer.C:
			return fmt.Errorf("the relay did not show %d members online within 15 s", n)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// send posts the envelopes one after the other, every c.interval, each from
// the next member in turn, citing the latest entries of the others. It
// returns the send time of each measured envelope by hash, and the POST
// round trips.
func send(ctx context.Context, a *api, members []*member, c config, received *atomic.Int64) (map[string]time.Time, []time.Duration, error) {
	sent := map[string]time.Time{}
	var rtts []time.Duration
	heads := map[string]string{} // member id -> hash of its latest envelope
	total := c.warmup + c.messages
	for k := range total {
		m := members[k%len(members)]
		var refs []string
		for j := 1; j < len(members) && len(refs) < 4; j++ {
			if h := heads[members[(k+len(members)-j)%len(members)].id.ID()]; h != "" {
				refs = append(refs, h)
			}
		}
		s, hash, err := m.w.Write(rand.Reader, refs, time.Now(), e2ee.Content{T: e2ee.TypeChat, Text: fmt.Sprintf("message %d de %s", k, m.name)})
		if err != nil {
			return nil, nil, err
		}
		start := time.Now()
		if err := a.call(ctx, "POST", "/v1/crisis/rooms/"+members[0].w.Room+"/events", m.token, signedJSON(s), nil, 201); err != nil {
			return nil, nil, fmt.Errorf("envelope %d: %w", k, err)
		}
		rtt := time.Since(start)
		heads[m.id.ID()] = hash
		if k < c.warmup {
			// Warm-up: wait until everyone has it, so the measure starts clean.
			for received.Load() < int64((k+1)*len(members)) && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
		} else {
			sent[hash] = start
			rtts = append(rtts, rtt)
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("the run took longer than -timeout: %w", err)
		}
		time.Sleep(c.interval)
	}
	return sent, rtts, nil
}

func report(c config, members []*member, sent map[string]time.Time, rtts []time.Duration, joined, keyed time.Duration) {
	var each []time.Duration
	last := map[string]time.Duration{}
	got := map[string]int{}
	failed := 0
	for _, m := range members {
		failed += m.failed
		for _, ar := range m.arrivals {
			start, ok := sent[ar.hash]
			if !ok {
				continue // warm-up
			}
			d := ar.at.Sub(start)
			each = append(each, d)
			last[ar.hash] = max(last[ar.hash], d)
			got[ar.hash]++
		}
	}
	var toAll []time.Duration
	complete := 0
	for h, d := range last {
		if got[h] == len(members) {
			toAll = append(toAll, d)
			complete++
		}
	}
	want := len(sent) * len(members)
	fmt.Printf("## Crisis room relay: delivery latency (go run ./bench/crisis)\n\n")
	fmt.Printf("%d members, each on its own WebSocket over TLS (127.0.0.1); %d envelopes, one every %v, signed and encrypted; %d CPUs, %s.\n\n",
		len(members), len(sent), c.interval, runtime.NumCPU(), runtime.Version())
	fmt.Println("| measure | n | p50 | p99 | max |")
	fmt.Println("|---|---:|---:|---:|---:|")
	row := func(name string, d []time.Duration) {
		if len(d) == 0 {
			fmt.Printf("| %s | 0 | – | – | – |\n", name)
			return
		}
		slices.Sort(d)
		fmt.Printf("| %s | %d | %s | %s | %s |\n", name, len(d), ms(pct(d, 50)), ms(pct(d, 99)), ms(d[len(d)-1]))
	}
	row("POST → arrival on one member's WebSocket", each)
	row(fmt.Sprintf("POST → arrival on all %d WebSockets", len(members)), toAll)
	row("POST round trip (201)", rtts)
	fmt.Println()
	fmt.Printf("Deliveries %d of %d; envelopes that reached everyone %d of %d; verified and decrypted by the receivers: %d failures.\n",
		len(each), want, complete, len(sent), failed)
	fmt.Printf("Set-up: room, %d joins and admission %s; %d wrap bundles posted and unwrapped %s.\n",
		len(members)-1, ms(joined), len(members), ms(keyed))
	verdict := "met"
	if len(toAll) == 0 || complete < len(sent) || pct(toAll, 99) >= 100*time.Millisecond {
		verdict = "NOT met"
	}
	fmt.Printf("Target (issue 4): a message reaches %d members in under 100 ms at the 99th percentile: **%s**.\n", len(members), verdict)
}

// pct is the p-th percentile of sorted d (nearest rank).
func pct(d []time.Duration, p int) time.Duration {
	k := (len(d)*p + 99) / 100
	return d[max(0, min(len(d)-1, k-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
