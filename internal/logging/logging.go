// Package logging builds the one zerolog logger the binary passes around.
package logging

import (
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"
)

// Levels returns the accepted values of log.level.
func Levels() []string { return []string{"debug", "info", "warn", "error"} }

// Formats returns the accepted values of log.format.
func Formats() []string { return []string{"auto", "json", "console"} }

// Resolve turns format "auto" into "console" when the log goes to a
// terminal (a person reads it) and "json" otherwise (a service's collector
// does); other formats are returned as they are.
func Resolve(format string, terminal bool) string {
	if format != "auto" {
		return format
	}
	if terminal {
		return "console"
	}
	return "json"
}

// New returns a logger writing JSON (format "json" or "") or human-readable
// lines ("console") to w, dropping events below level ("" means info).
// Resolve "auto" first. It never touches zerolog's global settings.
func New(level, format string, w io.Writer) (zerolog.Logger, error) {
	var lvl zerolog.Level
	switch level {
	case "debug":
		lvl = zerolog.DebugLevel
	case "info", "":
		lvl = zerolog.InfoLevel
	case "warn":
		lvl = zerolog.WarnLevel
	case "error":
		lvl = zerolog.ErrorLevel
	default:
		return zerolog.Nop(), fmt.Errorf("log level %q: must be one of debug, info, warn, error", level)
	}
	switch format {
	case "json", "":
	case "console":
		// A person reads this: the time of day is enough.
		w = zerolog.ConsoleWriter{Out: w, NoColor: true, TimeFormat: time.TimeOnly}
	default:
		return zerolog.Nop(), fmt.Errorf("log format %q: must be json or console", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// ForTenant returns log with the tenant field every tenant-scoped line carries.
func ForTenant(log zerolog.Logger, tenantID string) zerolog.Logger {
	return log.With().Str("tenant", tenantID).Logger()
}
