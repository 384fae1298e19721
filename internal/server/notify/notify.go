package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// Defaults of a Notifier.
const (
	DefaultQueue   = 256
	DefaultRetries = 3
	DefaultBackoff = 2 * time.Second
)

// LoadFunc returns a tenant's settings at the time of sending.
type LoadFunc func(ctx context.Context, tenant string) (Settings, error)

// AuditFunc writes to the server's audit trail.
type AuditFunc func(ctx context.Context, actor, action, tenant string, detail map[string]any)

// Options configure a Notifier.
type Options struct {
	Load  LoadFunc
	Audit AuditFunc    // nil: failures are only logged
	Log   *slog.Logger // nil: slog.Default()
	// Queue bounds the events waiting to be sent (DefaultQueue when 0);
	// beyond it an event is dropped, logged and audited.
	Queue int
	// Retries of a failed webhook delivery (DefaultRetries when 0,
	// negative for none), waiting Backoff, then twice as long, and so on
	// (DefaultBackoff when 0).
	Retries int
	Backoff time.Duration
	// Hostname names the server in messages (default: os.Hostname).
	Hostname string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Result is how one channel took one message.
type Result struct {
	Channel string `json:"channel"` // webhook, syslog or email
	Target  string `json:"target"`  // where it went (no secret)
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// Notifier sends events to each tenant's channels in the background.
type Notifier struct {
	o     Options
	queue chan Event
	wg    sync.WaitGroup
}

// New returns a Notifier; Run sends what it queues.
func New(o Options) *Notifier {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	switch {
	case o.Retries == 0:
		o.Retries = DefaultRetries
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Notifier{o: o, queue: make(chan Event, o.Queue)}
}

// Hostname is the server's name in messages.
func (n *Notifier) Hostname() string { return n.o.Hostname }

// NewEvent starts an event of the given kind for tenant, with a fresh ID,
// the time and the server's name.
func (n *Notifier) NewEvent(kind, tenant string) Event {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return Event{ID: hex.EncodeToString(b[:]), Kind: kind, Time: n.o.Now().UTC(), Server: n.o.Hostname, Tenant: tenant}
}

// Enqueue queues an event for sending and returns at once; it reports
// false (and logs and audits the loss) when the queue is full.
func (n *Notifier) Enqueue(ctx context.Context, ev Event) bool {
	select {
	case n.queue <- ev:
		return true
	default:
	}
	n.o.Log.ErrorContext(ctx, "notify: queue full, a notification is dropped", "tenant", ev.Tenant, "event", ev.Kind, "alert", ev.AlertID)
	n.audit(ctx, ev, "queue", "", "the notification queue is full (receivers too slow or unreachable); this notification was dropped")
	return false
}

// Run sends queued events with workers until ctx ends; events still
// queued then are logged as not sent.
func (n *Notifier) Run(ctx context.Context, workers int) {
	if workers <= 0 {
		workers = 2
	}
	for range workers {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case ev := <-n.queue:
					n.deliver(ctx, ev)
				}
			}
		}()
	}
	n.wg.Wait()
	for {
		select {
		case ev := <-n.queue:
			n.o.Log.WarnContext(ctx, "notify: server stopping, a notification was not sent", "tenant", ev.Tenant, "event", ev.Kind, "alert", ev.AlertID)
		default:
			return
		}
	}
}

// deliver sends one queued event to the tenant's channels.
func (n *Notifier) deliver(ctx context.Context, ev Event) {
	s, err := n.o.Load(ctx, ev.Tenant)
	if err != nil {
		n.o.Log.ErrorContext(ctx, "notify: cannot read the tenant's notification settings", "tenant", ev.Tenant, "err", err)
		n.audit(ctx, ev, "settings", "", "cannot read the notification settings: "+err.Error())
		return
	}
	if s.Empty() {
		n.o.Log.InfoContext(ctx, "notify: tenant has no notification channel", "tenant", ev.Tenant, "event", ev.Kind, "alert", ev.AlertID)
		return
	}
	for _, r := range n.Send(ctx, s, ev, true) {
		if r.OK {
			n.o.Log.InfoContext(ctx, "notify: sent", "tenant", ev.Tenant, "event", ev.Kind, "alert", ev.AlertID, "channel", r.Channel, "target", r.Target)
			continue
		}
		n.o.Log.WarnContext(ctx, "notify: sending failed", "tenant", ev.Tenant, "event", ev.Kind, "alert", ev.AlertID, "channel", r.Channel, "target", r.Target, "err", r.Error)
		n.audit(ctx, ev, r.Channel, r.Target, r.Error)
	}
}

func (n *Notifier) audit(ctx context.Context, ev Event, channel, target, reason string) {
	if n.o.Audit == nil {
		return
	}
	detail := map[string]any{"event": ev.Kind, "channel": channel, "error": reason}
	if target != "" {
		detail["target"] = target
	}
	if ev.AlertID != 0 {
		detail["alert_id"] = ev.AlertID
	}
	n.o.Audit(context.WithoutCancel(ctx), "server", "sentinel.notify.failed", ev.Tenant, detail)
}

// Send sends ev now to every channel of s and reports each; with retry,
// a failed webhook delivery is tried again (Options.Retries).
func (n *Notifier) Send(ctx context.Context, s Settings, ev Event, retry bool) []Result {
	var out []Result
	if w := s.Webhook; w != nil {
		r := Result{Channel: "webhook", Target: redactURL(w.URL)}
		retries := 0
		if retry {
			retries = n.o.Retries
		}
		r.set(n.webhook(ctx, w, ev, retries))
		out = append(out, r)
	}
	if l := s.Syslog; l != nil {
		r := Result{Channel: "syslog", Target: l.Network + "://" + l.Address}
		r.set(sendSyslog(ctx, l, n.syslogLine(ev, n.o.Now())))
		out = append(out, r)
	}
	if m := s.Email; m != nil {
		r := Result{Channel: "email", Target: "smtp://" + m.Server + " → " + strings.Join(m.To, ", ")}
		r.set(n.email(ctx, m, ev))
		out = append(out, r)
	}
	return out
}

func (r *Result) set(err error) {
	r.OK = err == nil
	if err != nil {
		r.Error = err.Error()
	}
}
