package control

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestClientSocket(t *testing.T) {
	src := newFakeSource()
	c := &Client{Socket: serveSocket(t, src)}
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st, src.st) {
		t.Fatalf("Status = %+v, want %+v", st, src.st)
	}
	al, err := c.Alerts(context.Background(), 7)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(al, src.al) || !reflect.DeepEqual(src.asked(), []int{7}) {
		t.Fatalf("Alerts(7) = %+v, source asked for %v", al, src.asked())
	}
	for _, n := range []int{0, -1, MaxAlerts + 1} {
		if _, err := c.Alerts(context.Background(), n); err == nil {
			t.Errorf("Alerts(%d): no error", n)
		}
	}
	if len(src.asked()) != 1 {
		t.Fatalf("bad n reached the server: %v", src.asked())
	}
}

func TestClientAddrSigned(t *testing.T) {
	src := newFakeSource()
	h, err := NewHandler(HandlerConfig{Source: src, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")

	c := &Client{Addr: addr, Key: testKey}
	if st, err := c.Status(context.Background()); err != nil || st.Self != "n1" {
		t.Fatalf("Status over HTTP: %+v, %v", st, err)
	}
	if _, err := c.Alerts(context.Background(), 2); err != nil {
		t.Fatalf("Alerts over HTTP: %v", err)
	}

	_, err = (&Client{Addr: addr, Key: otherKey}).Status(context.Background())
	if !errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrUnreachable) ||
		!strings.Contains(err.Error(), "refused the cluster key") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Status with the wrong key: %v", err)
	}
	// Without a key the client refuses to send anything.
	if _, err := (&Client{Addr: addr}).Status(context.Background()); err == nil || !strings.Contains(err.Error(), "cluster key") {
		t.Fatalf("Status over HTTP without a key: %v", err)
	}
}

func TestClientMissingSocket(t *testing.T) {
	dir := t.TempDir()
	path := SocketPath(dir)
	_, err := (&Client{Socket: path}).Status(context.Background())
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("Status on a missing socket: %v, want ErrUnreachable and ENOENT", err)
	}
	want := "cannot reach dfsd at unix socket " + path + ": no such file (is dfsd running with --data " + dir + "?)"
	if err.Error() != want {
		t.Fatalf("error\n%q\nwant\n%q", err, want)
	}
}

func TestClientStaleSocket(t *testing.T) {
	path := SocketPath(t.TempDir())
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	_, err = (&Client{Socket: path}).Status(context.Background())
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "connection refused") ||
		!strings.Contains(err.Error(), "--data "+filepath.Dir(path)) {
		t.Fatalf("Status on a stale socket: %v", err)
	}
}

func TestClientRefusedAddr(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = (&Client{Addr: addr, Key: testKey}).Alerts(context.Background(), 5)
	want := "cannot reach dfsd at " + addr + ": connection refused"
	if !errors.Is(err, ErrUnreachable) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Alerts on a closed port: %v, want ErrUnreachable and %q", err, want)
	}
}

func TestClientTimeout(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	defer close(release)
	c := &Client{Addr: strings.TrimPrefix(ts.URL, "http://"), Key: testKey, Timeout: 50 * time.Millisecond}
	_, err := c.Status(context.Background())
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Fatalf("Status on a server that does not answer: %v", err)
	}
}

func TestClientServerErrors(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case statusPath:
			writeError(w, http.StatusServiceUnavailable, "the node is shutting down")
		case alertsPath:
			http.Error(w, "plain text trouble", http.StatusBadGateway)
		}
	}))
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")
	c := &Client{Addr: addr, Key: testKey}
	_, err := c.Status(context.Background())
	if err == nil || err.Error() != "dfsd at "+addr+": the node is shutting down" || errors.Is(err, ErrUnreachable) {
		t.Fatalf("Status on a JSON error: %v", err)
	}
	_, err = c.Alerts(context.Background(), 1)
	if err == nil || !strings.Contains(err.Error(), "502 Bad Gateway") || !strings.Contains(err.Error(), "plain text trouble") {
		t.Fatalf("Alerts on a text error: %v", err)
	}
}

func TestClientConfigErrors(t *testing.T) {
	for _, c := range []*Client{
		{},
		{Socket: "/x/dfsd.sock", Addr: "h:1", Key: testKey},
		{Addr: "h", Key: testKey},
		{Addr: "http://h:1", Key: testKey},
		{Addr: "h:1", Key: []byte("short")},
	} {
		if _, err := c.Status(context.Background()); err == nil || errors.Is(err, ErrUnreachable) {
			t.Errorf("Status with %+v: %v, want a configuration error", c, err)
		}
	}
}
