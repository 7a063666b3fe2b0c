package control

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// passSource is a Source that runs fake passes.
type passSource struct {
	Source
	fail bool
}

func (p passSource) RunPass(ctx context.Context, name string, progress func(done, total int64)) (PassReport, error) {
	for i := int64(1); i <= 3; i++ {
		progress(i, 3)
	}
	if p.fail {
		return PassReport{}, errors.New("no layout yet")
	}
	return PassReport{Chunks: 3, Copied: 1, Missing: 0}, nil
}

func TestRunPass(t *testing.T) {
	for _, tc := range []struct {
		name    string
		src     Source
		pass    string
		wantErr string
	}{
		{"ok", passSource{Source: newFakeSource()}, "repair", ""},
		{"pass fails", passSource{Source: newFakeSource(), fail: true}, "scrub", "no layout yet"},
		{"unknown pass", passSource{Source: newFakeSource()}, "defrag", "no pass"},
		{"standalone", nil, "repair", "not part of a cluster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src
			if src == nil {
				src = newFakeSource()
			}
			path := serveSocket(t, src)
			var progress []int64
			rep, err := (&Client{Socket: path}).RunPass(context.Background(), tc.pass, func(done, total int64) {
				progress = append(progress, done)
			})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("RunPass: %v; want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || rep.Pass != tc.pass || rep.Chunks != 3 || rep.Copied != 1 {
				t.Fatalf("RunPass: %+v, %v", rep, err)
			}
			if len(progress) == 0 || progress[len(progress)-1] != 3 {
				t.Errorf("progress %v; want it to end at 3", progress)
			}
		})
	}
}
