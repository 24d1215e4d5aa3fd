package config

import "time"

// Masking is the masking mapping: what the masking of results that
// policies ask for needs from the daemon. The masking itself is said by
// the policies (docs/policy.md, "Masking").
type Masking struct {
	// HashKeyFile is the absolute path of the file holding the key of the
	// hash strategy (at least 16 bytes; a trailing newline is not part of
	// it). The daemon reads it at start and on every reload, and never
	// logs it. "" means no key: policies using hash are refused.
	HashKeyFile string
	// CatalogTTL is how long the column names read from a target's
	// catalog (for schema.table.column rules) are kept.
	CatalogTTL time.Duration
}

// Defaults and bounds of the masking mapping.
const (
	DefaultCatalogTTL = time.Minute
	MaxCatalogTTL     = time.Hour
)

func defaultMasking() Masking {
	return Masking{CatalogTTL: DefaultCatalogTTL}
}

func maskingFields(m *Masking) []field {
	return []field{
		{"hash_key_file", str(&m.HashKeyFile)},
		{"catalog_ttl", duration(&m.CatalogTTL)},
	}
}

// masking checks the masking mapping. The key file is read by the daemon,
// not here: tools check configurations they may not read the secrets of.
func (v *validator) masking() {
	m := &v.c.Masking
	if v.present("masking.hash_key_file") && m.HashKeyFile == "" && !v.skip("masking.hash_key_file") {
		v.errorf("masking.hash_key_file", "must not be empty (remove the key for no hash key)")
	}
	v.absPath("masking.hash_key_file", &m.HashKeyFile, true)
	if t := m.CatalogTTL; (t <= 0 || t > MaxCatalogTTL) && !v.skip("masking.catalog_ttl") {
		v.errorf("masking.catalog_ttl", "must be more than 0 and at most %s, got %s", MaxCatalogTTL, t)
	}
}
