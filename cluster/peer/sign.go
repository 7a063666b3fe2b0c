package peer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a signed request.
const (
	HeaderTimestamp = "X-Dfs-Timestamp"      // unix time in nanoseconds, decimal
	HeaderNonce     = "X-Dfs-Nonce"          // 16 random bytes, lower-case hex
	HeaderContent   = "X-Dfs-Content-Sha256" // SHA-256 of the body, lower-case hex
	HeaderSignature = "X-Dfs-Signature"      // HMAC-SHA256, lower-case hex
)

// MinKeyLen is the shortest key Sign and the Verifier accept. Cluster keys
// are 32 random bytes.
const MinKeyLen = 16

const nonceLen = 16

var errShortKey = errors.New("peer: signing key shorter than 16 bytes")

// Sign adds the signature headers to req for a request whose body is body
// (nil for none). The body itself is not attached: the caller sets req.Body
// to the same bytes. now is the signing time (time.Now() outside tests).
func Sign(req *http.Request, key, body []byte, now time.Time) error {
	return SignSum(req, key, sha256.Sum256(body), now)
}

// SignSum is Sign for a body known by its SHA-256 sum, for bodies streamed
// from elsewhere.
func SignSum(req *http.Request, key []byte, bodySHA256 [sha256.Size]byte, now time.Time) error {
	return signURI(req, req.URL.RequestURI(), key, bodySHA256, now)
}

// signURI signs req as if its request-URI were uri.
func signURI(req *http.Request, uri string, key []byte, bodySHA256 [sha256.Size]byte, now time.Time) error {
	if len(key) < MinKeyLen {
		return errShortKey
	}
	var nonce [nonceLen]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	ts := strconv.FormatInt(now.UnixNano(), 10)
	n := hex.EncodeToString(nonce[:])
	sum := hex.EncodeToString(bodySHA256[:])
	mac := signature(key, req.Method, uri, ts, n, sum)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderNonce, n)
	req.Header.Set(HeaderContent, sum)
	req.Header.Set(HeaderSignature, hex.EncodeToString(mac))
	return nil
}

// signature is HMAC-SHA256(key, method \n path-with-query \n timestamp \n
// nonce \n content-sha256).
func signature(key []byte, method, uri, ts, nonce, sum string) []byte {
	m := hmac.New(sha256.New, key)
	io.WriteString(m, strings.Join([]string{method, uri, ts, nonce, sum}, "\n"))
	return m.Sum(nil)
}

// BodyReader returns a reader of body that fails with ErrBodyHash at the end
// of the stream unless the bytes read hash (SHA-256) to want, so a body can
// be checked while it is streamed on. A consumer must read to io.EOF (and
// treat every error as fatal) before it acts on the bytes.
func BodyReader(body io.Reader, want [sha256.Size]byte) io.Reader {
	return &hashReader{r: body, h: sha256.New(), want: want}
}

type hashReader struct {
	r    io.Reader
	h    hash.Hash
	want [sha256.Size]byte
	err  error
}

func (hr *hashReader) Read(p []byte) (int, error) {
	if hr.err != nil {
		return 0, hr.err
	}
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	if err == io.EOF {
		var got [sha256.Size]byte
		hr.h.Sum(got[:0])
		if got != hr.want {
			err = ErrBodyHash
		}
	}
	if err != nil {
		hr.err = err
	}
	return n, err
}

// isLowerHex reports whether s is n lower-case hex digits.
func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
