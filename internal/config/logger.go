package config

import (
	"log/slog"
	"os"
)

// NewLogger returns a text logger on standard error at c.LogLevel.
func NewLogger(c Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel)) // FromEnv validated it
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
