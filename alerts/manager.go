package alerts

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by Run on a Manager that was closed.
var ErrClosed = errors.New("alert manager is closed")

// Manager records alert state changes, logs them, keeps the open and
// recent alerts (persisted to Config.StateFile), and, when it is the
// sender, pushes them to the configured webhooks.
//
// Report, Fire, Resolve, SetSender, Open and Recent are safe for
// concurrent use and never block on I/O; see the package documentation.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	client  *http.Client
	targets []*target

	sender atomic.Bool

	mu      sync.Mutex
	open    map[key]Event
	recent  []Event // oldest first, at most cfg.MaxRecent
	dirty   bool    // state changed since the last save
	running bool    // Run was called
	closed  bool

	saveMu sync.Mutex    // serialises snapshot+write of the state file
	saveCh chan struct{} // cap 1: wakes the persister

	stop      context.Context // cancelled by Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup // Run calls in progress
	closeOnce sync.Once
}

// New validates cfg, loads the state file if there is one (a corrupt file
// is logged, set aside as StateFile+".corrupt", and ignored) and returns a
// Manager that is not the sender. Deliveries start with Run.
func New(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cfg.Webhooks = slices.Clone(cfg.Webhooks)
	cfg.Key = slices.Clone(cfg.Key)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	m := &Manager{
		cfg: cfg,
		log: cfg.Logger,
		client: &http.Client{
			Transport: transport,
			// A redirect is a misconfigured webhook: report it rather
			// than re-POST (or turn the POST into a GET) elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		open:   make(map[key]Event),
		saveCh: make(chan struct{}, 1),
	}
	m.stop, m.cancel = context.WithCancel(context.Background())
	for _, u := range cfg.Webhooks {
		m.targets = append(m.targets, &target{
			url:  u,
			name: redactURL(u),
			wake: make(chan struct{}, 1),
		})
	}
	m.load()
	return m, nil
}

// SetSender makes this Manager push the events reported from now on to the
// webhooks (true) or only log and record them (false, the default). One
// node of the cluster should be the sender at a time; the caller decides
// which. Deliveries already queued are still made.
func (m *Manager) SetSender(on bool) { m.sender.Store(on) }

// Sender reports whether this Manager pushes events to the webhooks.
func (m *Manager) Sender() bool { return m.sender.Load() }

// Fire reports that the alert (kind, node) fires; see Report.
func (m *Manager) Fire(kind Kind, node string, details map[string]string) bool {
	return m.Report(Event{Kind: kind, Node: node, Firing: true, Details: details})
}

// Resolve reports that the alert (kind, node) is resolved; see Report.
func (m *Manager) Resolve(kind Kind, node string, details map[string]string) bool {
	return m.Report(Event{Kind: kind, Node: node, Firing: false, Details: details})
}

// Report records an alert state change and reports whether it was one: a
// firing event for an alert that is not open, or a resolved event for one
// that is. Anything else (a repeated firing, a resolution of an alert that
// is not open, an event without a kind) changes nothing and returns false.
//
// A state change is logged (Warn when firing, Info when resolved), added to
// the open and recent alerts, saved to the state file in the background,
// and, when this Manager is the sender, queued for every webhook. Empty
// ID, Severity, Reporter, Cluster and Time are filled in.
//
// Report never blocks on I/O: it may be called from callbacks that must
// not block, such as memberlist's. It is safe for concurrent use. After
// Close it still logs and records, but neither saves nor delivers.
func (m *Manager) Report(ev Event) bool {
	if ev.Kind == "" {
		m.log.Error("alert without a kind ignored", "node", ev.Node, "firing", ev.Firing)
		return false
	}
	ev = ev.clone()
	if ev.Time.IsZero() {
		ev.Time = m.cfg.Now()
	}
	ev.Time = ev.Time.UTC()
	if ev.Cluster == "" {
		ev.Cluster = m.cfg.Cluster
	}
	if ev.Reporter == "" {
		ev.Reporter = m.cfg.Node
	}
	if ev.ID == "" {
		ev.ID = rand.Text()
	}
	k := ev.key()

	var dropped []drop
	m.mu.Lock()
	prev, isOpen := m.open[k]
	if ev.Firing == isOpen {
		m.mu.Unlock()
		m.log.Debug("alert unchanged", "kind", ev.Kind, "node", ev.Node, "status", ev.Status())
		return false
	}
	if ev.Severity == "" {
		ev.Severity = cmp.Or(prev.Severity, ev.Kind.Severity())
	}
	if ev.Firing {
		m.open[k] = ev
	} else {
		delete(m.open, k)
	}
	m.recent = append(m.recent, ev)
	if n := len(m.recent) - m.cfg.MaxRecent; n > 0 {
		m.recent = slices.Delete(m.recent, 0, n)
	}
	closed := m.closed
	m.dirty = true
	if !closed && m.sender.Load() && len(m.targets) > 0 {
		// Queued under m.mu so that every queue holds the events of one
		// alert in the order its state changed.
		body, err := json.Marshal(ev)
		if err != nil { // cannot happen: strings, a time and a map
			m.log.Error("alert not encoded", "id", ev.ID, "error", err)
		} else {
			d := delivery{ev: ev, body: body}
			for _, t := range m.targets {
				if old, ok := t.push(d, m.cfg.QueueSize); ok {
					dropped = append(dropped, drop{t, old})
				}
			}
		}
	}
	m.mu.Unlock()

	if !closed {
		select {
		case m.saveCh <- struct{}{}:
		default:
		}
	}
	m.logChange(ev)
	for _, d := range dropped {
		m.log.Warn("alert webhook queue full, oldest delivery dropped",
			"webhook", d.t.name, "dropped_id", d.d.ev.ID, "dropped_kind", d.d.ev.Kind,
			"dropped_node", d.d.ev.Node, "dropped_status", d.d.ev.Status(), "queue_size", m.cfg.QueueSize)
	}
	return true
}

// drop is a delivery pushed out of a full queue.
type drop struct {
	t *target
	d delivery
}

// logChange logs one line for a state change.
func (m *Manager) logChange(ev Event) {
	level, msg := slog.LevelInfo, "alert resolved"
	if ev.Firing {
		level, msg = slog.LevelWarn, "alert firing"
	}
	attrs := []slog.Attr{
		slog.String("kind", string(ev.Kind)),
		slog.String("severity", string(ev.Severity)),
		slog.String("node", ev.Node),
		slog.String("reporter", ev.Reporter),
		slog.String("cluster", ev.Cluster),
		slog.String("id", ev.ID),
	}
	if len(ev.Details) > 0 {
		keys := slices.Sorted(maps.Keys(ev.Details))
		d := make([]slog.Attr, 0, len(keys))
		for _, k := range keys {
			d = append(d, slog.String(k, ev.Details[k]))
		}
		attrs = append(attrs, slog.GroupAttrs("details", d...))
	}
	m.log.LogAttrs(context.Background(), level, msg, attrs...)
}

// Open returns the alerts that are firing, oldest first (ties broken by
// kind, then node).
func (m *Manager) Open() []Event {
	m.mu.Lock()
	out := make([]Event, 0, len(m.open))
	for _, ev := range m.open {
		out = append(out, ev.clone())
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Event) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Node, b.Node))
	})
	return out
}

// Recent returns the last n state changes, newest first; n <= 0 returns
// all that are kept (at most Config.MaxRecent).
func (m *Manager) Recent(n int) []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n <= 0 || n > len(m.recent) {
		n = len(m.recent)
	}
	out := make([]Event, 0, n)
	for i := len(m.recent) - 1; i >= len(m.recent)-n; i-- {
		out = append(out, m.recent[i].clone())
	}
	return out
}

// Run delivers queued events to the webhooks (one goroutine per webhook,
// so a webhook that hangs delays no other) and saves the state file after
// changes, until ctx is cancelled or Close is called. It returns nil then,
// ErrClosed if the Manager was closed before, and an error if Run was
// already called.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	switch {
	case m.closed:
		m.mu.Unlock()
		return ErrClosed
	case m.running:
		m.mu.Unlock()
		return errors.New("alert manager is already running")
	}
	m.running = true
	m.wg.Add(1) // under m.mu, so never after Close's Wait began
	m.mu.Unlock()
	defer m.wg.Done()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopAfter := context.AfterFunc(m.stop, cancel)
	defer stopAfter()

	var wg sync.WaitGroup
	for _, t := range m.targets {
		wg.Go(func() { m.work(ctx, t) })
	}
	wg.Go(func() { m.persist(ctx) })
	<-ctx.Done()
	wg.Wait()
	return nil
}

// Close stops Run, waits for its goroutines (cancelling deliveries in
// flight: undelivered events are logged and dropped) and saves the state
// file. It may be called more than once and from any goroutine.
func (m *Manager) Close() {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		m.mu.Unlock()
		m.cancel()
		m.wg.Wait()
		m.save()
		for _, t := range m.targets {
			if n := t.len(); n > 0 {
				m.log.Warn("alert webhook deliveries dropped at close", "webhook", t.name, "count", n)
			}
		}
		m.client.CloseIdleConnections()
	})
}

// persist saves the state file after changes until ctx ends, then once
// more.
func (m *Manager) persist(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			m.save()
			return
		case <-m.saveCh:
			m.save()
		}
	}
}
