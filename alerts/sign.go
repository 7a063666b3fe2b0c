package alerts

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhook request headers.
const (
	// HeaderTimestamp carries the time of the attempt in Unix seconds.
	HeaderTimestamp = "X-Dfs-Timestamp"
	// HeaderSignature carries Sign(key, timestamp, body).
	HeaderSignature = "X-Dfs-Signature"
	// HeaderEventID carries the event's ID, the same on every retry.
	HeaderEventID = "X-Dfs-Event-Id"
)

const signaturePrefix = "sha256="

// Sign returns the signature of a webhook body sent at Unix time ts:
// "sha256=" followed by the lowercase hex HMAC-SHA256, under key, of the
// decimal timestamp, a ".", and the body.
func Sign(key []byte, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(strconv.AppendInt(nil, ts, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether sig is Sign(key, ts, body), comparing in constant
// time. It does not check how old ts is; see VerifyRequest.
func Verify(key []byte, ts int64, body []byte, sig string) bool {
	hexSig, ok := strings.CutPrefix(sig, signaturePrefix)
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(strconv.AppendInt(nil, ts, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// ErrBadSignature is returned by VerifyRequest for a webhook request that
// is unsigned, badly signed, or signed too far from now.
var ErrBadSignature = errors.New("alert webhook signature is missing, invalid or stale")

// VerifyRequest checks a webhook request's headers and body as a receiver
// should: the signature must match and the timestamp must be within skew
// of now. Receivers that also want to refuse replays remember the
// HeaderEventID values they have seen.
func VerifyRequest(key []byte, h http.Header, body []byte, now time.Time, skew time.Duration) error {
	ts, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > skew || d < -skew {
		return ErrBadSignature
	}
	if !Verify(key, ts, body, h.Get(HeaderSignature)) {
		return ErrBadSignature
	}
	return nil
}

// DeriveKey derives a webhook signing key from the cluster key, so that
// webhook receivers can verify alerts without holding the cluster key
// itself (which would let them join and read the cluster).
func DeriveKey(clusterKey []byte) []byte {
	mac := hmac.New(sha256.New, clusterKey)
	mac.Write([]byte("dfs alerts webhook signing key v1"))
	return mac.Sum(nil)
}
