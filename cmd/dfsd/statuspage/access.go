package statuspage

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// cookieName is the cookie that carries proof of the token for the
// page's own requests.
const cookieName = "dfs_status"

// grant is how a request was let in.
type grant int

const (
	refused  grant = iota
	loopback       // from this host, with a Host header a rebinding page cannot send
	bearer         // Authorization: Bearer TOKEN
	cookie         // the cookie a ?token= page load set
	query          // ?token=TOKEN on the page: set the cookie
)

// Refusal texts: one line each, for whoever opened the page.
const (
	refusedNoToken = "dfsd serves its status page to this host only (loopback); " +
		"start dfsd with --status-token (or $DFS_STATUS_TOKEN) to let other hosts read it\n"
	refusedNeedToken = "this status page needs dfsd's status token: open /?token=TOKEN, " +
		"or send the header Authorization: Bearer TOKEN\n"
	refusedWrongToken = "wrong status token (or a cookie from an older one): open /?token=TOKEN with dfsd's --status-token\n"
	refusedHost       = "from this host, open the status page by IP address or as localhost (http://127.0.0.1:PORT/), " +
		"or give dfsd's status token\n"
)

// tokenCheck holds what the token is compared against, never the token
// itself: its SHA-256 (so that comparing takes the same time whatever the
// length of a guess) and the cookie value derived from it.
type tokenCheck struct {
	sum    [sha256.Size]byte
	cookie string
}

func newTokenCheck(token string) *tokenCheck {
	if token == "" {
		return nil
	}
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte("dfs status page cookie v1"))
	return &tokenCheck{sum: sha256.Sum256([]byte(token)), cookie: hex.EncodeToString(mac.Sum(nil))}
}

// matches compares a token given with the request in constant time.
func (tc *tokenCheck) matches(given string) bool {
	sum := sha256.Sum256([]byte(given))
	return subtle.ConstantTimeCompare(sum[:], tc.sum[:]) == 1
}

// matchesCookie compares a cookie value in constant time.
func (tc *tokenCheck) matchesCookie(given string) bool {
	return subtle.ConstantTimeCompare([]byte(given), []byte(tc.cookie)) == 1
}

// check decides whether r may be served, and if not, the one line that
// says why and whether the refusal is worth a warning (a wrong token, as
// opposed to none).
func (h *handler) check(r *http.Request, page bool) (g grant, why string, wrong bool) {
	fromLoopback := isLoopback(r.RemoteAddr)
	if fromLoopback && safeHost(r.Host) {
		// A valid ?token= from this host still sets the cookie, so that
		// the link works the same from everywhere.
		if h.token != nil && page && h.token.matches(r.URL.Query().Get("token")) {
			return query, "", false
		}
		return loopback, "", false
	}
	if h.token == nil {
		if fromLoopback {
			return refused, refusedHost, false
		}
		return refused, refusedNoToken, false
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, given, ok := strings.Cut(auth, " ")
		if ok && strings.EqualFold(scheme, "Bearer") && h.token.matches(strings.TrimSpace(given)) {
			return bearer, "", false
		}
		return refused, refusedWrongToken, true
	}
	if page && r.URL.Query().Has("token") {
		if h.token.matches(r.URL.Query().Get("token")) {
			return query, "", false
		}
		return refused, refusedWrongToken, true
	}
	if c, err := r.Cookie(cookieName); err == nil {
		if h.token.matchesCookie(c.Value) {
			return cookie, "", false
		}
		return refused, refusedWrongToken, true
	}
	if fromLoopback {
		return refused, refusedHost, false
	}
	return refused, refusedNeedToken, false
}

// setCookie gives the browser the cookie that stands for the token: for
// this host only, never readable by scripts, never sent with requests
// that another site starts. It lasts as long as the browser session.
func (h *handler) setCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName,
		Value:    h.token.cookie,
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   r.TLS != nil,
	})
}

// isLoopback reports whether remote ("IP:port", as in
// http.Request.RemoteAddr) is in 127.0.0.0/8 or is ::1 (also as an
// IPv4-mapped IPv6 address).
func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return ip.WithZone("").Unmap().IsLoopback()
}

// safeHost reports whether a Host header names this host in a way that
// DNS cannot redirect: an IP address, localhost or a name under
// .localhost (which browsers resolve to loopback themselves), or nothing
// (HTTP/1.0). A page on another site that rebinds its own name to
// 127.0.0.1 sends its own name, and is refused: without this check, any
// site open in a browser on a dfsd host could read the status.
func safeHost(host string) bool {
	if host == "" {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}
