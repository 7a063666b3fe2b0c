package alerts

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// target is one webhook and its bounded queue of deliveries.
type target struct {
	url  string
	name string // redacted URL for logs

	mu    sync.Mutex
	queue []delivery
	wake  chan struct{} // cap 1: something was pushed
}

// delivery is one event to POST to one webhook.
type delivery struct {
	ev   Event
	body []byte // JSON, shared by every target
}

// push appends d, dropping and returning the oldest waiting delivery when
// the queue already holds limit. It never blocks.
func (t *target) push(d delivery, limit int) (dropped delivery, ok bool) {
	t.mu.Lock()
	if len(t.queue) >= limit {
		dropped, ok = t.queue[0], true
		t.queue[0] = delivery{}
		t.queue = t.queue[1:]
	}
	t.queue = append(t.queue, d)
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
	return dropped, ok
}

// pop removes and returns the oldest waiting delivery.
func (t *target) pop() (delivery, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.queue) == 0 {
		return delivery{}, false
	}
	d := t.queue[0]
	t.queue[0] = delivery{}
	t.queue = t.queue[1:]
	return d, true
}

func (t *target) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.queue)
}

// work delivers t's queue in order until ctx ends.
func (m *Manager) work(ctx context.Context, t *target) {
	for {
		d, ok := t.pop()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-t.wake:
			}
			continue
		}
		m.deliver(ctx, t, d)
		if ctx.Err() != nil {
			return
		}
	}
}

// deliver POSTs d to t, retrying network errors, 429 and 5xx with backoff
// up to Config.Attempts times. Every failure is logged; the delivery ends
// with exactly one of "alert webhook delivered" (Debug), "alert webhook
// delivery abandoned" (Error) or "alert webhook delivery cancelled" (Warn,
// at shutdown).
func (m *Manager) deliver(ctx context.Context, t *target, d delivery) {
	base := []any{"webhook", t.name, "id", d.ev.ID, "kind", d.ev.Kind, "node", d.ev.Node, "status", d.ev.Status()}
	with := func(kv ...any) []any { return append(slices.Clip(base), kv...) }
	for attempt := 1; ; attempt++ {
		code, retryAfter, err := m.post(ctx, t, d)
		if err == nil && code >= 200 && code < 300 {
			m.log.Debug("alert webhook delivered", with("attempt", attempt, "http_status", code)...)
			return
		}
		if ctx.Err() != nil {
			m.log.Warn("alert webhook delivery cancelled", with("attempt", attempt)...)
			return
		}
		retry := err != nil || code == http.StatusTooManyRequests || code >= 500
		last := attempt >= m.cfg.Attempts
		args := with("attempt", attempt, "attempts", m.cfg.Attempts, "retry", retry && !last)
		if err != nil {
			args = append(args, "error", err.Error())
		} else {
			args = append(args, "http_status", code)
		}
		m.log.Warn("alert webhook delivery failed", args...)
		if !retry || last {
			m.log.Error("alert webhook delivery abandoned", with("attempts", attempt)...)
			return
		}
		timer := time.NewTimer(m.backoff(attempt, retryAfter))
		select {
		case <-ctx.Done():
			timer.Stop()
			m.log.Warn("alert webhook delivery cancelled", with("attempt", attempt)...)
			return
		case <-timer.C:
		}
	}
}

// post makes one attempt, bounded by Config.Timeout. It returns the HTTP
// status and the Retry-After delay the webhook asked for, if any.
func (m *Manager) post(ctx context.Context, t *target, d delivery) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(d.body))
	if err != nil {
		return 0, 0, stripURL(err)
	}
	// The real clock, not Config.Now: receivers check it against theirs.
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "dfs-alerts/1")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(m.cfg.Key, ts, d.body))
	req.Header.Set(HeaderEventID, d.ev.ID)
	resp, err := m.client.Do(req)
	if err != nil {
		return 0, 0, stripURL(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	var retryAfter time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		retryAfter = time.Duration(s) * time.Second
	}
	return resp.StatusCode, retryAfter, nil
}

// backoff is the wait after the given failed attempt: BackoffMin doubled
// per attempt up to BackoffMax, less a random part of up to a half, and at
// least what the webhook asked for (up to BackoffMax).
func (m *Manager) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := m.cfg.BackoffMin
	for i := 1; i < attempt && d < m.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, m.cfg.BackoffMax)
	if half := d / 2; half > 0 {
		d -= rand.N(half + 1)
	}
	return max(d, min(retryAfter, m.cfg.BackoffMax))
}

// stripURL removes the URL from a client error: webhook URLs often hold
// a secret token.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
