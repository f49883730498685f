// Package buildinfo reports which build of ordersettle is running, from the
// information the Go toolchain embeds in every binary (no hand-kept version
// string): the module version, the VCS revision and the Go version.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Info describes a build.
type Info struct {
	// Version is the main module's version: a tag such as v1.2.0 when built
	// with `go install …@v1.2.0`, a pseudo-version, or "(devel)" for a build
	// from a checkout.
	Version string
	// Revision is the VCS commit the binary was built from, with "-dirty"
	// when the work tree had changes, or "unknown" (go test, go run, or a
	// build without VCS information).
	Revision string
	// GoVersion is the Go release that built the binary.
	GoVersion string
}

// Read returns the running binary's build information.
func Read() Info {
	info := Info{Version: "(devel)", Revision: "unknown", GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if v := bi.Main.Version; v != "" {
		info.Version = v
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && info.Revision != "unknown" {
		info.Revision += "-dirty"
	}
	return info
}

// String formats the build of the command name as
// "NAME VERSION (REVISION, GOVERSION)", the line `--version` prints.
func (i Info) String(name string) string {
	return fmt.Sprintf("%s %s (%s, %s)", name, i.Version, i.Revision, i.GoVersion)
}
