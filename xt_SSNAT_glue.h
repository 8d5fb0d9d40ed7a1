/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The interface between xt_SSNAT's Rust crate and its C glue (xt_SSNAT_glue.c).
 * Rust declares the same functions in xtables.rs; only plain C types cross.
 */
#ifndef _XT_SSNAT_GLUE_H
#define _XT_SSNAT_GLUE_H

#include <linux/types.h>

struct sk_buff;

typedef unsigned int (*ssnat_target_fn)(struct sk_buff *skb, const void *info,
					u8 family, u8 hooknum);
typedef int (*ssnat_check_fn)(void *info, u8 family, const char *table,
			      unsigned int hook_mask, u8 proto, bool nft_compat);
typedef void (*ssnat_destroy_fn)(void *info, u8 family);

int ssnat_glue_register(const char *name, u8 revision, unsigned int targetsize,
			unsigned int usersize, ssnat_target_fn target,
			ssnat_check_fn check, ssnat_destroy_fn destroy);
void ssnat_glue_unregister(void);

unsigned int ssnat_skb_network_len(const struct sk_buff *skb);
int ssnat_skb_copy_network(const struct sk_buff *skb, unsigned int offset,
			   void *buf, unsigned int len);
u8 *ssnat_skb_writable_network(struct sk_buff *skb, unsigned int len);
u8 ssnat_skb_ip_summed(const struct sk_buff *skb);
void ssnat_skb_csum_adjust(struct sk_buff *skb, u16 l3, u16 l4);

#endif
