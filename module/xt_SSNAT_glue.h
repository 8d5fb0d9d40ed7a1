/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The interface between xt_SSNAT's Rust crate and its C glue (xt_SSNAT_glue.c).
 * Rust declares the same functions in xtables.rs; only plain C types cross, and
 * C structures stay opaque to Rust.
 */
#ifndef _XT_SSNAT_GLUE_H
#define _XT_SSNAT_GLUE_H

#include <linux/types.h>

struct sk_buff;
struct net;
struct ssnat_rule;

/*
 * The packet path in Rust, called directly (no function pointer on the packet
 * path) by the targets (ssnat_tg4(), ssnat_tg6()) with what they found out about
 * the packet, all in registers (no struct on their stack, so that the call is a
 * tail call): defined by xtables::target_entry! in xt_SSNAT.rs, as are the fast
 * paths below.
 *
 * data:     the network header, or when the skb's data holds none, its data
 *           (with len 0): never NULL;
 * len:      bytes from there on;
 * writable: how many of them are linear and private to the skb, writable in
 *           place (the target unshares a clone first, as ip_forward's skb_cow()
 *           would);
 * state:    with CHECKSUM_PARTIAL, where the checksum starts, from the network
 *           header, or else -1 (low 32 bits, signed), and SSNAT_VIEW_* (the 8
 *           bits above).
 */
unsigned int ssnat_rust_target(struct sk_buff *skb, const void *info, u8 *data,
			       u32 len, u32 writable, u64 state);
/*
 * Its common case, for the IPv4 and the IPv6 target, tried first when no
 * SSNAT_VIEW_* flag is set (csum_start as in state's low 32 bits): true when the
 * packet is dealt with (the verdict is then XT_CONTINUE), false when it changed
 * nothing and ssnat_rust_target() is to have it. Calls nothing and holds no skb.
 */
bool ssnat_rust_fast4(const void *info, u8 *data, u32 len, u32 writable,
		      s32 csum_start);
bool ssnat_rust_fast6(const void *info, u8 *data, u32 len, u32 writable,
		      s32 csum_start);
#define SSNAT_VIEW_TRACKED	1	/* conntrack already tracks the packet */
#define SSNAT_VIEW_COMPLETE	2	/* CHECKSUM_COMPLETE: skb->csum to keep right */
#define SSNAT_VIEW_NOMEM	4	/* a clone could not be unshared */

/* Callbacks into Rust. */
typedef int (*ssnat_check_fn)(void *info, const struct net *net, u8 family,
			      const char *table, unsigned int hook_mask,
			      u8 proto, bool nft_compat);
typedef void (*ssnat_destroy_fn)(void *info, u8 family);
typedef int (*ssnat_check_hooks_fn)(const char *table, unsigned int hook_mask);

/* Registration of the IPv4 and IPv6 targets; names of the per-rule counters. */
int ssnat_glue_register(const char *name, u8 revision, unsigned int targetsize,
			unsigned int usersize,
			ssnat_check_fn check, ssnat_check_hooks_fn check_hooks,
			ssnat_destroy_fn destroy,
			const char *const *counter_names,
			unsigned int ncounters);
void ssnat_glue_unregister(void);

/* Packet access, relative to the network header, for the slow paths. */
const u8 *ssnat_skb_header(const struct sk_buff *skb, unsigned int len, u8 *buf);
u8 *ssnat_skb_writable_network(struct sk_buff *skb, unsigned int len);
void ssnat_skb_csum_adjust(struct sk_buff *skb, u16 l3, u16 l4);

/* Per-rule state: per-CPU counters, listed in /proc/net/xt_SSNAT. */
struct ssnat_rule *ssnat_rule_new(const struct net *net, u8 family,
				  const char *table, u16 flags,
				  const u8 *min_addr, const u8 *max_addr,
				  u8 prefix_len, u16 min_port, u16 max_port,
				  u32 seed, const char *profile);
void ssnat_rule_free(struct ssnat_rule *rule);
u64 __percpu *ssnat_rule_counters(struct ssnat_rule *rule, unsigned int *n);

/* Per-CPU counters (of a profile). */
u64 __percpu *ssnat_counters_alloc(unsigned int n);
void ssnat_counters_free(u64 __percpu *c);
void ssnat_counters_add(u64 __percpu *c, unsigned int idx, u64 n);
u64 ssnat_counters_sum(u64 __percpu *c, unsigned int idx);

/*
 * A profile's entries: a resizable RCU hash table (rhashtable) keyed by where a
 * packet goes, each entry holding an opaque payload for Rust. The packet path
 * looks entries up under the RCU read lock the netfilter hook holds; every other
 * function is called with the profile table's mutex held (one writer), and
 * removed entries are freed after a grace period.
 */
struct ssnat_entry_key {
	u8 addr[16];		/* destination, network order (IPv4: 4 bytes, then 0) */
	__be16 port;		/* destination port, or 0 */
	u8 proto;
	u8 family;		/* NFPROTO_IPV4 or NFPROTO_IPV6 */
};
struct ssnat_entries;
struct ssnat_entry;

struct ssnat_entries *ssnat_entries_new(void);
void ssnat_entries_free(struct ssnat_entries *t);
struct ssnat_entry *ssnat_entry_alloc(const struct ssnat_entry_key *key,
				      size_t payload);
void ssnat_entry_free(struct ssnat_entry *e);
void *ssnat_entry_payload(struct ssnat_entry *e);
const struct ssnat_entry_key *ssnat_entry_key(const struct ssnat_entry *e);
int ssnat_entry_insert(struct ssnat_entries *t, struct ssnat_entry *e);
struct ssnat_entry *ssnat_entry_find(struct ssnat_entries *t,
				     const struct ssnat_entry_key *key);
void ssnat_entry_replace(struct ssnat_entries *t, struct ssnat_entry *old,
			 struct ssnat_entry *e);
void ssnat_entry_remove(struct ssnat_entries *t, struct ssnat_entry *e);
unsigned int ssnat_entries_flush(struct ssnat_entries *t);
struct ssnat_entry *ssnat_entry_nth(struct ssnat_entries *t, unsigned long n);
void *ssnat_entry_lookup(struct ssnat_entries *t, const struct ssnat_entry_key *key);

/* Read-only facts in /sys/module/xt_SSNAT/parameters/. */
void ssnat_glue_set_abi_version(unsigned int v);
unsigned int ssnat_glue_max_profiles(void);
unsigned int ssnat_glue_max_entries(void);
bool ssnat_glue_log_ratelimit(void);

/* Network namespaces going away (profiles are per namespace). */
typedef void (*ssnat_net_exit_fn)(const struct net *net);
void ssnat_glue_set_net_exit(ssnat_net_exit_fn fn);

/* Generic netlink: the inline helpers of <net/genetlink.h> and <net/netlink.h>. */
struct genl_info;
struct netlink_callback;
struct nlattr;
const struct net *ssnat_genl_info_net(const struct genl_info *info);
int ssnat_genlmsg_reply(struct sk_buff *skb, struct genl_info *info);
struct nlattr *ssnat_nla_nest_start(struct sk_buff *skb, int type);
void ssnat_nla_nest_end(struct sk_buff *skb, struct nlattr *start);
u32 ssnat_nl_cb_portid(const struct netlink_callback *cb);
struct genl_family;
const struct genl_family *ssnat_nl_cb_family(struct netlink_callback *cb);
u8 ssnat_nl_cb_cmd(struct netlink_callback *cb);
void ssnat_genl_dump_check_consistent(struct netlink_callback *cb, void *hdr);
const struct net *ssnat_nl_cb_net(const struct netlink_callback *cb);
struct nlattr *ssnat_nl_cb_attr(struct netlink_callback *cb, unsigned int id);
unsigned int ssnat_skb_len(const struct sk_buff *skb);

#endif
