// SPDX-License-Identifier: GPL-2.0
/*
 * C side of xt_SSNAT: what Rust cannot reach through the kernel crate.
 *
 * The `kernel` crate has no bindings for <linux/netfilter/x_tables.h>, whose
 * `struct xt_target` layout depends on CONFIG_NETFILTER_XTABLES_COMPAT, no
 * Rust helpers for the inline sk_buff accessors, and no procfs or per-CPU
 * abstractions. Rather than patch the kernel (a distribution kernel would not
 * have the patch) or copy struct layouts into Rust (they would silently go
 * stale), this file is compiled by the kernel's own C compiler against the
 * very headers of the tree we build for, and offers Rust a handful of
 * functions with plain C types (xt_SSNAT_glue.h). The packet logic and the
 * rule checks stay in Rust (xt_SSNAT.rs, xtables.rs and ssnat-core/).
 */
#include <linux/module.h>
#include <linux/skbuff.h>
#include <linux/percpu.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/mutex.h>
#include <linux/rhashtable.h>
#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <net/checksum.h>
#include <net/net_namespace.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include "xt_SSNAT_glue.h"

#ifndef SSNAT_VERSION
#error "SSNAT_VERSION must be set by Kbuild"
#endif
MODULE_VERSION(SSNAT_VERSION);

#define SSNAT_MAX_COUNTERS 16
#define SSNAT_PROC_NAME "xt_SSNAT"

static ssnat_check_fn ssnat_check_cb;
static ssnat_check_hooks_fn ssnat_check_hooks_cb;
static ssnat_destroy_fn ssnat_destroy_cb;
static const char *const *ssnat_counter_names;
static unsigned int ssnat_ncounters;
static bool ssnat_registered;

/* ---- per-CPU counters (of a rule, of a profile) ------------------------ */

/*
 * What rules and profiles allocate is charged to the memory cgroup of whoever adds
 * them (a user who owns a user and network namespace may add both), as x_tables
 * charges its tables.
 */
u64 __percpu *ssnat_counters_alloc(unsigned int n)
{
	return __alloc_percpu_gfp(sizeof(u64) * n, sizeof(u64), GFP_KERNEL_ACCOUNT);
}

void ssnat_counters_free(u64 __percpu *c)
{
	free_percpu(c);
}

void ssnat_counters_add(u64 __percpu *c, unsigned int idx, u64 n)
{
	this_cpu_add(c[idx], n);
}

u64 ssnat_counters_sum(u64 __percpu *c, unsigned int idx)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += *per_cpu_ptr(&c[idx], cpu);
	return sum;
}

/* ---- per-rule state ---------------------------------------------------- */

struct ssnat_rule {
	struct list_head list;
	possible_net_t net;
	unsigned int id;
	char desc[160];
	u64 __percpu *cnt;
};

static LIST_HEAD(ssnat_rules);
static DEFINE_MUTEX(ssnat_rules_lock);
static unsigned int ssnat_next_id;

struct ssnat_rule *ssnat_rule_new(const struct net *net, u8 family,
				  const char *table, u16 flags,
				  const u8 *min_addr, const u8 *max_addr,
				  u8 prefix_len, u16 min_port, u16 max_port,
				  u32 seed, const char *profile)
{
	struct ssnat_rule *r;
	int n = 0;

	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return NULL;
	r->cnt = ssnat_counters_alloc(ssnat_ncounters);
	if (!r->cnt) {
		kfree(r);
		return NULL;
	}
	write_pnet(&r->net, (struct net *)net);

	/* The rule as iptables -L shows it: table, family, mapping. */
	n = scnprintf(r->desc, sizeof(r->desc), "%-6s %s ", table,
		      family == NFPROTO_IPV4 ? "ipv4" : "ipv6");
	if (profile) {		/* F_PROFILE: the mapping is the profile's */
		scnprintf(r->desc + n, sizeof(r->desc) - n, "profile:%s",
			  profile);
		goto add;
	}
	if (flags & 1) {	/* F_MAP_ADDR */
		if (family == NFPROTO_IPV4)
			n += scnprintf(r->desc + n, sizeof(r->desc) - n, "%pI4",
				       min_addr);
		else
			n += scnprintf(r->desc + n, sizeof(r->desc) - n, "%pI6c",
				       min_addr);
		if (flags & 4)	/* F_PREFIX */
			n += scnprintf(r->desc + n, sizeof(r->desc) - n, "/%u",
				       prefix_len);
		else if (memcmp(min_addr, max_addr, 16))
			n += scnprintf(r->desc + n, sizeof(r->desc) - n,
				       family == NFPROTO_IPV4 ? "-%pI4" : "-%pI6c",
				       max_addr);
	}
	if (flags & 2) {	/* F_MAP_PORT */
		n += scnprintf(r->desc + n, sizeof(r->desc) - n, ":%u", min_port);
		if (max_port != min_port)
			n += scnprintf(r->desc + n, sizeof(r->desc) - n, "-%u",
				       max_port);
	}
	if (seed)
		scnprintf(r->desc + n, sizeof(r->desc) - n, ",seed=0x%x", seed);
add:
	mutex_lock(&ssnat_rules_lock);
	r->id = ++ssnat_next_id;
	list_add_tail(&r->list, &ssnat_rules);
	mutex_unlock(&ssnat_rules_lock);
	return r;
}

void ssnat_rule_free(struct ssnat_rule *r)
{
	if (!r)
		return;
	mutex_lock(&ssnat_rules_lock);
	list_del(&r->list);
	mutex_unlock(&ssnat_rules_lock);
	ssnat_counters_free(r->cnt);
	kfree(r);
}

/* The rule's counters and how many there are: the packet path adds to them. */
u64 __percpu *ssnat_rule_counters(struct ssnat_rule *r, unsigned int *n)
{
	*n = ssnat_ncounters;
	return r->cnt;
}

/* /proc/net/xt_SSNAT: one line per rule of this namespace. */
static int ssnat_proc_show(struct seq_file *m, void *v)
{
	struct net *net = seq_file_single_net(m);
	struct ssnat_rule *r;
	unsigned int i;

	seq_puts(m, "rule table  family mapping");
	for (i = 0; i < ssnat_ncounters; i++)
		seq_printf(m, " %s", ssnat_counter_names[i]);
	seq_putc(m, '\n');

	mutex_lock(&ssnat_rules_lock);
	list_for_each_entry(r, &ssnat_rules, list) {
		if (!net_eq(read_pnet(&r->net), net))
			continue;
		seq_printf(m, "%u %s", r->id, r->desc);
		for (i = 0; i < ssnat_ncounters; i++)
			seq_printf(m, " %llu", ssnat_counters_sum(r->cnt, i));
		seq_putc(m, '\n');
	}
	mutex_unlock(&ssnat_rules_lock);
	return 0;
}

static int __net_init ssnat_net_init(struct net *net)
{
	if (!proc_create_net_single(SSNAT_PROC_NAME, 0440, net->proc_net,
				    ssnat_proc_show, NULL))
		return -ENOMEM;
	return 0;
}

static ssnat_net_exit_fn ssnat_net_exit_cb;

void ssnat_glue_set_net_exit(ssnat_net_exit_fn fn)
{
	WRITE_ONCE(ssnat_net_exit_cb, fn);
}

static void __net_exit ssnat_net_exit(struct net *net)
{
	ssnat_net_exit_fn fn = READ_ONCE(ssnat_net_exit_cb);

	if (fn)
		fn(net);
	remove_proc_entry(SSNAT_PROC_NAME, net->proc_net);
}

static struct pernet_operations ssnat_net_ops = {
	.init = ssnat_net_init,
	.exit = ssnat_net_exit,
};

/* ---- the xtables targets ------------------------------------------------ */

/*
 * The target: finds out what the packet path needs to know of the skb and hands
 * it to Rust in registers (ssnat_rust_target(), whose comment says how). Nothing
 * is kept on the stack: a packet with nothing to keep right beyond its bytes (the
 * common one) goes to ssnat_rust_fast4() or ssnat_rust_fast6() (v6: the target's
 * family), leaves, with only skb and par kept across the call; any other, or one
 * they decline, to ssnat_rust_target() by a tail call.
 */
static noinline notrace unsigned int ssnat_tg_full(struct sk_buff *skb,
						   const struct xt_action_param *par,
						   u64 flags);

static __always_inline unsigned int ssnat_tg_view(struct sk_buff *skb,
						  const struct xt_action_param *par,
						  int noff, u64 flags, bool fast,
						  bool v6)
{
	/* The linear part is part of the packet: linear <= len. */
	int linear = flags & SSNAT_VIEW_NOMEM ? 0 : (int)skb_headlen(skb) - noff;
	s32 csum_start = -1;

	if (fast) {
		/*
		 * Nothing to keep right beyond the bytes: no conntrack entry (nor a
		 * template: one is no entry, but is left to the full path, which tells
		 * the two apart), no CHECKSUM_COMPLETE sum, a private linear part.
		 */
		if (unlikely(flags || skb_nfct(skb) ||
			     skb->ip_summed == CHECKSUM_COMPLETE))
			return ssnat_tg_full(skb, par, flags);
		if (skb->ip_summed == CHECKSUM_PARTIAL)
			csum_start = skb_checksum_start_offset(skb) - noff;
		if (likely((v6 ? ssnat_rust_fast6 : ssnat_rust_fast4)(
				par->targinfo, skb_network_header(skb),
				skb->len - noff, max(linear, 0), csum_start)))
			return XT_CONTINUE;
		/* (nothing changed: the same facts again, out of line) */
		return ssnat_tg_full(skb, par, 0);
	}
	if (skb->ip_summed == CHECKSUM_PARTIAL)
		csum_start = skb_checksum_start_offset(skb) - noff;
	else if (skb->ip_summed == CHECKSUM_COMPLETE)
		flags |= SSNAT_VIEW_COMPLETE;
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	{
		enum ip_conntrack_info ctinfo;
		struct nf_conn *ct = nf_ct_get(skb, &ctinfo);

		/* Only reads skb->_nfct: no call into conntrack. */
		if (ct && !nf_ct_is_template(ct))
			flags |= SSNAT_VIEW_TRACKED;
	}
#endif
	return ssnat_rust_target(skb, par->targinfo, skb_network_header(skb),
				 skb->len - noff, max(linear, 0),
				 (u32)csum_start | flags << 32);
}

/* A packet not for the fast path, or declined by it: to ssnat_rust_target(). */
static noinline notrace unsigned int ssnat_tg_full(struct sk_buff *skb,
						   const struct xt_action_param *par,
						   u64 flags)
{
	return ssnat_tg_view(skb, par, skb_network_offset(skb), flags, false, false);
}

/*
 * A clone: skb_ensure_writable(skb, skb_headlen(skb)) without its call and its
 * pull (the length is the linear part's): one whose header is shared gets its
 * own copy (pskb_expand_head(), as ip_forward's skb_cow() or any mangling target
 * would do anyway), so that every linear byte from the network header on may be
 * written in place. One that cannot have it gets no writable bytes.
 */
static __always_inline unsigned int ssnat_tg_clone(struct sk_buff *skb,
						   const struct xt_action_param *par,
						   int noff, bool v6)
{
	u64 flags = 0;

	if (skb_cloned(skb) && !skb_clone_writable(skb, skb_headlen(skb)) &&
	    pskb_expand_head(skb, 0, 0, GFP_ATOMIC))
		flags = SSNAT_VIEW_NOMEM;
	/* (the network header's offset is the same in the new head) */
	return ssnat_tg_view(skb, par, noff, flags, true, v6);
}

/* (one for each family: each calls its fast path directly) */
static noinline notrace unsigned int ssnat_tg_clone4(struct sk_buff *skb,
						     const struct xt_action_param *par,
						     int noff)
{
	return ssnat_tg_clone(skb, par, noff, false);
}

static noinline notrace unsigned int ssnat_tg_clone6(struct sk_buff *skb,
						     const struct xt_action_param *par,
						     int noff)
{
	return ssnat_tg_clone(skb, par, noff, true);
}

static __always_inline unsigned int ssnat_tg(struct sk_buff *skb,
					     const struct xt_action_param *par,
					     bool v6)
{
	int noff = skb_network_offset(skb);

	if (unlikely(noff < 0 || noff > skb->len))
		return ssnat_rust_target(skb, par->targinfo, skb->data, 0, 0, (u32)-1);
	/* (skb_cloned()'s first half: the rest is the clone's business) */
	if (unlikely(skb->cloned))
		return v6 ? ssnat_tg_clone6(skb, par, noff) :
			    ssnat_tg_clone4(skb, par, noff);
	return ssnat_tg_view(skb, par, noff, 0, true, v6);
}

static __no_stack_protector unsigned int ssnat_tg4(struct sk_buff *skb,
						   const struct xt_action_param *par)
{
	return ssnat_tg(skb, par, false);
}

static __no_stack_protector unsigned int ssnat_tg6(struct sk_buff *skb,
						   const struct xt_action_param *par)
{
	return ssnat_tg(skb, par, true);
}

/*
 * The protocol the rule matches (-p), or 0 for any protocol or an inverted match. The
 * field is 16 bits wide, a packet's protocol 8: a value above 255 matches no packet
 * (ip_packet_match compares all 16 bits), so it names no protocol (0) rather than,
 * truncated, another one.
 */
static u8 ssnat_rule_proto(const struct xt_tgchk_param *par)
{
	u16 proto;

	if (par->family == NFPROTO_IPV4) {
		const struct ipt_entry *e = par->entryinfo;

		if (e->ip.invflags & XT_INV_PROTO)
			return 0;
		proto = e->ip.proto;
	} else {
		const struct ip6t_entry *e = par->entryinfo;

		if (!(e->ipv6.flags & IP6T_F_PROTO) ||
		    (e->ipv6.invflags & XT_INV_PROTO))
			return 0;
		proto = e->ipv6.proto;
	}
	return proto <= U8_MAX ? proto : 0;
}

static int ssnat_tg_check(const struct xt_tgchk_param *par)
{
	return ssnat_check_cb(par->targinfo, par->net, par->family, par->table,
			      par->hook_mask, ssnat_rule_proto(par),
			      par->nft_compat);
}

/*
 * The table and the hooks the rule is reached from. x_tables asks before checkentry
 * (with every hook that reaches the rule); nft_compat asks again for each base chain
 * that reaches it, rule in a regular chain included (checkentry saw a hook mask of 0
 * there): a jump from another chain cannot bypass the check.
 */
static int ssnat_tg_check_hooks(const struct xt_tgchk_param *par)
{
	return ssnat_check_hooks_cb(par->table, par->hook_mask);
}

static void ssnat_tg_destroy(const struct xt_tgdtor_param *par)
{
	ssnat_destroy_cb(par->targinfo, par->family);
}

static struct xt_target ssnat_tg_reg[] __read_mostly = {
	{
		.family		= NFPROTO_IPV4,
		.target		= ssnat_tg4,
		.checkentry	= ssnat_tg_check,
		.check_hooks	= ssnat_tg_check_hooks,
		.destroy	= ssnat_tg_destroy,
		.me		= THIS_MODULE,
	},
	{
		.family		= NFPROTO_IPV6,
		.target		= ssnat_tg6,
		.checkentry	= ssnat_tg_check,
		.check_hooks	= ssnat_tg_check_hooks,
		.destroy	= ssnat_tg_destroy,
		.me		= THIS_MODULE,
	},
};

/*
 * Registers the target for IPv4 and IPv6. `name` is copied; `targetsize` is the
 * exact size of the info blob (already XT_ALIGNed by the caller), `usersize`
 * how much of it is copied back to userspace. `counter_names` must outlive the
 * registration.
 */
int ssnat_glue_register(const char *name, u8 revision, unsigned int targetsize,
			unsigned int usersize,
			ssnat_check_fn check, ssnat_check_hooks_fn check_hooks,
			ssnat_destroy_fn destroy,
			const char *const *counter_names,
			unsigned int ncounters)
{
	unsigned int i;
	int ret;

	if (ssnat_registered)
		return -EBUSY;
	if (targetsize != XT_ALIGN(targetsize) || usersize > targetsize ||
	    strlen(name) >= XT_EXTENSION_MAXNAMELEN ||
	    ncounters > SSNAT_MAX_COUNTERS)
		return -EINVAL;

	ssnat_check_cb = check;
	ssnat_check_hooks_cb = check_hooks;
	ssnat_destroy_cb = destroy;
	ssnat_counter_names = counter_names;
	ssnat_ncounters = ncounters;
	for (i = 0; i < ARRAY_SIZE(ssnat_tg_reg); i++) {
		struct xt_target *t = &ssnat_tg_reg[i];

		strscpy((char *)t->name, name, XT_EXTENSION_MAXNAMELEN);
		t->revision = revision;
		t->targetsize = targetsize;
		t->usersize = usersize;
	}
	ret = register_pernet_subsys(&ssnat_net_ops);
	if (ret)
		return ret;
	ret = xt_register_targets(ssnat_tg_reg, ARRAY_SIZE(ssnat_tg_reg));
	if (ret) {
		unregister_pernet_subsys(&ssnat_net_ops);
		return ret;
	}
	ssnat_registered = true;
	return 0;
}

void ssnat_glue_unregister(void)
{
	if (!ssnat_registered)
		return;
	xt_unregister_targets(ssnat_tg_reg, ARRAY_SIZE(ssnat_tg_reg));
	unregister_pernet_subsys(&ssnat_net_ops);
	ssnat_registered = false;
}

/* ---- packet access ------------------------------------------------------ */

/*
 * The first `len` bytes from the network header on: a pointer into the skb
 * when they are linear, else copied into `buf`; NULL if the packet is shorter.
 */
const u8 *ssnat_skb_header(const struct sk_buff *skb, unsigned int len, u8 *buf)
{
	return skb_header_pointer(skb, skb_network_offset(skb), len, buf);
}

/*
 * Makes the first `len` bytes from the network header on linear and private
 * to this skb, and returns a pointer to the network header, or NULL when the
 * packet is shorter or memory is short.
 */
u8 *ssnat_skb_writable_network(struct sk_buff *skb, unsigned int len)
{
	int need = skb_network_offset(skb) + (int)len;

	if (need < 0 || need > skb->len)
		return NULL;
	if (skb_ensure_writable(skb, need > 0 ? need : 0))
		return NULL;
	return skb_network_header(skb);
}

/*
 * Keeps a CHECKSUM_COMPLETE sum right after a rewrite. `l3` and `l4` are the
 * one's-complement differences (big-endian numeric, folded) of the bytes
 * changed in the network header and from the L4 header on; only bytes at or
 * after skb->data are covered by skb->csum.
 */
void ssnat_skb_csum_adjust(struct sk_buff *skb, u16 l3, u16 l4)
{
	if (skb->ip_summed != CHECKSUM_COMPLETE)
		return;
	if (skb_network_offset(skb) >= 0)
		skb->csum = csum_add(skb->csum, (__force __wsum)htons(l3));
	skb->csum = csum_add(skb->csum, (__force __wsum)htons(l4));
}

/* One rate limit for the module's messages about refused rules (the default
 * printk burst of 10 per 5 s), as pr_info_ratelimited keeps per call site. */
static DEFINE_RATELIMIT_STATE(ssnat_log_rs, DEFAULT_RATELIMIT_INTERVAL, DEFAULT_RATELIMIT_BURST);

bool ssnat_glue_log_ratelimit(void)
{
	return __ratelimit(&ssnat_log_rs);
}

/* ---- a profile's entries ----------------------------------------------- */

struct ssnat_entry {
	struct rhash_head node;
	struct list_head list;		/* in insertion order, for dumps and flushes */
	struct rcu_head rcu;
	struct ssnat_entry_key key;
	u64 payload[];			/* Rust's (module/entries.rs) */
};

struct ssnat_entries {
	struct rhashtable ht;
	struct list_head list;
	/* The last ssnat_entry_nth() answer: a dump goes on from it in O(1). */
	struct ssnat_entry *cursor;
	unsigned long cursor_n;
};

static const struct rhashtable_params ssnat_entry_params = {
	.key_len = sizeof(struct ssnat_entry_key),
	.key_offset = offsetof(struct ssnat_entry, key),
	.head_offset = offsetof(struct ssnat_entry, node),
	.automatic_shrinking = true,
};

struct ssnat_entries *ssnat_entries_new(void)
{
	struct ssnat_entries *t;

	/* Rust hashes and compares the same 20 bytes (ssnat-core's packet::Dest). */
	BUILD_BUG_ON(sizeof(struct ssnat_entry_key) != 20);
	t = kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);
	if (!t)
		return NULL;
	if (rhashtable_init(&t->ht, &ssnat_entry_params)) {
		kfree(t);
		return NULL;
	}
	INIT_LIST_HEAD(&t->list);
	return t;
}

static void ssnat_entry_free_cb(void *ptr, void *arg)
{
	kfree(ptr);
}

/* Only once no packet can see the table any more (no rule uses its profile). */
void ssnat_entries_free(struct ssnat_entries *t)
{
	rhashtable_free_and_destroy(&t->ht, ssnat_entry_free_cb, NULL);
	kfree(t);
}

struct ssnat_entry *ssnat_entry_alloc(const struct ssnat_entry_key *key, size_t payload)
{
	struct ssnat_entry *e = kzalloc(struct_size(e, payload, DIV_ROUND_UP(payload, 8)),
					GFP_KERNEL_ACCOUNT);

	if (e)
		e->key = *key;
	return e;
}

/* An entry that was never inserted. */
void ssnat_entry_free(struct ssnat_entry *e)
{
	kfree(e);
}

void *ssnat_entry_payload(struct ssnat_entry *e)
{
	return e->payload;
}

const struct ssnat_entry_key *ssnat_entry_key(const struct ssnat_entry *e)
{
	return &e->key;
}

static void ssnat_entries_moved(struct ssnat_entries *t)
{
	t->cursor = NULL;
}

/* -EEXIST if an entry has the key; on error the caller still owns @e. */
int ssnat_entry_insert(struct ssnat_entries *t, struct ssnat_entry *e)
{
	int err = rhashtable_lookup_insert_fast(&t->ht, &e->node, ssnat_entry_params);

	if (err)
		return err;
	list_add_tail(&e->list, &t->list);
	ssnat_entries_moved(t);
	return 0;
}

struct ssnat_entry *ssnat_entry_find(struct ssnat_entries *t,
				     const struct ssnat_entry_key *key)
{
	return rhashtable_lookup_fast(&t->ht, key, ssnat_entry_params);
}

/* @e takes @old's place (same key); @old is freed after a grace period. */
void ssnat_entry_replace(struct ssnat_entries *t, struct ssnat_entry *old,
			 struct ssnat_entry *e)
{
	/* Cannot fail: @old is in the table and the keys are equal. */
	WARN_ON_ONCE(rhashtable_replace_fast(&t->ht, &old->node, &e->node,
					     ssnat_entry_params));
	list_replace(&old->list, &e->list);
	ssnat_entries_moved(t);
	kfree_rcu(old, rcu);
}

void ssnat_entry_remove(struct ssnat_entries *t, struct ssnat_entry *e)
{
	rhashtable_remove_fast(&t->ht, &e->node, ssnat_entry_params);
	list_del(&e->list);
	ssnat_entries_moved(t);
	kfree_rcu(e, rcu);
}

unsigned int ssnat_entries_flush(struct ssnat_entries *t)
{
	struct ssnat_entry *e, *next;
	unsigned int n = 0;

	list_for_each_entry_safe(e, next, &t->list, list) {
		ssnat_entry_remove(t, e);
		n++;
		cond_resched();
	}
	return n;
}

/*
 * The @n-th entry in insertion order, or NULL: a dump round asks for the entry
 * after the last one it put, which the cursor remembers, so a whole dump is linear.
 */
struct ssnat_entry *ssnat_entry_nth(struct ssnat_entries *t, unsigned long n)
{
	struct list_head *pos;
	unsigned long i = 0;

	if (t->cursor && n >= t->cursor_n) {
		pos = &t->cursor->list;
		i = t->cursor_n;
	} else {
		pos = t->list.next;
	}
	for (; pos != &t->list; pos = pos->next, i++) {
		if (i == n) {
			t->cursor = list_entry(pos, struct ssnat_entry, list);
			t->cursor_n = n;
			return t->cursor;
		}
	}
	return NULL;
}

/* The packet path, under rcu_read_lock(): the entry's payload, or NULL. */
void *ssnat_entry_lookup(struct ssnat_entries *t, const struct ssnat_entry_key *key)
{
	struct ssnat_entry *e = rhashtable_lookup(&t->ht, key, ssnat_entry_params);

	return e ? e->payload : NULL;
}

/* ---- /sys/module/xt_SSNAT/parameters ---------------------------------- */

/*
 * Nothing here may tell one namespace about another: how many profiles or rules the
 * others hold is their business (and `ssnatctl profile list` counts one's own).
 */

/* Set from Rust (abi::ABI_VERSION) at load, before anything registers. */
static unsigned int ssnat_abi_version;
module_param_named(abi_version, ssnat_abi_version, uint, 0444);
MODULE_PARM_DESC(abi_version, "Version of the rule and netlink ABI (read-only)");

void ssnat_glue_set_abi_version(unsigned int v)
{
	ssnat_abi_version = v;
}

/*
 * The cap on profiles per network namespace: with it (and the cgroup charge) a user
 * who owns a network namespace cannot make the kernel hold more than max_profiles
 * small objects for it. Lowering it keeps the profiles already there.
 */
static unsigned int ssnat_max_profiles = 1024;
module_param_named(max_profiles, ssnat_max_profiles, uint, 0644);
MODULE_PARM_DESC(max_profiles, "Most runtime profiles one network namespace may hold (default 1024)");

unsigned int ssnat_glue_max_profiles(void)
{
	return READ_ONCE(ssnat_max_profiles);
}

/*
 * The cap on entries per profile. An entry is about 200 bytes, charged to the
 * memory cgroup of whoever adds it: the default allows some 50 MiB per profile.
 */
static unsigned int ssnat_max_entries = 262144;
module_param_named(max_entries, ssnat_max_entries, uint, 0644);
MODULE_PARM_DESC(max_entries, "Most entries one runtime profile may hold (default 262144)");

unsigned int ssnat_glue_max_entries(void)
{
	return READ_ONCE(ssnat_max_entries);
}

/* ---- generic netlink: inline helpers ------------------------------------ */

const struct net *ssnat_genl_info_net(const struct genl_info *info)
{
	return genl_info_net(info);
}

int ssnat_genlmsg_reply(struct sk_buff *skb, struct genl_info *info)
{
	return genlmsg_reply(skb, info);
}

struct nlattr *ssnat_nla_nest_start(struct sk_buff *skb, int type)
{
	return nla_nest_start(skb, type);
}

void ssnat_nla_nest_end(struct sk_buff *skb, struct nlattr *start)
{
	nla_nest_end(skb, start);
}

u32 ssnat_nl_cb_portid(const struct netlink_callback *cb)
{
	return NETLINK_CB(cb->skb).portid;
}

const struct genl_family *ssnat_nl_cb_family(struct netlink_callback *cb)
{
	return genl_info_dump(cb)->family;
}

void ssnat_genl_dump_check_consistent(struct netlink_callback *cb, void *hdr)
{
	genl_dump_check_consistent(cb, hdr);
}

u8 ssnat_nl_cb_cmd(struct netlink_callback *cb)
{
	return genl_dumpit_info(cb)->op.cmd;
}

const struct net *ssnat_nl_cb_net(const struct netlink_callback *cb)
{
	return sock_net(cb->skb->sk);
}

/* Attribute @id of a dump's request (parsed against the family's policy), or NULL. */
struct nlattr *ssnat_nl_cb_attr(struct netlink_callback *cb, unsigned int id)
{
	const struct genl_info *info = genl_info_dump(cb);

	if (!info->attrs || id > info->family->maxattr)
		return NULL;
	return info->attrs[id];
}

unsigned int ssnat_skb_len(const struct sk_buff *skb)
{
	return skb->len;
}
