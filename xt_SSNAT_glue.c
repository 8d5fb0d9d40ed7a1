// SPDX-License-Identifier: GPL-2.0
/*
 * C side of xt_SSNAT: what Rust cannot reach through the kernel crate.
 *
 * The `kernel` crate has no bindings for <linux/netfilter/x_tables.h>, whose
 * `struct xt_target` layout depends on CONFIG_NETFILTER_XTABLES_COMPAT, and no
 * Rust helpers for the inline sk_buff accessors. Rather than patch the kernel
 * (a distribution kernel would not have the patch) or copy struct layouts into
 * Rust (they would silently go stale), this file is compiled by the kernel's
 * own C compiler against the very headers of the tree we build for, and offers
 * Rust a handful of functions with plain C types. The packet logic stays in
 * Rust (xt_SSNAT.rs, xtables.rs and ssnat-core/).
 */
#include <linux/module.h>
#include <linux/skbuff.h>
#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <net/checksum.h>

#include "xt_SSNAT_glue.h"

#ifndef SSNAT_VERSION
#error "SSNAT_VERSION must be set by Kbuild"
#endif
MODULE_VERSION(SSNAT_VERSION);

static ssnat_target_fn ssnat_target_cb;
static ssnat_check_fn ssnat_check_cb;
static ssnat_destroy_fn ssnat_destroy_cb;
static bool ssnat_registered;

static unsigned int ssnat_tg(struct sk_buff *skb,
			     const struct xt_action_param *par)
{
	return ssnat_target_cb(skb, par->targinfo, xt_family(par),
			       xt_hooknum(par));
}

/* The protocol the rule matches (-p), or 0 for any protocol or an inverted match. */
static u8 ssnat_rule_proto(const struct xt_tgchk_param *par)
{
	if (par->family == NFPROTO_IPV4) {
		const struct ipt_entry *e = par->entryinfo;

		return (e->ip.invflags & XT_INV_PROTO) ? 0 : e->ip.proto;
	} else {
		const struct ip6t_entry *e = par->entryinfo;

		if (!(e->ipv6.flags & IP6T_F_PROTO) ||
		    (e->ipv6.invflags & XT_INV_PROTO))
			return 0;
		return e->ipv6.proto;
	}
}

static int ssnat_tg_check(const struct xt_tgchk_param *par)
{
	return ssnat_check_cb(par->targinfo, par->family, par->table,
			      par->hook_mask, ssnat_rule_proto(par),
			      par->nft_compat);
}

static void ssnat_tg_destroy(const struct xt_tgdtor_param *par)
{
	ssnat_destroy_cb(par->targinfo, par->family);
}

static struct xt_target ssnat_tg_reg[] __read_mostly = {
	{
		.family		= NFPROTO_IPV4,
		.target		= ssnat_tg,
		.checkentry	= ssnat_tg_check,
		.destroy	= ssnat_tg_destroy,
		.me		= THIS_MODULE,
	},
	{
		.family		= NFPROTO_IPV6,
		.target		= ssnat_tg,
		.checkentry	= ssnat_tg_check,
		.destroy	= ssnat_tg_destroy,
		.me		= THIS_MODULE,
	},
};

/*
 * Registers the target for IPv4 and IPv6. `name` is copied; `targetsize` is the
 * exact size of the info blob (already XT_ALIGNed by the caller), `usersize`
 * how much of it is copied back to userspace.
 */
int ssnat_glue_register(const char *name, u8 revision, unsigned int targetsize,
			unsigned int usersize, ssnat_target_fn target,
			ssnat_check_fn check, ssnat_destroy_fn destroy)
{
	unsigned int i;
	int ret;

	if (ssnat_registered)
		return -EBUSY;
	if (targetsize != XT_ALIGN(targetsize) || usersize > targetsize ||
	    strlen(name) >= XT_EXTENSION_MAXNAMELEN)
		return -EINVAL;

	ssnat_target_cb = target;
	ssnat_check_cb = check;
	ssnat_destroy_cb = destroy;
	for (i = 0; i < ARRAY_SIZE(ssnat_tg_reg); i++) {
		struct xt_target *t = &ssnat_tg_reg[i];

		strscpy((char *)t->name, name, XT_EXTENSION_MAXNAMELEN);
		t->revision = revision;
		t->targetsize = targetsize;
		t->usersize = usersize;
	}
	ret = xt_register_targets(ssnat_tg_reg, ARRAY_SIZE(ssnat_tg_reg));
	if (ret == 0)
		ssnat_registered = true;
	return ret;
}

void ssnat_glue_unregister(void)
{
	if (!ssnat_registered)
		return;
	xt_unregister_targets(ssnat_tg_reg, ARRAY_SIZE(ssnat_tg_reg));
	ssnat_registered = false;
}

/* Bytes of the packet from the network header on. */
unsigned int ssnat_skb_network_len(const struct sk_buff *skb)
{
	return skb->len - skb_network_offset(skb);
}

/*
 * Copies `len` bytes starting `offset` bytes after the network header into
 * `buf`, whatever the skb's layout (linear or paged). Returns 0 or -EFAULT.
 */
int ssnat_skb_copy_network(const struct sk_buff *skb, unsigned int offset,
			   void *buf, unsigned int len)
{
	return skb_copy_bits(skb, skb_network_offset(skb) + offset, buf, len);
}

/*
 * Makes the first `len` bytes from the network header on linear and private
 * to this skb, and returns a pointer to the network header, or NULL when the
 * packet is shorter or memory is short.
 */
u8 *ssnat_skb_writable_network(struct sk_buff *skb, unsigned int len)
{
	int need = skb_network_offset(skb) + (int)len;

	if (len > ssnat_skb_network_len(skb))
		return NULL;
	if (skb_ensure_writable(skb, need > 0 ? need : 0))
		return NULL;
	return skb_network_header(skb);
}

/* skb->ip_summed: CHECKSUM_NONE 0, _UNNECESSARY 1, _COMPLETE 2, _PARTIAL 3. */
u8 ssnat_skb_ip_summed(const struct sk_buff *skb)
{
	return skb->ip_summed;
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
