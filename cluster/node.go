package cluster

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrClosed is returned by Run once the node is closed before it joined.
var ErrClosed = errors.New("cluster node closed")

const rawBuffer = 4096

// Node is this process's membership in the cluster. Its methods are safe
// for concurrent use.
type Node struct {
	cfg       Config
	log       *slog.Logger
	ml        *memberlist.Memberlist
	boundAddr string
	advAddr   string

	raw     chan rawEvent
	events  chan Event
	updateC chan struct{}

	metaMu    sync.Mutex
	meta      NodeMeta
	metaBytes []byte
	announced NodeMeta // capacity and used last pushed with UpdateNode

	viewMu sync.RWMutex
	view   map[string]*Member

	droppedRaw    atomic.Uint64
	droppedEvents atomic.Uint64
	updates       atomic.Uint64

	running   atomic.Bool
	closing   chan struct{} // closed when Close starts
	stopLoop  chan struct{} // closed once memberlist is shut down
	updDone   chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New validates cfg, starts gossip on cfg.BindAddr and the node's
// goroutines. The node knows only itself until Run joins the cluster.
func New(cfg Config) (*Node, error) {
	c := cfg
	c.Join = slices.Clone(cfg.Join)
	c.Key = slices.Clone(cfg.Key)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	logger := c.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("node", c.Name)
	n := &Node{
		cfg:      c,
		log:      logger,
		raw:      make(chan rawEvent, rawBuffer),
		events:   make(chan Event, c.EventBuffer),
		updateC:  make(chan struct{}, 1),
		view:     make(map[string]*Member),
		closing:  make(chan struct{}),
		stopLoop: make(chan struct{}),
		updDone:  make(chan struct{}),
	}

	bindHost, bindPortS, _ := net.SplitHostPort(c.BindAddr)
	bindPort, _ := strconv.Atoi(bindPortS)
	advHost, advPort := "", 0
	if c.AdvertiseAddr != "" {
		h, p, _ := net.SplitHostPort(c.AdvertiseAddr)
		advHost = h
		advPort, _ = strconv.Atoi(p)
	}
	if advPort == 0 {
		advPort = bindPort
	}

	// The HTTP address gossiped must be reachable: fill an unspecified host
	// with the advertised one (known for sure only after memberlist starts).
	httpHost, httpPort, _ := net.SplitHostPort(c.HTTPAddr)
	httpUnspecified := unspecifiedHost(httpHost)
	raftHost, raftPort, _ := net.SplitHostPort(c.RaftAddr)
	raftUnspecified := c.RaftAddr != "" && unspecifiedHost(raftHost)

	n.meta = NodeMeta{
		Name:     c.Name,
		HTTPAddr: c.HTTPAddr,
		Zone:     c.Zone,
		Capacity: c.Capacity,
		Used:     c.Used,
		State:    StateActive,
		Version:  c.Version,
		RaftAddr: c.RaftAddr,
	}
	b, err := EncodeMeta(n.meta)
	if err != nil {
		return nil, err
	}
	n.metaBytes = b
	n.announced = n.meta

	mlc := memberlist.DefaultLANConfig()
	mlc.Name = c.Name
	mlc.BindAddr = bindHost
	mlc.BindPort = bindPort
	mlc.AdvertiseAddr = advHost
	mlc.AdvertisePort = advPort
	mlc.ProbeInterval = c.ProbeInterval
	mlc.ProbeTimeout = c.ProbeTimeout
	mlc.SuspicionMult = c.SuspicionMult
	mlc.SuspicionMaxTimeoutMult = c.SuspicionMaxTimeoutMult
	mlc.GossipInterval = c.GossipInterval
	mlc.PushPullInterval = c.PushPullInterval
	mlc.TCPTimeout = c.TCPTimeout
	mlc.GossipToTheDeadTime = c.GossipToTheDeadTime
	mlc.DeadNodeReclaimTime = c.DeadNodeReclaimTime
	mlc.SecretKey = c.Key
	mlc.GossipVerifyIncoming = true
	mlc.GossipVerifyOutgoing = true
	mlc.RequireNodeNames = false
	d := delegate{n}
	mlc.Delegate = d
	mlc.Events = d
	mlc.Ping = d
	mlc.Logger = log.New(&logBridge{log: logger, suspect: n.noteSuspect}, "", 0)

	ml, err := memberlist.Create(mlc)
	if err != nil {
		return nil, fmt.Errorf("start gossip on %s: %w", c.BindAddr, err)
	}
	n.ml = ml
	// memberlist wrote the port it bound back into mlc.
	n.boundAddr = net.JoinHostPort(bindHost, strconv.Itoa(mlc.BindPort))
	local := ml.LocalNode()
	n.advAddr = local.Address()

	if httpUnspecified || raftUnspecified {
		n.metaMu.Lock()
		if httpUnspecified {
			n.meta.HTTPAddr = net.JoinHostPort(local.Addr.String(), httpPort)
		}
		if raftUnspecified {
			n.meta.RaftAddr = net.JoinHostPort(local.Addr.String(), raftPort)
		}
		b, err := EncodeMeta(n.meta)
		if err == nil {
			n.metaBytes = b
			n.announced = n.meta
		}
		n.metaMu.Unlock()
		if err != nil {
			_ = ml.Shutdown()
			return nil, err
		}
		// No peers yet: this returns at once.
		_ = ml.UpdateNode(c.BroadcastTimeout)
	}

	now := time.Now()
	n.viewMu.Lock()
	n.view[c.Name] = &Member{
		Name:  c.Name,
		Addr:  n.advAddr,
		Meta:  n.meta,
		State: MemberAlive,
		Since: now,
		Local: true,
	}
	n.viewMu.Unlock()

	n.wg.Add(2)
	go n.loop()
	go n.updater()
	logger.Info("gossip started", "bind", n.boundAddr, "advertise", n.advAddr, "http", n.meta.HTTPAddr)
	return n, nil
}

// LocalName returns this node's name.
func (n *Node) LocalName() string { return n.cfg.Name }

// BoundAddr returns the gossip address actually bound, "IP:port" (with
// the port picked by the system when the configured port was 0).
func (n *Node) BoundAddr() string { return n.boundAddr }

// AdvertiseAddr returns the gossip address other nodes use for this one.
func (n *Node) AdvertiseAddr() string { return n.advAddr }

// Events returns the membership events. The channel is buffered
// (Config.EventBuffer); when the reader falls behind, the oldest unread
// event is dropped and counted, never blocking gossip. It is closed when
// the node is closed.
func (n *Node) Events() <-chan Event { return n.events }

// DroppedEvents returns how many events were dropped because the Events
// reader fell behind or callbacks overflowed the internal buffer.
func (n *Node) DroppedEvents() uint64 { return n.droppedEvents.Load() + n.droppedRaw.Load() }

// Run joins the Join addresses, retrying with exponential backoff (from
// JoinRetryMin to JoinRetry) until one answers, then refreshes usage
// through Config.Usage until ctx ends or the node is closed.
//
// It returns nil when ctx ends or the node is closed after joining; the
// context's error (with the last join error) if ctx ends first; and at
// once an error wrapping ErrKeyMismatch if the contacted nodes use another
// cluster key, which no retry can fix. A join attempt in progress is not
// interrupted by ctx (it is bounded by TCPTimeout per address). Run may be
// called once.
func (n *Node) Run(ctx context.Context) error {
	if !n.running.CompareAndSwap(false, true) {
		return errors.New("cluster: Run called twice")
	}
	select {
	case <-n.closing:
		return ErrClosed
	default:
	}
	if err := n.join(ctx); err != nil {
		return err
	}
	var tick <-chan time.Time
	if n.cfg.Usage != nil {
		t := time.NewTicker(n.cfg.UsageInterval)
		defer t.Stop()
		tick = t.C
		n.refreshUsage()
	}
	var reconnect <-chan time.Time
	if n.cfg.ReconnectInterval > 0 {
		t := time.NewTicker(n.cfg.ReconnectInterval)
		defer t.Stop()
		reconnect = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-n.closing:
			return nil
		case <-tick:
			n.refreshUsage()
		case <-reconnect:
			n.reconnect()
		}
	}
}

// reconnect tries to join the dead members again, and the Join addresses
// when this node is alone. memberlist stops probing a member once it is
// dead, so after a partition heals each side would go on believing the
// other dead; a successful push/pull with any member of the other side
// merges the two views again (the refuted members raise their
// incarnation and are alive everywhere). A join attempt is bounded by
// TCPTimeout per address; failures are expected while a node is really
// down and are logged at debug level only.
func (n *Node) reconnect() {
	var addrs []string
	alone := true
	n.viewMu.RLock()
	for _, m := range n.view {
		switch {
		case m.Local:
		case m.State == MemberDead && m.Addr != "":
			addrs = append(addrs, m.Addr)
		case m.State == MemberAlive || m.State == MemberSuspect:
			alone = false
		}
	}
	n.viewMu.RUnlock()
	if alone {
		addrs = append(addrs, n.cfg.Join...)
	}
	if len(addrs) == 0 {
		return
	}
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	contacted, err := n.ml.Join(addrs)
	if err != nil {
		n.log.Debug("reconnect attempt failed", "addrs", strings.Join(addrs, ","), "err", oneLine(err))
		return
	}
	n.log.Debug("reconnected", "addrs", strings.Join(addrs, ","), "contacted", contacted)
}

func (n *Node) refreshUsage() {
	capacity, used, err := n.cfg.Usage()
	if err != nil {
		n.log.Warn("cannot refresh capacity and usage", "err", err)
		return
	}
	n.SetUsage(capacity, used)
}

func (n *Node) join(ctx context.Context) error {
	if len(n.cfg.Join) == 0 {
		n.log.Info("starting a new cluster (no join addresses)")
		return nil
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		contacted, err := n.ml.Join(n.cfg.Join)
		if err == nil {
			n.log.Info("joined the cluster", "contacted", contacted, "attempts", attempt+1)
			return nil
		}
		if isKeyError(err.Error()) {
			n.log.Error("cannot join the cluster: the cluster key differs from the key of the nodes contacted", "join", strings.Join(n.cfg.Join, ","))
			return fmt.Errorf("join %s: %w", strings.Join(n.cfg.Join, ","), ErrKeyMismatch)
		}
		lastErr = err
		wait := backoff(attempt, n.cfg.JoinRetryMin, n.cfg.JoinRetry)
		n.log.Warn("cannot join the cluster yet, retrying", "join", strings.Join(n.cfg.Join, ","), "attempt", attempt+1, "wait", wait, "err", oneLine(err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("join %s: %w (last error: %s)", strings.Join(n.cfg.Join, ","), ctx.Err(), oneLine(lastErr))
		case <-n.closing:
			t.Stop()
			return ErrClosed
		case <-t.C:
		}
	}
}

// oneLine flattens memberlist's multi-line multierror texts.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// SetUsage records the node's capacity and used bytes. They are
// re-gossiped only when one of them moved by more than 1% from the value
// last gossiped (any change from 0 counts), so a steady trickle of writes
// does not flood the cluster with updates. It does not block.
func (n *Node) SetUsage(capacity, used uint64) {
	n.metaMu.Lock()
	n.meta.Capacity, n.meta.Used = capacity, used
	announce := movedOver1Percent(n.announced.Capacity, capacity) || movedOver1Percent(n.announced.Used, used)
	if announce {
		n.announced = n.meta
	}
	n.setMetaLocked()
	n.metaMu.Unlock()
	if announce {
		n.kickUpdate()
	}
}

// SetState sets the state this node gossips about itself (active,
// draining). It does not block. StateLeaving is set by Close.
func (n *Node) SetState(s NodeState) error {
	if s >= numNodeStates {
		return fmt.Errorf("unknown node state %d", uint8(s))
	}
	n.metaMu.Lock()
	changed := n.meta.State != s
	n.meta.State = s
	n.announced = n.meta
	n.setMetaLocked()
	n.metaMu.Unlock()
	if changed {
		n.kickUpdate()
	}
	return nil
}

// setMetaLocked re-encodes the local metadata (validated at New, so it
// cannot fail) and mirrors it into the view. Lock order: metaMu, viewMu.
func (n *Node) setMetaLocked() {
	b, err := EncodeMeta(n.meta)
	if err != nil {
		n.log.Error("cannot encode node metadata; keeping the old one", "err", err)
		return
	}
	n.metaBytes = b
	n.viewMu.Lock()
	if m := n.view[n.cfg.Name]; m != nil {
		m.Meta = n.meta
	}
	n.viewMu.Unlock()
}

func movedOver1Percent(old, cur uint64) bool {
	if old == cur {
		return false
	}
	if old == 0 {
		return true
	}
	diff := cur - old
	if cur < old {
		diff = old - cur
	}
	return diff > old/100
}

func (n *Node) kickUpdate() {
	select {
	case n.updateC <- struct{}{}:
	default: // an update is already pending; it will carry the latest meta
	}
}

// updater re-gossips the metadata; UpdateNode blocks until the broadcast
// went out, so it runs here rather than in the caller or the event loop.
func (n *Node) updater() {
	defer n.wg.Done()
	defer close(n.updDone)
	for {
		select {
		case <-n.closing:
			return
		case <-n.updateC:
			n.updates.Add(1)
			if err := n.ml.UpdateNode(n.cfg.BroadcastTimeout); err != nil {
				n.log.Debug("metadata update not confirmed", "err", err)
			}
		}
	}
}

// Members returns the membership view sorted by name: every member seen
// alive, suspect, or (for Config.Retention) dead or left, this node
// included.
func (n *Node) Members() []Member {
	now := time.Now()
	n.viewMu.RLock()
	out := make([]Member, 0, len(n.view))
	for _, m := range n.view {
		c := *m
		if c.Local {
			c.LastSeen = now
		}
		out = append(out, c)
	}
	n.viewMu.RUnlock()
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Member returns one member of the view.
func (n *Node) Member(name string) (Member, bool) {
	n.viewMu.RLock()
	defer n.viewMu.RUnlock()
	m, ok := n.view[name]
	if !ok {
		return Member{}, false
	}
	c := *m
	if c.Local {
		c.LastSeen = time.Now()
	}
	return c, true
}

// Close leaves the cluster gracefully: it gossips state "leaving", sends
// memberlist's leave message (each bounded by BroadcastTimeout), shuts
// gossip down, waits for the node's goroutines and closes Events. It is
// idempotent; later calls return the first result.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.shutdown(true) })
	return n.closeErr
}

// abort stops the node without leaving, as a crash would (for tests).
func (n *Node) abort() {
	n.closeOnce.Do(func() { n.closeErr = n.shutdown(false) })
}

func (n *Node) shutdown(leave bool) error {
	close(n.closing)
	<-n.updDone
	var errs []error
	if leave {
		n.metaMu.Lock()
		n.meta.State = StateLeaving
		n.announced = n.meta
		n.setMetaLocked()
		n.metaMu.Unlock()
		if n.ml.NumMembers() > 1 {
			// Peers tell a graceful leave from a crash by this state
			// (memberlist's leave callback does not say which it was).
			if err := n.ml.UpdateNode(n.cfg.BroadcastTimeout); err != nil {
				n.log.Debug("leaving state not confirmed", "err", err)
			}
		}
		if err := n.ml.Leave(n.cfg.BroadcastTimeout); err != nil {
			n.log.Warn("leave message not confirmed; peers will detect the departure by probing", "err", err)
		}
	}
	if err := n.ml.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("shut down gossip: %w", err))
	}
	close(n.stopLoop)
	n.wg.Wait()
	close(n.events)
	n.viewMu.Lock()
	if m := n.view[n.cfg.Name]; m != nil {
		m.State = MemberLeft
		m.Since = time.Now()
	}
	n.viewMu.Unlock()
	n.log.Info("left the cluster", "graceful", leave)
	return errors.Join(errs...)
}

// push is the callbacks' only way in: it never blocks.
func (n *Node) push(ev rawEvent) {
	select {
	case n.raw <- ev:
	default:
		if c := n.droppedRaw.Add(1); c == 1 || c%1000 == 0 {
			n.log.Warn("membership callbacks overflow the event buffer; dropping (the view is repaired by polling)", "dropped", c)
		}
	}
}

func (n *Node) noteSuspect(name string) {
	n.push(rawEvent{kind: rawSuspect, name: name, at: time.Now()})
}

// loop is the one goroutine that applies callback events to the view and
// forwards them to Events.
func (n *Node) loop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stopLoop:
			n.drain()
			return
		case ev := <-n.raw:
			n.handle(ev)
		case <-t.C:
			n.drain()
			n.reconcile()
		}
	}
}

func (n *Node) drain() {
	for {
		select {
		case ev := <-n.raw:
			n.handle(ev)
		default:
			return
		}
	}
}

func (n *Node) decodeMeta(name string, b []byte) NodeMeta {
	m, err := DecodeMeta(b)
	if err != nil {
		n.log.Warn("member gossips unreadable metadata", "member", name, "err", err)
		return NodeMeta{Name: name}
	}
	return m
}

func (n *Node) handle(ev rawEvent) {
	if ev.name == n.cfg.Name {
		return // the local entry is kept by New, SetUsage, SetState, Close
	}
	n.viewMu.Lock()
	m := n.view[ev.name]
	var out []Event
	emit := func(t EventType) {
		out = append(out, Event{Type: t, Member: *m, Time: ev.at})
	}
	switch ev.kind {
	case rawJoin, rawUpdate:
		meta := NodeMeta{Name: ev.name}
		if len(ev.meta) > 0 {
			meta = n.decodeMeta(ev.name, ev.meta)
		} else if m != nil {
			meta = m.Meta
		}
		if ev.addr == "" && m != nil {
			ev.addr = m.Addr
		}
		switch {
		case m == nil:
			m = &Member{Name: ev.name, Addr: ev.addr, Meta: meta, State: MemberAlive, Since: ev.at, LastSeen: ev.at}
			n.view[ev.name] = m
			emit(EventJoin)
		case m.State == MemberDead || m.State == MemberLeft:
			m.Addr, m.Meta, m.State, m.Since, m.LastSeen = ev.addr, meta, MemberAlive, ev.at, ev.at
			emit(EventBack)
		default:
			wasSuspect := m.State == MemberSuspect
			changed := m.Meta != meta || m.Addr != ev.addr
			m.Addr, m.Meta, m.LastSeen = ev.addr, meta, ev.at
			if wasSuspect {
				m.State, m.Since = MemberAlive, ev.at
				emit(EventAlive)
			}
			if changed {
				emit(EventUpdate)
			}
		}
	case rawLeave:
		if m == nil || m.State == MemberDead || m.State == MemberLeft {
			break
		}
		if len(ev.meta) > 0 {
			m.Meta = n.decodeMeta(ev.name, ev.meta)
		}
		m.Since = ev.at
		if m.Meta.State == StateLeaving {
			m.State = MemberLeft
			emit(EventLeft)
		} else {
			m.State = MemberDead
			emit(EventDead)
		}
	case rawPing:
		if m == nil || m.State == MemberDead || m.State == MemberLeft {
			break
		}
		m.LastSeen = ev.at
		if m.State == MemberSuspect {
			m.State, m.Since = MemberAlive, ev.at
			emit(EventAlive)
		}
	case rawSuspect:
		if m != nil && m.State == MemberAlive {
			m.State, m.Since = MemberSuspect, ev.at
			emit(EventSuspect)
		}
	}
	n.viewMu.Unlock()
	for _, e := range out {
		n.logEvent(e)
		n.emit(e)
	}
}

func (n *Node) logEvent(e Event) {
	level := slog.LevelInfo
	switch e.Type {
	case EventSuspect, EventDead:
		level = slog.LevelWarn
	case EventUpdate, EventAlive:
		level = slog.LevelDebug
	}
	n.log.Log(context.Background(), level, "member "+e.Type.String(),
		"member", e.Member.Name, "addr", e.Member.Addr, "state", e.Member.State.String(),
		"zone", e.Member.Meta.Zone, "http", e.Member.Meta.HTTPAddr)
}

// emit forwards e to Events, dropping the oldest unread event when full.
func (n *Node) emit(e Event) {
	select {
	case n.events <- e:
		return
	default:
	}
	select {
	case <-n.events:
		if c := n.droppedEvents.Add(1); c == 1 || c%100 == 0 {
			n.log.Warn("membership events reader is slow; dropped the oldest event", "dropped", c)
		}
	default:
	}
	select {
	case n.events <- e:
	default:
		n.droppedEvents.Add(1)
	}
}

// reconcile compares the view with memberlist's list of live members and
// repairs what dropped callback events left wrong, then forgets dead and
// left members older than Retention.
//
// It reads only the names of memberlist's nodes: memberlist returns
// pointers to its internal records and updates their address and
// metadata under its own lock, so reading those fields here would race. A
// member revived here keeps its last known metadata until its next update.
func (n *Node) reconcile() {
	live := n.ml.Members()
	names := make(map[string]bool, len(live))
	for _, ln := range live {
		names[ln.Name] = true
	}
	now := time.Now()
	var fix []rawEvent
	n.viewMu.RLock()
	for name := range names {
		if name == n.cfg.Name {
			continue
		}
		if m := n.view[name]; m == nil || m.State == MemberDead || m.State == MemberLeft {
			ev := rawEvent{kind: rawJoin, name: name, at: now}
			if m != nil {
				ev.addr = m.Addr
				ev.meta, _ = EncodeMeta(m.Meta)
			}
			fix = append(fix, ev)
		}
	}
	for name, m := range n.view {
		if !m.Local && !names[name] && (m.State == MemberAlive || m.State == MemberSuspect) {
			fix = append(fix, rawEvent{kind: rawLeave, name: name, at: now})
		}
	}
	n.viewMu.RUnlock()
	for _, ev := range fix {
		n.log.Debug("repairing the membership view from memberlist", "member", ev.name)
		n.handle(ev)
	}
	n.viewMu.Lock()
	for name, m := range n.view {
		if !m.Local && (m.State == MemberDead || m.State == MemberLeft) && now.Sub(m.Since) > n.cfg.Retention {
			delete(n.view, name)
		}
	}
	n.viewMu.Unlock()
}

// unspecifiedHost reports whether host is empty, 0.0.0.0 or ::.
func unspecifiedHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}
