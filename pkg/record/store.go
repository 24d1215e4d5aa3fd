package record

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"filippo.io/age"
	"golang.org/x/sys/unix"

	"github.com/sluicehq/sluice/pkg/record/headlog"
	"github.com/sluicehq/sluice/pkg/record/hostkey"
)

// Defaults of Options.
const (
	DefaultFsyncInterval     = 100 * time.Millisecond
	DefaultResultInterval    = 100 * time.Millisecond
	DefaultRetentionInterval = time.Minute
)

// Options configure a Store. The zero value is valid.
type Options struct {
	// FsyncInterval is how often one goroutine syncs every recording
	// written to since the last sync (group commit). Appends never wait
	// for it.
	FsyncInterval time.Duration
	// ResultInterval bounds how long an event queued by AppendLater (a
	// statement's result) waits for the session's next event: past it, the
	// store's result writer writes it on its own (write(2), no fsync). It bounds what a
	// crash of the process can lose, as FsyncInterval bounds what a power
	// loss can. Default DefaultResultInterval; never longer than
	// FsyncInterval. (A tick that finds the recording locked by its
	// session, queuing the next result, leaves its events to the next
	// tick.)
	ResultInterval time.Duration
	// MaxAge and MaxBytes bound the closed recordings kept (0: no bound).
	// Retention removes the oldest first and never an open recording.
	MaxAge   time.Duration
	MaxBytes int64
	// RetentionInterval is how often retention runs (and once at Open).
	RetentionInterval time.Duration
	// Recipients are age public keys (age1...). With any, recordings are
	// encrypted to them and the store cannot read them back.
	Recipients []string
	// HostKey is the ed25519 private key file, generated (0600) if it
	// does not exist; its public key is written to HostKey+".pub".
	// Default: host_key in the store directory.
	HostKey string
	// SampleRows caps the rows kept from a Result's Sample (0: none).
	SampleRows int
	// MaxSessionBytes bounds one recording (0: no bound): an event that
	// would take it past fails with ErrSessionFull, so that one session
	// cannot fill the disk the others record to. The end event and the
	// signature are always written.
	MaxSessionBytes int64
	// Host is written in every header; default: the hostname.
	Host string
	// Now is the clock (for tests); default time.Now.
	Now func() time.Time
	// OnError is told about failures in the background (fsync, head log,
	// retention), from the store's goroutine. It must not call the store.
	OnError func(error)
}

// Store is a directory of recordings, written by one process.
type Store struct {
	dir        string
	opts       Options
	recipients []age.Recipient
	key        *hostkey.Key
	log        *headlog.Log
	lock       *os.File

	mu        sync.Mutex
	open      map[string]*Recording
	pending   []*closing
	dirtyDirs map[string]bool
	live      map[string]liveEntry // logged, not expired
	recovered []Recovery
	closed    bool

	syncReq     chan chan error
	retainReq   chan chan error
	stop        chan struct{}
	done        chan struct{} // the syncer has returned
	resultsDone chan struct{} // the result writer has returned
}

// liveEntry is a logged recording retention may remove.
type liveEntry struct {
	rel  string
	head string
	// logged is when its head entered the log (the recording closed):
	// retention takes a recording's age from it, not from the file's
	// modification time, which anyone who can write the store can set.
	logged time.Time
}

// closing is a recording closed by its owner, waiting for the syncer to
// sync it, log its head and remove its marker.
type closing struct {
	r      *Recording
	sum    Summary
	sealed bool // end and signature written
	cut    int64
}

// Open opens (creating it if needed) the store in dir, mode 0700. It takes
// the store's lock, loads or generates the host key, opens the head log,
// seals the recordings a previous run left open (see Recovered), runs
// retention once and starts the syncer.
func Open(dir string, opts Options) (*Store, error) {
	if opts.FsyncInterval <= 0 {
		opts.FsyncInterval = DefaultFsyncInterval
	}
	if opts.ResultInterval <= 0 {
		opts.ResultInterval = DefaultResultInterval
	}
	opts.ResultInterval = min(opts.ResultInterval, opts.FsyncInterval)
	if opts.RetentionInterval <= 0 {
		opts.RetentionInterval = DefaultRetentionInterval
	}
	if opts.HostKey == "" {
		opts.HostKey = filepath.Join(dir, "host_key")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OnError == nil {
		opts.OnError = func(error) {}
	}
	if opts.SampleRows < 0 {
		opts.SampleRows = 0
	}
	if opts.Host == "" {
		opts.Host, _ = os.Hostname()
	}
	s := &Store{
		dir: dir, opts: opts, open: map[string]*Recording{}, dirtyDirs: map[string]bool{}, live: map[string]liveEntry{},
		syncReq: make(chan chan error), retainReq: make(chan chan error), stop: make(chan struct{}), done: make(chan struct{}),
		resultsDone: make(chan struct{}),
	}
	var err error
	if len(opts.Recipients) > 0 {
		if s.recipients, err = ParseRecipients(opts.Recipients); err != nil {
			return nil, fmt.Errorf("record: %w", err)
		}
		if _, _, err := newDataKey(s.recipients); err != nil {
			return nil, fmt.Errorf("record: recipients: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, dirOpen), 0o700); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	if s.lock, err = lockDir(dir); err != nil {
		return nil, err
	}
	fail := func(err error) (*Store, error) {
		if s.log != nil {
			s.log.Close()
		}
		s.lock.Close()
		return nil, err
	}
	if s.key, err = hostkey.LoadOrCreate(opts.HostKey); err != nil {
		return fail(fmt.Errorf("record: %w", err))
	}
	if err := logNotLost(dir); err != nil {
		return fail(err)
	}
	if s.log, err = headlog.Open(filepath.Join(dir, dirLog), s.key, opts.Now); err != nil {
		return fail(fmt.Errorf("record: %w", err))
	}
	err = s.log.Scan(func(_ int64, r headlog.Record) {
		switch r.Type {
		case headlog.TypeHead:
			s.live[r.Session] = liveEntry{rel: r.Path, head: r.Head, logged: r.Time}
		case headlog.TypeExpire:
			delete(s.live, r.Session)
		}
	})
	if err != nil {
		return fail(fmt.Errorf("record: %w", err))
	}
	s.recoverAll()
	if err := s.sync(); err != nil {
		// What could not be logged stays pending; the syncer retries.
		opts.OnError(fmt.Errorf("record: sealing recordings left open: %w", err))
	}
	if err := s.retain(); err != nil {
		opts.OnError(err)
	}
	go s.loop()
	go s.resultLoop()
	return s, nil
}

func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("record: %s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("record: lock %s: %w", dir, err)
	}
	return f, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// PublicKey returns the host key that signs recordings and the head log.
func (s *Store) PublicKey() hostkey.Public { return s.key.Public() }

// SampleRows returns how many result rows a Result's sample keeps.
func (s *Store) SampleRows() int { return s.opts.SampleRows }

// LogHead returns the head log's current signed tree head. Publishing it
// off the host lets a later verify detect a log that was rolled back.
func (s *Store) LogHead() headlog.TreeHead {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Head()
}

// Recovered reports what Open found of recordings a previous run left
// open, and what it did about them.
func (s *Store) Recovered() []Recovery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Recovery(nil), s.recovered...)
}

func (s *Store) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

// Sync syncs every recording written to, logs the heads of closed ones and
// waits until that is done. The syncer does the same every FsyncInterval;
// Sync is for shutdown paths and tests.
func (s *Store) Sync() error { return s.request(s.syncReq) }

// Retain runs retention now and waits for it.
func (s *Store) Retain() error { return s.request(s.retainReq) }

func (s *Store) request(c chan chan error) error {
	ch := make(chan error, 1)
	select {
	case c <- ch:
		return <-ch
	case <-s.done:
		return ErrClosed
	}
}

// Close closes every recording still open (end reason "shutdown"), syncs,
// logs their heads and releases the store. Recordings that cannot be
// sealed now are sealed by the next Open.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	open := make([]*Recording, 0, len(s.open))
	for _, r := range s.open {
		open = append(open, r)
	}
	s.mu.Unlock()
	for _, r := range open {
		_ = r.Close(Summary{Reason: ReasonShutdown})
	}
	close(s.stop)
	<-s.done
	<-s.resultsDone
	err := s.sync()
	s.mu.Lock()
	for _, c := range s.pending {
		c.r.f.Close()
	}
	s.pending = nil
	s.mu.Unlock()
	if lerr := s.log.Close(); err == nil {
		err = lerr
	}
	s.lock.Close()
	return err
}

// logNotLost refuses a store whose head log has no tree head while it
// holds recordings: the log was deleted, and starting a new one would
// make the recordings deleted with it invisible to verify.
func logNotLost(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, dirLog, "tree")); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	n := 0
	if err := walkRecordings(dir, time.Time{}, func(string) { n++ }); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	if n == 0 && len(readMarkers(dir)) == 0 {
		return nil
	}
	return fmt.Errorf("%w: the head log (%s) is missing while the store holds %d recordings: it was deleted or moved; restore it, or move the recordings out of the store to start a new log",
		ErrCorrupt, filepath.Join(dir, dirLog), n)
}
