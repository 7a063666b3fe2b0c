package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRateLog(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	rl := New(slog.New(slog.NewTextHandler(&buf, nil)), func() time.Time { return now })
	for range Burst + 5 {
		rl.Log(slog.LevelWarn, "refused")
	}
	if n := strings.Count(buf.String(), "refused"); n != Burst {
		t.Fatalf("%d lines in a burst, want %d", n, Burst)
	}
	now = now.Add(Every)
	rl.Log(slog.LevelWarn, "refused")
	rl.Log(slog.LevelWarn, "refused")
	if n := strings.Count(buf.String(), "refused"); n != Burst+1 {
		t.Fatalf("%d lines after %v, want %d", n, Every, Burst+1)
	}
	if !strings.Contains(buf.String(), "suppressed=5") {
		t.Errorf("the line after the burst does not count the 5 dropped:\n%s", buf.String())
	}
}
