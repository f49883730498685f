package config

import (
	"io"
	"log/slog"
)

// NewLogger returns a logger on w (standard error in the commands) at
// c.LogLevel: slog's text handler, or its JSON handler (one JSON object per
// line) when c.LogFormat is "json".
func NewLogger(c Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel)) // FromEnv validated it
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
