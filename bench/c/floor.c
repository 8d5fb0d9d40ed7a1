// SPDX-License-Identifier: GPL-2.0
/*
 * The floor of `make bench`: the same IPv4/UDP rewrite as SSNAT's fixed mapping,
 * written the way netfilter's C code writes it (nf_nat_proto.c: csum_replace4 on the
 * IP header, inet_proto_csum_replace4 for the pseudo-header and _replace2 for the port
 * on the UDP checksum, a zero UDP checksum left zero, CSUM_MANGLED_0), with the
 * header checks a target must make itself, compiled with gcc -O2. The checksum
 * helpers are those of include/net/checksum.h and net/core/utils.c, for a packet
 * without CHECKSUM_PARTIAL.
 */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

typedef uint32_t wsum;

static inline wsum csum_add(wsum csum, wsum addend)
{
	uint32_t res = csum + addend;

	return res + (res < addend);
}

static inline wsum csum_sub(wsum csum, wsum addend)
{
	return csum_add(csum, ~addend);
}

static inline uint16_t csum_fold(wsum csum)
{
	uint32_t sum = csum;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* include/net/checksum.h: csum_replace4() */
static inline void csum_replace4(uint16_t *sum, uint32_t from, uint32_t to)
{
	wsum tmp = csum_sub(~(wsum)*sum, from);

	*sum = csum_fold(csum_add(tmp, to));
}

/* net/core/utils.c: inet_proto_csum_replace4() without CHECKSUM_PARTIAL/COMPLETE */
static inline void inet_proto_csum_replace4(uint16_t *sum, uint32_t from, uint32_t to)
{
	csum_replace4(sum, from, to);
}

/* include/net/checksum.h: inet_proto_csum_replace2() */
static inline void inet_proto_csum_replace2(uint16_t *sum, uint16_t from, uint16_t to)
{
	inet_proto_csum_replace4(sum, from, to);
}

struct iphdr {
	uint8_t ihl_version;
	uint8_t tos;
	uint16_t tot_len;
	uint16_t id;
	uint16_t frag_off;
	uint8_t ttl;
	uint8_t protocol;
	uint16_t check;
	uint32_t saddr;
	uint32_t daddr;
} __attribute__((packed, may_alias));

struct udphdr {
	uint16_t source;
	uint16_t dest;
	uint16_t len;
	uint16_t check;
} __attribute__((packed, may_alias));

/*
 * Rewrites the source of an IPv4/UDP packet of `len` bytes to `addr`:`port` (both in
 * network byte order). Returns 1 if it did, 0 if the packet is not one it handles.
 */
int ssnat_c_floor_udp4(uint8_t *pkt, size_t len, uint32_t addr, uint16_t port)
{
	struct iphdr *iph = (struct iphdr *)pkt;
	struct udphdr *uh;
	unsigned int ihl;

	if (len < sizeof(*iph) || (iph->ihl_version >> 4) != 4)
		return 0;
	ihl = (iph->ihl_version & 0x0f) * 4;
	if (ihl < sizeof(*iph) || len < ihl + sizeof(*uh) ||
	    (iph->frag_off & __builtin_bswap16(0x3fff)) || iph->protocol != 17)
		return 0;
	uh = (struct udphdr *)(pkt + ihl);
	if (iph->saddr == addr && uh->source == port)
		return 0;

	if (uh->check) {
		inet_proto_csum_replace4(&uh->check, iph->saddr, addr);
		inet_proto_csum_replace2(&uh->check, uh->source, port);
		if (!uh->check)
			uh->check = 0xffff; /* CSUM_MANGLED_0 */
	}
	uh->source = port;
	csum_replace4(&iph->check, iph->saddr, addr);
	iph->saddr = addr;
	return 1;
}
