package sqlclass

// builtins.txt lists the functions of pg_catalog; regenerate it (as root,
// with the PostgreSQL server installed) with:
//
//go:generate ./gen-builtins.sh builtins.txt
