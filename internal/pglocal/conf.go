package pglocal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	// settingsFile is written into the data directory on every start.
	settingsFile = "pglocal.conf"
	// includeLine makes postgresql.conf read settingsFile. Being appended at
	// the end, it overrides earlier settings in postgresql.conf.
	includeLine = "include_if_exists = '" + settingsFile + "'"
	// defaultMaxConnections is used when Config.MaxConnections is 0.
	defaultMaxConnections = 200
)

// renderSettings returns the contents of pglocal.conf for cfg.
func renderSettings(cfg Config) ([]byte, error) {
	maxConns := cfg.MaxConnections
	if maxConns == 0 {
		maxConns = defaultMaxConnections
	}
	if maxConns < 0 {
		return nil, fmt.Errorf("pglocal: max connections %d is negative", maxConns)
	}
	onOff := "off"
	if cfg.Durable {
		onOff = "on"
	}

	var b bytes.Buffer
	b.WriteString("# Written by pglocal on every start; manual edits are overwritten.\n")
	b.WriteString("# Use Config.ExtraSettings (or ALTER SYSTEM) for lasting changes.\n")
	settings := [][2]string{
		{"listen_addresses", "'127.0.0.1'"},
		{"unix_socket_directories", "''"},
		{"max_connections", strconv.Itoa(maxConns)},
		{"timezone", "'UTC'"},
		{"log_timezone", "'UTC'"},
		{"fsync", onOff},
		{"synchronous_commit", onOff},
		{"full_page_writes", onOff},
		{"shared_buffers", "'256MB'"},
	}
	for _, s := range settings {
		fmt.Fprintf(&b, "%s = %s\n", s[0], s[1])
	}

	if len(cfg.ExtraSettings) > 0 {
		b.WriteString("\n# Config.ExtraSettings\n")
		names := make([]string, 0, len(cfg.ExtraSettings))
		for name := range cfg.ExtraSettings {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			value := cfg.ExtraSettings[name]
			if !validSettingName(name) {
				return nil, fmt.Errorf("pglocal: invalid setting name %q in extra settings", name)
			}
			if strings.ContainsAny(value, "\r\n") || strings.TrimSpace(value) == "" {
				return nil, fmt.Errorf("pglocal: invalid value %q for setting %s: it must be non-empty and on one line", value, name)
			}
			fmt.Fprintf(&b, "%s = %s\n", name, value)
		}
	}
	return b.Bytes(), nil
}

// validSettingName reports whether name looks like a PostgreSQL parameter
// name (including custom "extension.name" parameters).
func validSettingName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// writeSettings writes pglocal.conf into dataDir and makes sure
// postgresql.conf includes it. New files are handed to acct.
func writeSettings(dataDir string, content []byte, acct *account) error {
	path := filepath.Join(dataDir, settingsFile)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		return fmt.Errorf("pglocal: write settings: %w", err)
	}
	if err := acct.chown(path); err != nil {
		return err
	}
	return ensureInclude(filepath.Join(dataDir, "postgresql.conf"))
}

// ensureInclude appends includeLine to the postgresql.conf at path unless it
// is already there.
func ensureInclude(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("pglocal: read postgresql.conf: %w", err)
	}
	for line := range strings.Lines(string(data)) {
		if strings.TrimSpace(line) == includeLine {
			return nil
		}
	}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("pglocal: open postgresql.conf: %w", err)
	}
	add := "\n# Added by pglocal: launcher settings, rewritten on every start.\n" + includeLine + "\n"
	if len(data) > 0 && data[len(data)-1] != '\n' {
		add = "\n" + add
	}
	if _, err := f.WriteString(add); err != nil {
		f.Close()
		return fmt.Errorf("pglocal: append to postgresql.conf: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("pglocal: append to postgresql.conf: %w", err)
	}
	return nil
}
