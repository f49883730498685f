package config

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
)

// DefaultLocalPGDir is the default of LOCAL_PG_DIR: the local PostgreSQL's
// data directory of this installation, the same whatever the working
// directory and different for every installation on the machine:
//
//	STATE/ordersettle/INSTALL/pgdata
//
// STATE is $XDG_STATE_HOME, else ~/.local/state; when running as root it is
// /var/lib (PostgreSQL then runs as another user, who cannot enter /root).
// INSTALL names the directory the executable is in (bin/ of a checkout, say:
// server, migrate and seed installed side by side share one database) as
// its parent's name and a hash of its absolute path, e.g.
// "ordersettle-1f2e3d4c". Executables built by `go run` or `go test` live
// in throw-away directories: they share the INSTALL "go-run".
var DefaultLocalPGDir = filepath.Join(stateDir(), "ordersettle", installKey(executableDir()), "pgdata")

// stateDir is where a user's programs keep their data.
func stateDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib"
	}
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return d
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, ".local", "state")
	}
	return os.TempDir()
}

// executableDir is the absolute directory of the running executable, with
// symlinks resolved; empty when it cannot be told.
func executableDir() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return filepath.Dir(exe)
}

// installKey names the installation whose executables are in dir.
func installKey(dir string) string {
	switch {
	case dir == "":
		return "default"
	case strings.Contains(dir, string(filepath.Separator)+"go-build"):
		return "go-run" // go run / go test: a new directory every build
	}
	sum := sha256.Sum256([]byte(dir))
	name := filepath.Base(filepath.Dir(dir))
	if name == string(filepath.Separator) || name == "." || name == "" {
		name = filepath.Base(dir)
	}
	return sanitize(name) + "-" + hex.EncodeToString(sum[:4])
}

// sanitize keeps a directory name readable and safe as one path element.
func sanitize(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	if len(b) > 40 {
		b = b[:40]
	}
	if len(b) == 0 || b[0] == '.' {
		return "install"
	}
	return string(b)
}
