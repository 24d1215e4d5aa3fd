// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice redirect programs.
 *
 * cgroup/connect4, cgroup/connect6: a TCP connect() by a tagged process (its
 *   cgroup or an ancestor is in tagged_cgroups, or its uid is in tagged_uids)
 *   is rewritten to the local proxy listener. The original destination and
 *   who asked (tgid, uid, gid, cgroup, comm, identity) are stored under the
 *   socket cookie.
 * sockops: at TCP_CONNECT_CB the source port is bound and the SYN not yet
 *   sent; the record is copied under the connection's 4-tuple, which is what
 *   the proxy sees on accept(). Both entries are deleted when the socket
 *   reaches TCP_CLOSE.
 * cgroup/getpeername4, cgroup/getpeername6: the application sees the peer it
 *   asked for, not the proxy.
 * cgroup/bind4, cgroup/bind6: only sockets carrying the daemon's SO_MARK may
 *   bind the proxy's listener ports. While the daemon is down (fail closed)
 *   tagged connections still go to those ports; nobody else may listen
 *   there and receive them.
 *
 * Never redirected: sockets of the daemon's own cgroup, sockets carrying the
 * daemon's SO_MARK, destinations in the exclusion tries, non-TCP sockets.
 * Nothing here knows about application protocols.
 */
#include "include/sluice_bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define IPPROTO_TCP 6
#define IPPROTO_MPTCP 262

/* How many cgroup levels below the root are checked for a tag. */
#define MAX_CGROUP_LEVELS 32

#define CFG_ENABLED (1U << 0)
#define CFG_LISTEN4 (1U << 1)
#define CFG_LISTEN6 (1U << 2)

/* How a socket came to be tagged. */
#define TAG_CGROUP 1
#define TAG_UID 2

/* Counters in the stats map, mirrored by the Go side. */
enum stat {
	STAT_REDIRECT4 = 0,
	STAT_REDIRECT6,
	STAT_REDIRECT_MAPPED,
	STAT_EXCLUDED,
	STAT_SKIPPED_MARK,
	STAT_DENIED_NO_LISTENER,
	STAT_DENIED_PROTOCOL,
	STAT_RECORD_FAILED,
	STAT_TUPLE_STORED,
	STAT_TUPLE_FAILED,
	STAT_CLOSED,
	STAT_PEERNAME,
	STAT_DENIED_BIND,
	STAT_MAX,
};

struct config {
	__u32 flags;
	__u32 mark;          /* SO_MARK carried by the daemon's own sockets */
	__u64 daemon_cgroup; /* never redirected */
	__u32 proxy4_ip;     /* network byte order */
	__u32 proxy6_ip[4];  /* network byte order */
	__u16 proxy4_port;   /* network byte order */
	__u16 proxy6_port;   /* network byte order */
};

/* Addresses are kept as 16 bytes; IPv4 as ::ffff:a.b.c.d. */
struct origin {
	__u32 dst_ip[4];   /* network byte order */
	__u16 dst_port;    /* network byte order */
	__u16 family;      /* of the socket: AF_INET or AF_INET6 */
	__u32 identity;    /* tag value: the identity id */
	__u32 tag_kind;    /* TAG_CGROUP or TAG_UID */
	__u32 pid;         /* tgid */
	__u32 tid;
	__u32 uid;
	__u32 gid;
	__u64 cgroup_id;   /* the process's own cgroup */
	__u64 tag_cgroup;  /* the cgroup that carried the tag (0 for uid tags) */
	__u64 cookie;
	char comm[16];
};

struct tuple {
	__u32 src_ip[4]; /* the client's address, network byte order */
	__u32 dst_ip[4]; /* the proxy listener's address */
	__u16 src_port;  /* network byte order */
	__u16 dst_port;  /* network byte order */
	__u32 pad;
};

struct lpm4_key {
	__u32 prefixlen;
	__u8 port[2]; /* network byte order; 0 = any port */
	__u8 addr[4];
} __attribute__((packed));

struct lpm6_key {
	__u32 prefixlen;
	__u8 port[2];
	__u8 addr[16];
} __attribute__((packed));

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} sluice_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);   /* cgroup id */
	__type(value, __u32); /* identity id */
} tagged_cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* uid */
	__type(value, __u32); /* identity id */
} tagged_uids SEC(".maps");

/* A miss here only fails closed (the proxy rejects), so LRU is safe. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* socket cookie */
	__type(value, struct origin);
} origins SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tuple);
	__type(value, struct origin);
} tuples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm4_key);
	__type(value, __u8);
} exclude4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm6_key);
	__type(value, __u8);
} exclude6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += 1;
}

static __always_inline struct config *get_config(void)
{
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&sluice_config, &zero);
	if (!cfg || !(cfg->flags & CFG_ENABLED))
		return 0;
	return cfg;
}

/*
 * find_tag returns the identity id of the current task, or 0. The deepest
 * tagged cgroup wins; a uid tag applies only when no cgroup is tagged.
 */
static __always_inline __u32 find_tag(__u64 cgid, __u32 uid, __u32 *kind, __u64 *tag_cg)
{
	__u32 *id = bpf_map_lookup_elem(&tagged_cgroups, &cgid);
	if (id) {
		*kind = TAG_CGROUP;
		*tag_cg = cgid;
		return *id;
	}

	__u32 found = 0;
	for (int level = 1; level < MAX_CGROUP_LEVELS; level++) {
		__u64 anc = bpf_get_current_ancestor_cgroup_id(level);
		if (anc == 0 || anc == cgid)
			break;
		id = bpf_map_lookup_elem(&tagged_cgroups, &anc);
		if (id) {
			found = *id;
			*tag_cg = anc;
		}
	}
	if (found) {
		*kind = TAG_CGROUP;
		return found;
	}

	id = bpf_map_lookup_elem(&tagged_uids, &uid);
	if (id) {
		*kind = TAG_UID;
		*tag_cg = 0;
		return *id;
	}
	return 0;
}

static __always_inline int excluded4(__u32 ip, __u16 port)
{
	struct lpm4_key key = {.prefixlen = 48};
	__builtin_memcpy(key.port, &port, 2);
	__builtin_memcpy(key.addr, &ip, 4);
	if (bpf_map_lookup_elem(&exclude4, &key))
		return 1;
	key.port[0] = 0;
	key.port[1] = 0;
	return bpf_map_lookup_elem(&exclude4, &key) != 0;
}

static __always_inline int excluded6(const __u32 ip[4], __u16 port)
{
	struct lpm6_key key = {.prefixlen = 144};
	__builtin_memcpy(key.port, &port, 2);
	__builtin_memcpy(key.addr, ip, 16);
	if (bpf_map_lookup_elem(&exclude6, &key))
		return 1;
	key.port[0] = 0;
	key.port[1] = 0;
	return bpf_map_lookup_elem(&exclude6, &key) != 0;
}

enum verdict {
	PASS = 0,     /* leave the connect alone */
	REDIRECT = 1, /* tagged: redirect */
	DENY = 2,     /* tagged but cannot be redirected: refuse */
};

/*
 * classify decides whether this connect is ours, and fills the attribution
 * part of the record.
 */
static __always_inline int classify(struct bpf_sock_addr *ctx, struct config *cfg, struct origin *o)
{
	if (ctx->type != SOCK_STREAM)
		return PASS;

	__u64 cgid = bpf_get_current_cgroup_id();
	if (cgid == cfg->daemon_cgroup)
		return PASS;

	__u64 ug = bpf_get_current_uid_gid();
	__u32 uid = (__u32)ug;
	__u32 kind = 0;
	__u64 tag_cg = 0;
	__u32 ident = find_tag(cgid, uid, &kind, &tag_cg);
	if (!ident)
		return PASS;

	struct bpf_sock *sk = ctx->sk;
	if (sk && sk->mark == cfg->mark && cfg->mark != 0) {
		count(STAT_SKIPPED_MARK);
		return PASS;
	}

	/* MPTCP is TCP underneath: letting it through would be a bypass. */
	if (ctx->protocol == IPPROTO_MPTCP) {
		count(STAT_DENIED_PROTOCOL);
		return DENY;
	}
	if (ctx->protocol != IPPROTO_TCP)
		return PASS;

	__u64 pt = bpf_get_current_pid_tgid();
	o->identity = ident;
	o->tag_kind = kind;
	o->pid = pt >> 32;
	o->tid = (__u32)pt;
	o->uid = uid;
	o->gid = ug >> 32;
	o->cgroup_id = cgid;
	o->tag_cgroup = tag_cg;
	o->family = ctx->user_family;
	bpf_get_current_comm(o->comm, sizeof(o->comm));
	return REDIRECT;
}

static __always_inline int store(struct bpf_sock_addr *ctx, struct origin *o)
{
	o->cookie = bpf_get_socket_cookie(ctx);
	if (bpf_map_update_elem(&origins, &o->cookie, o, BPF_ANY) != 0) {
		count(STAT_RECORD_FAILED);
		return 0;
	}
	return 1;
}

SEC("cgroup/connect4")
int sluice_connect4(struct bpf_sock_addr *ctx)
{
	struct config *cfg = get_config();
	if (!cfg)
		return 1;

	struct origin o = {};
	int v = classify(ctx, cfg, &o);
	if (v == PASS)
		return 1;
	if (v == DENY)
		return 0;

	__u32 ip = ctx->user_ip4;
	__u16 port = (__u16)ctx->user_port;
	if (excluded4(ip, port)) {
		count(STAT_EXCLUDED);
		return 1;
	}
	if (!(cfg->flags & CFG_LISTEN4)) {
		count(STAT_DENIED_NO_LISTENER);
		return 0;
	}

	o.dst_ip[2] = bpf_htonl(0xffff);
	o.dst_ip[3] = ip;
	o.dst_port = port;
	if (!store(ctx, &o))
		return 0; /* no record would mean a rejected connection anyway */

	ctx->user_ip4 = cfg->proxy4_ip;
	ctx->user_port = cfg->proxy4_port;
	count(STAT_REDIRECT4);
	return 1;
}

SEC("cgroup/connect6")
int sluice_connect6(struct bpf_sock_addr *ctx)
{
	struct config *cfg = get_config();
	if (!cfg)
		return 1;

	struct origin o = {};
	int v = classify(ctx, cfg, &o);
	if (v == PASS)
		return 1;
	if (v == DENY)
		return 0;

	__u32 ip[4];
	ip[0] = ctx->user_ip6[0];
	ip[1] = ctx->user_ip6[1];
	ip[2] = ctx->user_ip6[2];
	ip[3] = ctx->user_ip6[3];
	__u16 port = (__u16)ctx->user_port;
	int mapped = ip[0] == 0 && ip[1] == 0 && ip[2] == bpf_htonl(0xffff);

	if (mapped) {
		if (excluded4(ip[3], port)) {
			count(STAT_EXCLUDED);
			return 1;
		}
		if (!(cfg->flags & CFG_LISTEN4)) {
			count(STAT_DENIED_NO_LISTENER);
			return 0;
		}
	} else {
		if (excluded6(ip, port)) {
			count(STAT_EXCLUDED);
			return 1;
		}
		if (!(cfg->flags & CFG_LISTEN6)) {
			count(STAT_DENIED_NO_LISTENER);
			return 0;
		}
	}

	o.dst_ip[0] = ip[0];
	o.dst_ip[1] = ip[1];
	o.dst_ip[2] = ip[2];
	o.dst_ip[3] = ip[3];
	o.dst_port = port;
	if (!store(ctx, &o))
		return 0;

	if (mapped) {
		/* A dual-stack socket reaching an IPv4 peer: use the IPv4 listener. */
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0xffff);
		ctx->user_ip6[3] = cfg->proxy4_ip;
		ctx->user_port = cfg->proxy4_port;
		count(STAT_REDIRECT_MAPPED);
	} else {
		ctx->user_ip6[0] = cfg->proxy6_ip[0];
		ctx->user_ip6[1] = cfg->proxy6_ip[1];
		ctx->user_ip6[2] = cfg->proxy6_ip[2];
		ctx->user_ip6[3] = cfg->proxy6_ip[3];
		ctx->user_port = cfg->proxy6_port;
		count(STAT_REDIRECT6);
	}
	return 1;
}

/* Reads of the sock_ops context must be direct loads at constant offsets;
 * the barrier keeps the compiler from sharing a pointer between branches,
 * which the verifier rejects ("dereference of modified ctx ptr"). */
#define CTX_LOAD(dst, expr)                      \
	do {                                     \
		dst = (expr);                    \
		asm volatile("" : "+r"(dst));    \
	} while (0)

static __always_inline void sockops_tuple(struct bpf_sock_ops *skops, struct tuple *t)
{
	__u32 family, lport, rport;
	__u32 l[4], r[4];

	CTX_LOAD(family, skops->family);
	CTX_LOAD(lport, skops->local_port);
	CTX_LOAD(rport, skops->remote_port);
	if (family == AF_INET) {
		CTX_LOAD(l[3], skops->local_ip4);
		CTX_LOAD(r[3], skops->remote_ip4);
		l[0] = l[1] = r[0] = r[1] = 0;
		l[2] = r[2] = bpf_htonl(0xffff);
	} else {
		CTX_LOAD(l[0], skops->local_ip6[0]);
		CTX_LOAD(l[1], skops->local_ip6[1]);
		CTX_LOAD(l[2], skops->local_ip6[2]);
		CTX_LOAD(l[3], skops->local_ip6[3]);
		CTX_LOAD(r[0], skops->remote_ip6[0]);
		CTX_LOAD(r[1], skops->remote_ip6[1]);
		CTX_LOAD(r[2], skops->remote_ip6[2]);
		CTX_LOAD(r[3], skops->remote_ip6[3]);
	}
	for (int i = 0; i < 4; i++) {
		t->src_ip[i] = l[i];
		t->dst_ip[i] = r[i];
	}
	/* local_port is in host order; remote_port holds the network-order port
	 * in its upper 16 bits on little-endian machines. */
	t->src_port = bpf_htons((__u16)lport);
	t->dst_port = (__u16)(rport >> 16);
}

/* to_proxy reports whether a connecting socket's peer is a proxy listener. */
static __always_inline int to_proxy(struct bpf_sock_ops *skops)
{
	struct config *cfg = get_config();
	if (!cfg)
		return 0;
	__u32 family, rport;
	CTX_LOAD(family, skops->family);
	CTX_LOAD(rport, skops->remote_port);
	__u16 port = (__u16)(rport >> 16);
	if (family == AF_INET)
		return (cfg->flags & CFG_LISTEN4) && port == cfg->proxy4_port;
	/* IPv6 sockets reach the IPv4 listener through IPv4-mapped addresses. */
	return ((cfg->flags & CFG_LISTEN6) && port == cfg->proxy6_port) ||
	       ((cfg->flags & CFG_LISTEN4) && port == cfg->proxy4_port);
}

SEC("sockops")
int sluice_sockops(struct bpf_sock_ops *skops)
{
	if (skops->family != AF_INET && skops->family != AF_INET6)
		return 1;

	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB: {
		/* Only sockets connecting to a proxy listener can carry a record:
		 * an untagged connection costs one array lookup here, no hashing. */
		if (!to_proxy(skops))
			return 1;
		__u64 cookie = bpf_get_socket_cookie(skops);
		struct origin *o = bpf_map_lookup_elem(&origins, &cookie);
		if (!o)
			return 1;
		struct tuple t = {};
		sockops_tuple(skops, &t);
		if (bpf_map_update_elem(&tuples, &t, o, BPF_ANY) != 0) {
			count(STAT_TUPLE_FAILED);
			return 1;
		}
		count(STAT_TUPLE_STORED);
		bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG);
		break;
	}
	case BPF_SOCK_OPS_STATE_CB: {
		if (skops->args[1] != BPF_TCP_CLOSE)
			return 1;
		__u64 cookie = bpf_get_socket_cookie(skops);
		if (bpf_map_delete_elem(&origins, &cookie) == 0)
			count(STAT_CLOSED);
		struct tuple t = {};
		sockops_tuple(skops, &t);
		bpf_map_delete_elem(&tuples, &t);
		break;
	}
	}
	return 1;
}

SEC("cgroup/getpeername4")
int sluice_getpeername4(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct origin *o = bpf_map_lookup_elem(&origins, &cookie);
	if (!o)
		return 1;
	ctx->user_ip4 = o->dst_ip[3];
	ctx->user_port = o->dst_port;
	count(STAT_PEERNAME);
	return 1;
}

SEC("cgroup/getpeername6")
int sluice_getpeername6(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct origin *o = bpf_map_lookup_elem(&origins, &cookie);
	if (!o)
		return 1;
	ctx->user_ip6[0] = o->dst_ip[0];
	ctx->user_ip6[1] = o->dst_ip[1];
	ctx->user_ip6[2] = o->dst_ip[2];
	ctx->user_ip6[3] = o->dst_ip[3];
	ctx->user_port = o->dst_port;
	count(STAT_PEERNAME);
	return 1;
}

/* deny_bind: a guarded bind is allowed only to the daemon's marked sockets. */
static __always_inline int deny_bind(struct bpf_sock_addr *ctx, struct config *cfg)
{
	struct bpf_sock *sk = ctx->sk;
	if (sk && cfg->mark != 0 && sk->mark == cfg->mark)
		return 0;
	count(STAT_DENIED_BIND);
	return 1;
}

SEC("cgroup/bind4")
int sluice_bind4(struct bpf_sock_addr *ctx)
{
	struct config *cfg = get_config();
	if (!cfg || !(cfg->flags & CFG_LISTEN4) || ctx->type != SOCK_STREAM)
		return 1;
	if ((__u16)ctx->user_port != cfg->proxy4_port)
		return 1;
	__u32 ip = ctx->user_ip4;
	if (ip != cfg->proxy4_ip && ip != 0)
		return 1;
	return deny_bind(ctx, cfg) ? 0 : 1;
}

SEC("cgroup/bind6")
int sluice_bind6(struct bpf_sock_addr *ctx)
{
	struct config *cfg = get_config();
	if (!cfg || ctx->type != SOCK_STREAM)
		return 1;
	__u16 port = (__u16)ctx->user_port;
	__u32 ip[4];
	ip[0] = ctx->user_ip6[0];
	ip[1] = ctx->user_ip6[1];
	ip[2] = ctx->user_ip6[2];
	ip[3] = ctx->user_ip6[3];
	int any = (ip[0] | ip[1] | ip[2] | ip[3]) == 0;
	int guarded = 0;
	if ((cfg->flags & CFG_LISTEN6) && port == cfg->proxy6_port &&
	    (any || (ip[0] == cfg->proxy6_ip[0] && ip[1] == cfg->proxy6_ip[1] &&
		     ip[2] == cfg->proxy6_ip[2] && ip[3] == cfg->proxy6_ip[3])))
		guarded = 1;
	/* [::] also takes IPv4 unless IPV6_V6ONLY; ::ffff:a.b.c.d is IPv4. */
	if ((cfg->flags & CFG_LISTEN4) && port == cfg->proxy4_port &&
	    (any || (ip[0] == 0 && ip[1] == 0 && ip[2] == bpf_htonl(0xffff) &&
		     (ip[3] == cfg->proxy4_ip || ip[3] == 0))))
		guarded = 1;
	if (!guarded)
		return 1;
	return deny_bind(ctx, cfg) ? 0 : 1;
}

char _license[] SEC("license") = "Dual BSD/GPL";
