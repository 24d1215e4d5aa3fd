package sqlclass

// Options configure a Classifier.
type Options struct {
	// Dangerous are globs (path.Match syntax) on the names of functions
	// whose call makes a statement KindDangerous. A bare pattern such as
	// "pg_read_file" matches the function in any schema; a qualified one
	// such as "pg_catalog.pg_read_file" matches calls qualified with that
	// schema, and unqualified calls of that name. nil means
	// DefaultDangerous; an empty non-nil slice means none.
	Dangerous []string
	// CacheSize is the number of classified query strings kept; 0 means
	// 4096, a negative number no cache.
	CacheSize int
	// MaxText is the longest query string parsed, in bytes; a longer one
	// is unparseable without being parsed (the parser needs about 200
	// times a text's size in memory, and more than linear time). 0 means
	// DefaultMaxText.
	MaxText int
}

// DefaultMaxText is Options.MaxText when it is 0.
const DefaultMaxText = 1 << 20

// Classifier classifies SQL statements. It is safe for concurrent use by
// many sessions.
type Classifier struct {
	dangerous *globs
	cache     *cache // nil: no cache
	maxText   int
}

// defaultCacheSize is the number of cached entries when Options.CacheSize
// is 0.
const defaultCacheSize = 4096

// New returns a Classifier. It fails on a malformed glob.
func New(opts Options) (*Classifier, error) {
	patterns := opts.Dangerous
	if patterns == nil {
		patterns = DefaultDangerous
	}
	g, err := compileGlobs(patterns)
	if err != nil {
		return nil, err
	}
	c := &Classifier{dangerous: g, maxText: opts.MaxText}
	if c.maxText <= 0 {
		c.maxText = DefaultMaxText
	}
	switch {
	case opts.CacheSize == 0:
		c.cache = newCache(defaultCacheSize)
	case opts.CacheSize > 0:
		c.cache = newCache(opts.CacheSize)
	}
	return c, nil
}
