package audit

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// TimeFormat is the format of every event's `time` field: RFC 3339 in UTC
// with microseconds, so events of one connection order correctly.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

func init() {
	zerolog.TimeFieldFormat = TimeFormat
	zerolog.TimestampFunc = func() time.Time { return time.Now().UTC() }
}

// Logger emits events. It is safe for concurrent use.
type Logger struct {
	z      zerolog.Logger
	file   *rotatingFile
	buf    *bufferedWriter // nil when unbuffered
	stream *Stream         // nil without history
}

// Options configure a Logger.
type Options struct {
	Format string // "json" (default) or "text" (human-readable, for terminals)
	Level  string // "debug", "info" (default), "warn", "error"
	File   string // also append events to this file (created 0600)
	// MaxSize rotates File when it would grow past this many bytes (0:
	// never); MaxFiles rotated files are kept (File.1 the newest).
	MaxSize  int64
	MaxFiles int
	// Buffered batches writes (see bufferedWriter); Close flushes.
	Buffered bool
	// History keeps the most recent events, in JSON whatever Format says,
	// in a Stream of this many bytes for readers to follow (0: none).
	History int
}

// New returns a Logger writing to w and, if set, to opts.File.
func New(w io.Writer, opts Options) (*Logger, error) {
	l := &Logger{}
	writers := []io.Writer{w}
	if opts.File != "" {
		f, err := openRotating(opts.File, opts.MaxSize, opts.MaxFiles)
		if err != nil {
			return nil, err
		}
		l.file = f
		writers = append(writers, f)
	}
	var out io.Writer = &lockedWriter{w: zerolog.MultiLevelWriter(writers...)}
	if opts.Buffered {
		l.buf = newBufferedWriter(out)
		out = l.buf
	}
	if opts.Format == "text" {
		out = zerolog.ConsoleWriter{Out: out, TimeFormat: time.RFC3339}
	}
	if opts.History > 0 {
		l.stream = NewStream(opts.History)
		out = teeWriter{stream: l.stream, next: out}
	}
	lvl := zerolog.InfoLevel
	if opts.Level != "" {
		var err error
		if lvl, err = zerolog.ParseLevel(opts.Level); err != nil {
			return nil, fmt.Errorf("audit: log level %q: %w", opts.Level, err)
		}
	}
	l.z = zerolog.New(out).Level(lvl).With().Timestamp().Int("v", SchemaVersion).Logger()
	return l, nil
}

// Stream returns the Logger's history of recent events, which readers
// follow; nil when Options.History was 0.
func (l *Logger) Stream() *Stream { return l.stream }

// Discard is a Logger that writes nothing (tests, offline tools).
func Discard() *Logger { return &Logger{z: zerolog.Nop()} }

// Event starts an info-level event of the given type. Call Send on it.
func (l *Logger) Event(name string) *zerolog.Event {
	return l.z.Info().Str("event", name)
}

// Warn starts a warn-level event of the given type.
func (l *Logger) Warn(name string) *zerolog.Event {
	return l.z.Warn().Str("event", name)
}

// Debug is for operational detail that is not part of the event schema.
func (l *Logger) Debug() *zerolog.Event { return l.z.Debug() }

// Error logs an operational error that is not an event of the schema.
func (l *Logger) Error(err error, msg string) {
	l.z.Error().Str("event", DaemonError).Err(err).Msg(msg)
}

// Flush writes out buffered events.
func (l *Logger) Flush() error {
	if l.buf != nil {
		return l.buf.Flush()
	}
	return nil
}

// Close writes out buffered events and closes the log file, if any.
func (l *Logger) Close() error {
	if l.buf != nil {
		_ = l.buf.Close()
	}
	if l.file != nil {
		return l.file.Close()
	}
	return nil
}

// teeWriter hands each event line to the stream, then to the outputs.
type teeWriter struct {
	stream *Stream
	next   io.Writer
}

func (t teeWriter) Write(p []byte) (int, error) {
	_, _ = t.stream.Write(p)
	return t.next.Write(p)
}

// lockedWriter serializes writes so lines from concurrent events never mix.
type lockedWriter struct {
	mu sync.Mutex
	w  zerolog.LevelWriter
}

func (lw *lockedWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.Write(p)
}

func (lw *lockedWriter) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.WriteLevel(level, p)
}
