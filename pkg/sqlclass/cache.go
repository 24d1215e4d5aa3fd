package sqlclass

import (
	"hash/maphash"
	"sync"
)

const (
	// maxCachedText is the longest query string the cache keeps.
	maxCachedText = 64 << 10
	// maxCacheBytes bounds the memory the cache holds, roughly.
	maxCacheBytes = 64 << 20
	cacheShards   = 16
)

// cacheKey is what a classification depends on: the session state that
// name resolution uses (see Session.stateKey) and the exact text.
type cacheKey struct {
	state string
	text  string
}

// cache is a sharded LRU cache of classified query strings. Values are
// shared: nobody may modify them.
type cache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu         sync.Mutex
	m          map[cacheKey]*cacheEntry
	head, tail *cacheEntry // most and least recently used
	maxEntries int
	bytes      int
	maxBytes   int
}

type cacheEntry struct {
	key        cacheKey
	val        []Statement
	size       int
	prev, next *cacheEntry
}

func newCache(entries int) *cache {
	c := &cache{seed: maphash.MakeSeed()}
	per := (entries + cacheShards - 1) / cacheShards
	for i := range c.shards {
		c.shards[i].m = make(map[cacheKey]*cacheEntry)
		c.shards[i].maxEntries = per
		c.shards[i].maxBytes = maxCacheBytes / cacheShards
	}
	return c
}

func (c *cache) shard(k cacheKey) *cacheShard {
	return &c.shards[maphash.String(c.seed, k.text)%cacheShards]
}

func (c *cache) get(k cacheKey) ([]Statement, bool) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok {
		return nil, false
	}
	s.unlink(e)
	s.pushFront(e)
	return e.val, true
}

func (c *cache) put(k cacheKey, v []Statement) {
	size := entrySize(k, v)
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[k]; ok {
		s.bytes += size - e.size
		e.val, e.size = v, size
		s.unlink(e)
		s.pushFront(e)
	} else {
		e := &cacheEntry{key: k, val: v, size: size}
		s.m[k] = e
		s.bytes += size
		s.pushFront(e)
	}
	for s.tail != nil && (len(s.m) > s.maxEntries || s.bytes > s.maxBytes) {
		old := s.tail
		s.unlink(old)
		delete(s.m, old.key)
		s.bytes -= old.size
	}
}

func (s *cacheShard) unlink(e *cacheEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (s *cacheShard) pushFront(e *cacheEntry) {
	e.next = s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}

// entrySize estimates the memory an entry holds.
func entrySize(k cacheKey, v []Statement) int {
	n := 128 + len(k.state) + len(k.text)
	for i := range v {
		st := &v[i]
		n += 256 + 48*(len(st.Reads)+len(st.Writes)) + 32*(len(st.Functions)+len(st.Dangerous))
	}
	return n
}
