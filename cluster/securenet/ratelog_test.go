package securenet

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRateLog(t *testing.T) {
	lb := &logBuffer{}
	now := time.Unix(1000, 0)
	rl := newRateLog(lb.logger(), func() time.Time { return now })
	for range logBurst + 5 {
		rl.log(slog.LevelWarn, "refused")
	}
	if n := strings.Count(lb.String(), "refused"); n != logBurst {
		t.Fatalf("%d lines in a burst, want %d", n, logBurst)
	}
	now = now.Add(logEvery)
	rl.log(slog.LevelWarn, "refused")
	rl.log(slog.LevelWarn, "refused")
	if n := strings.Count(lb.String(), "refused"); n != logBurst+1 {
		t.Fatalf("%d lines after %v, want %d", n, logEvery, logBurst+1)
	}
	if !strings.Contains(lb.String(), "suppressed=5") {
		t.Errorf("the line after the burst does not count the 5 dropped:\n%s", lb)
	}
}
