package testsupport

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
)

func TestCleanEnvDropsOuterMakeSettings(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{name: "keeps the rest", in: []string{"PATH=/bin", "HOME=/h"}, want: []string{"PATH=/bin", "HOME=/h"}},
		{name: "drops make jobserver and flags", in: []string{"MAKEFLAGS=-j2", "MFLAGS=-j", "MAKELEVEL=1", "PATH=/bin"}, want: []string{"PATH=/bin"}},
		{name: "drops build settings", in: []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "ARTIFACTS_DIR=/a", "PKG=./x"}},
		{name: "matches whole names only", in: []string{"GOOS_EXTRA=1", "PKGS=2"}, want: []string{"GOOS_EXTRA=1", "PKGS=2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cleanEnv(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("cleanEnv(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSyncBufferKeepsEveryConcurrentWrite(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() { fmt.Fprint(&b, i%10) })
	}
	wg.Wait()
	if got := len(b.String()); got != 50 {
		t.Errorf("len(SyncBuffer.String()) after 50 one-byte writes = %d; want 50", got)
	}
}
