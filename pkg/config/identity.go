package config

import "hash/fnv"

// IdentityID returns the stable numeric ID of an identity name: its 32-bit
// FNV-1a hash, with 0 (reserved for "no identity") mapped to 1.
func IdentityID(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	if id := h.Sum32(); id != 0 {
		return id
	}
	return 1
}

// Identity returns the identity with the given name.
func (c *Config) Identity(name string) (*Identity, bool) {
	for i := range c.Identities {
		if c.Identities[i].Name == name {
			return &c.Identities[i], true
		}
	}
	return nil, false
}

// IdentityByID returns the identity with the given ID.
func (c *Config) IdentityByID(id uint32) (*Identity, bool) {
	for i := range c.Identities {
		if c.Identities[i].ID == id {
			return &c.Identities[i], true
		}
	}
	return nil, false
}
