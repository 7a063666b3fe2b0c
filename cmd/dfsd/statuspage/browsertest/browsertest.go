// Package browsertest loads pages in headless Chromium for tests, to see
// the DOM a page's scripts built:
//
//	chromium --headless=new --no-sandbox --disable-gpu --virtual-time-budget=MS --dump-dom URL
//
// with a fresh profile per load (no cookie is carried from one load to the
// next) and Chromium's log on stderr, where the page's console messages
// (script errors, Content-Security-Policy refusals) appear. Chromium
// refuses to run as root with its sandbox, and the mount tests run as
// root: hence --no-sandbox. Virtual time runs the page's timers (a
// refresh every 2 s) without waiting for them in real time; a load takes
// about a second.
//
// Tests are skipped in -short mode and when no chromium is installed;
// make deps-browser installs Debian's.
package browsertest

import (
	"bytes"
	"context"
	"html"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Commands looked for, in order.
var commands = []string{"chromium", "chromium-browser", "google-chrome"}

// Require returns the path of a Chromium binary, or skips t: in -short
// mode (a page load takes about a second), or when there is none.
func Require(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	for _, c := range commands {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("DFS_REQUIRE_BROWSER") != "" {
		t.Fatal("no chromium installed, and DFS_REQUIRE_BROWSER is set (make deps-browser installs it)")
	}
	t.Skip("no chromium installed (make deps-browser installs it): the page is not loaded in a browser")
	return ""
}

// Page is a loaded page.
type Page struct {
	// DOM is the document after the page's scripts ran, serialized.
	DOM string
	// Log is what Chromium printed: its own noise, the page's console
	// messages and refusals of the Content-Security-Policy.
	Log string
	// Took is how long Chromium ran, start to exit.
	Took time.Duration
}

// Load loads url with budget of virtual time for its scripts (5 s when
// zero) and returns the page. It fails t when Chromium fails or takes
// more than 30 s.
func Load(t testing.TB, url string, budget time.Duration) Page {
	t.Helper()
	bin := Require(t)
	if budget == 0 {
		budget = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--headless=new", "--no-sandbox", "--disable-gpu",
		"--disable-dev-shm-usage", // /dev/shm is small in containers
		"--no-first-run", "--disable-extensions", "--disable-background-networking",
		"--user-data-dir="+t.TempDir(),
		"--enable-logging=stderr", "--v=0",
		"--virtual-time-budget="+strconv.FormatInt(budget.Milliseconds(), 10),
		"--dump-dom", url)
	// Chromium starts helper processes: stop them all with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	p := Page{DOM: stdout.String(), Log: stderr.String(), Took: time.Since(start)}
	if err != nil || !strings.Contains(p.DOM, "</html>") {
		t.Fatalf("chromium --dump-dom %s: %v after %v\nstdout:\n%s\nstderr:\n%s", url, err, p.Took.Round(time.Millisecond), p.DOM, p.Log)
	}
	return p
}

// Console returns the page's console messages from the log: script
// errors, and refusals of the Content-Security-Policy ("Executing inline
// script violates the following Content Security Policy directive").
func (p Page) Console() []string {
	var out []string
	for _, line := range strings.Split(p.Log, "\n") {
		if strings.Contains(line, ":CONSOLE") {
			out = append(out, line)
		}
	}
	return out
}

// Element returns the serialized content of the first element of dom
// whose start tag is <tag ... attr="value" ...>, up to its end tag (the
// element must not hold another of the same tag), and whether there is
// one. value is compared as Chromium (138 and later) serializes
// attributes: with &, ", <, > and the non-breaking space escaped.
func Element(dom, tag, attr, value string) (string, bool) {
	v := strings.NewReplacer("&", "&amp;", `"`, "&quot;", "<", "&lt;", ">", "&gt;", "\u00a0", "&nbsp;").Replace(value)
	re := regexp.MustCompile(`(?s)<` + regexp.QuoteMeta(tag) + `\b[^>]*\s` + regexp.QuoteMeta(attr) + `="` +
		regexp.QuoteMeta(v) + `"[^>]*>(.*?)</` + regexp.QuoteMeta(tag) + `>`)
	m := re.FindStringSubmatch(dom)
	if m == nil {
		return "", false
	}
	return m[1], true
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// Text returns the text of serialized markup: tags dropped, entities
// decoded, runs of white space made one space.
func Text(markup string) string {
	return strings.Join(strings.Fields(html.UnescapeString(tagRE.ReplaceAllString(markup, " "))), " ")
}
