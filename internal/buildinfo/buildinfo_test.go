package buildinfo

import (
	"regexp"
	"runtime"
	"testing"
)

func TestReadAndString(t *testing.T) {
	info := Read()
	if info.Version == "" || info.Revision == "" {
		t.Fatalf("empty fields: %+v", info)
	}
	if info.GoVersion != runtime.Version() {
		t.Errorf("GoVersion = %q, want %q", info.GoVersion, runtime.Version())
	}
	line := info.String("server")
	if !regexp.MustCompile(`^server \S+ \(\S+, go\S+\)$`).MatchString(line) {
		t.Errorf("String = %q, want NAME VERSION (REVISION, GOVERSION)", line)
	}
}
