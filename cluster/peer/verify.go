package peer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// DefaultSkew is the clock-skew window of a Verifier whose Skew is zero.
const DefaultSkew = 30 * time.Second

// DefaultMaxNonces is the replay cache's bound when MaxNonces is zero: about
// 12 MiB, room for some 4000 requests a second with the default skew.
const DefaultMaxNonces = 1 << 18

// Verifier checks the signature headers of peer requests (see Sign) and
// refuses replays. The zero value with a Key set is ready to use; a Verifier
// is safe for concurrent use and must not be copied after first use.
type Verifier struct {
	// Key is the cluster key (at least MinKeyLen bytes). With a shorter
	// key every request is refused.
	Key []byte
	// Skew is how far a request's timestamp may be from the local clock,
	// either way; 0 means DefaultSkew.
	Skew time.Duration
	// MaxNonces bounds the replay cache; when it is full, requests are
	// refused with ErrUnavailable (503) rather than risk accepting a replay.
	// 0 means DefaultMaxNonces.
	MaxNonces int
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu sync.Mutex
	// Nonces seen, in two generations: cur since genStart, prev the one
	// before. A nonce need only be remembered while its timestamp is in
	// the window, at most 2*Skew after it arrives; a generation lasts
	// 2*Skew and is dropped whole two rotations later, so pruning is O(1).
	cur, prev map[[nonceLen]byte]struct{}
	genStart  time.Time
}

// Refusal is the error of a refused request: the HTTP status to answer and
// a reason safe to log (it never contains the key). It wraps ErrUnauthorized,
// ErrBodyHash, ErrUnavailable or ErrBadRequest according to Status.
type Refusal struct {
	Status int
	Reason string
	err    error
}

func (r *Refusal) Error() string { return fmt.Sprintf("%v: %s", r.err, r.Reason) }

// Unwrap returns the sentinel error the refusal stands for.
func (r *Refusal) Unwrap() error { return r.err }

func unauthorized(format string, args ...any) *Refusal {
	return &Refusal{Status: http.StatusUnauthorized, Reason: fmt.Sprintf(format, args...), err: ErrUnauthorized}
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) skew() time.Duration {
	if v.Skew > 0 {
		return v.Skew
	}
	return DefaultSkew
}

// Verify checks r's signature headers against r's method and request URI
// (r.RequestURI as received, so a handler mounted under a prefix verifies
// the path the client signed), its clock-skew window, and the replay cache,
// recording the nonce when everything else holds. It returns the signed
// SHA-256 of the body, which the caller must check (BodyReader) before it
// acts on the body. Every error is a *Refusal.
func (v *Verifier) Verify(r *http.Request) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	if len(v.Key) < MinKeyLen {
		return sum, unauthorized("server has no cluster key")
	}
	var vals [4]string
	for i, h := range []string{HeaderTimestamp, HeaderNonce, HeaderContent, HeaderSignature} {
		vs := r.Header.Values(h)
		if len(vs) == 0 {
			return sum, unauthorized("unsigned: no %s header", h)
		}
		if len(vs) > 1 {
			return sum, unauthorized("%s header repeated", h)
		}
		vals[i] = vs[0]
	}
	ts, nonce, content, sig := vals[0], vals[1], vals[2], vals[3]
	if len(ts) == 0 || len(ts) > 19 || !allDigits(ts) {
		return sum, unauthorized("malformed %s header", HeaderTimestamp)
	}
	if !isLowerHex(nonce, 2*nonceLen) {
		return sum, unauthorized("malformed %s header", HeaderNonce)
	}
	if !isLowerHex(content, 2*sha256.Size) {
		return sum, unauthorized("malformed %s header", HeaderContent)
	}
	if !isLowerHex(sig, 2*sha256.Size) {
		return sum, unauthorized("malformed %s header", HeaderSignature)
	}
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	gotMAC, _ := hex.DecodeString(sig)
	if !hmac.Equal(gotMAC, signature(v.Key, r.Method, uri, ts, nonce, content)) {
		return sum, unauthorized("bad signature (wrong cluster key, or request altered)")
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return sum, unauthorized("malformed %s header", HeaderTimestamp)
	}
	now := v.now()
	skew := v.skew()
	if d := now.Sub(time.Unix(0, n)); d > skew || d < -skew {
		return sum, unauthorized("timestamp %v off the local clock (window ±%v)", d.Round(time.Millisecond), skew)
	}
	var key [nonceLen]byte
	hex.Decode(key[:], []byte(nonce))
	if ref := v.remember(key, now); ref != nil {
		return sum, ref
	}
	hex.Decode(sum[:], []byte(content))
	return sum, nil
}

// remember records nonce, refusing it if it was seen within the window or if
// the cache is full.
func (v *Verifier) remember(nonce [nonceLen]byte, now time.Time) *Refusal {
	v.mu.Lock()
	defer v.mu.Unlock()
	period := 2 * v.skew()
	if v.cur == nil {
		v.cur, v.prev, v.genStart = make(map[[nonceLen]byte]struct{}), make(map[[nonceLen]byte]struct{}), now
	}
	if age := now.Sub(v.genStart); age >= period {
		if age >= 2*period {
			v.prev = make(map[[nonceLen]byte]struct{})
		} else {
			v.prev = v.cur
		}
		v.cur, v.genStart = make(map[[nonceLen]byte]struct{}), now
	}
	_, inCur := v.cur[nonce]
	_, inPrev := v.prev[nonce]
	if inCur || inPrev {
		return unauthorized("replayed nonce")
	}
	limit := v.MaxNonces
	if limit <= 0 {
		limit = DefaultMaxNonces
	}
	if len(v.cur)+len(v.prev) >= limit {
		return &Refusal{Status: http.StatusServiceUnavailable, Reason: "replay cache full", err: ErrUnavailable}
	}
	v.cur[nonce] = struct{}{}
	return nil
}

// nonces returns how many nonces the replay cache holds, for tests.
func (v *Verifier) nonces() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.cur) + len(v.prev)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
