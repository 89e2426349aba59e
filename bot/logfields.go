package bot

import "github.com/rs/zerolog"

// logStrs is a zerolog hook that adds up to two string fields to each line
// written. An envelope's child loggers (its id and type, then the command,
// team, user, tenant, ...) are built with it rather than with With(), which
// copies the parent's context into a fresh 500-byte buffer and encodes the
// fields at once: about four of those per envelope, for lines that at the
// usual levels are never written, were a third of the bytes the hot path
// allocated. A hook runs only for a line that is written, so the fields cost
// nothing until then; they come after the line's own fields.
type logStrs struct{ k1, v1, k2, v2 string }

func (f *logStrs) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	e.Str(f.k1, f.v1)
	if f.k2 != "" {
		e.Str(f.k2, f.v2)
	}
}

// withStr is log.With().Str(k, v).Logger(), with the field added only to
// lines that are written.
func withStr(log zerolog.Logger, k, v string) zerolog.Logger {
	return log.Hook(&logStrs{k1: k, v1: v})
}

// withStrs is withStr with two fields.
func withStrs(log zerolog.Logger, k1, v1, k2, v2 string) zerolog.Logger {
	return log.Hook(&logStrs{k1: k1, v1: v1, k2: k2, v2: v2})
}
