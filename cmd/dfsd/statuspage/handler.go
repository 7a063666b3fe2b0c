package statuspage

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/dfsproject/dfs/alerts"
	"github.com/dfsproject/dfs/cluster/control"
)

// The routes. The page is at the root; everything it loads is under
// /ui/, so that dfsd can keep its APIs under /v1/ and /metrics.
const (
	pagePath   = "/"
	statusPath = "/ui/status.json"
	scriptPath = "/ui/app.js"
	stylePath  = "/ui/style.css"
)

// Headers sent with every answer. The policy lets the page load only its
// own script, style and JSON: no inline script, no other origin.
const (
	contentSecurityPolicy = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	jsonType              = "application/json"
)

//go:embed assets/index.html assets/app.js assets/style.css
var assetFS embed.FS

// asset is one embedded file, served as is.
type asset struct {
	name  string // for http.ServeContent
	ctype string
	body  []byte
	etag  string
	// cache is the Cache-Control value: the page is never stored (its
	// answer may set the token cookie), the assets are revalidated.
	cache string
}

func loadAsset(file, ctype, cache string) asset {
	b, err := assetFS.ReadFile("assets/" + file)
	if err != nil {
		panic(fmt.Sprintf("statuspage: embedded %s: %v", file, err)) // not reached: embedded at build time
	}
	sum := sha256.Sum256(b)
	return asset{name: file, ctype: ctype, body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, cache: cache}
}

var (
	pageAsset   = loadAsset("index.html", "text/html; charset=utf-8", "no-store")
	scriptAsset = loadAsset("app.js", "text/javascript; charset=utf-8", "no-cache")
	styleAsset  = loadAsset("style.css", "text/css; charset=utf-8", "no-cache")
)

type handler struct {
	src   control.Source
	token *tokenCheck // nil: loopback only
	log   *slog.Logger
}

// Handler returns the status page's HTTP handler (see the package
// documentation for its routes and access rules). It copies cfg. Mount it
// on "/" (and "/ui/"); it answers 404 to every other path it is given.
func Handler(cfg Config) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &handler{src: cfg.Source, token: newTokenCheck(cfg.Token), log: cfg.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")

	page := r.URL.Path == pagePath
	g, why, wrong := h.check(r, page)
	if g == refused {
		level := slog.LevelDebug
		if wrong {
			level = slog.LevelWarn
		}
		h.log.Log(r.Context(), level, "status page request refused",
			slog.String("remote", r.RemoteAddr),
			slog.String("host", truncate(r.Host, 100)),
			slog.String("path", truncate(r.URL.Path, 160)),
			slog.String("reason", why[:len(why)-1]))
		hdr.Set("Cache-Control", "no-store")
		writeText(w, http.StatusForbidden, why)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		writeText(w, http.StatusMethodNotAllowed, fmt.Sprintf("the status page is read-only: method %.16q not allowed, use GET\n", r.Method))
		return
	}
	switch r.URL.Path {
	case pagePath:
		if g == query {
			h.setCookie(w, r)
		}
		serveAsset(w, r, pageAsset)
	case scriptPath:
		serveAsset(w, r, scriptAsset)
	case stylePath:
		serveAsset(w, r, styleAsset)
	case statusPath:
		h.serveStatus(w, r)
	default:
		writeText(w, http.StatusNotFound, fmt.Sprintf("no such page %.160q: the status page is at /\n", r.URL.Path))
	}
}

func serveAsset(w http.ResponseWriter, r *http.Request, a asset) {
	hdr := w.Header()
	hdr.Set("Content-Type", a.ctype)
	hdr.Set("Cache-Control", a.cache)
	hdr.Set("ETag", a.etag)
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}

func (h *handler) serveStatus(w http.ResponseWriter, r *http.Request) {
	st := h.src.Status()
	if st.Nodes == nil {
		st.Nodes = []control.NodeStatus{}
	}
	if st.Alerts == nil {
		st.Alerts = []alerts.Event{}
	}
	// json.Marshal escapes <, > and & in strings: the answer holds no
	// markup even when read as something else than JSON.
	b, err := json.Marshal(st)
	if err != nil {
		w.Header().Set("Cache-Control", "no-store")
		writeText(w, http.StatusInternalServerError, fmt.Sprintf("cannot encode the status: %v\n", err))
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", jsonType)
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(append(b, '\n'))
	}
}

func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(text))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
