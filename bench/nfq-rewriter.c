// SPDX-License-Identifier: GPL-2.0
/*
 * nfq-rewriter: the userspace alternative to SSNAT, as the benchmark compares it.
 * Takes IPv4 UDP packets from one NFQUEUE queue, rewrites the source address and
 * port, updates the IPv4 header and UDP checksums incrementally (RFC 1624; a zero
 * UDP checksum stays zero, a computed zero is sent as 0xffff) and accepts each
 * packet with the modified payload. Anything else is accepted unchanged.
 *
 *   nfq-rewriter QUEUE ADDR PORT      e.g. nfq-rewriter 0 198.51.100.7 4000
 *
 * Prints "ready" on stdout once bound (the benchmark waits for it). On SIGUSR1 it
 * prints "rewritten N other N last_us T" on stdout and starts counting again, T being
 * the CLOCK_REALTIME (microseconds) of the last verdict: the benchmark's run ends when
 * the queue has drained, not when the generator stops. SIGTERM or SIGINT: the same
 * line, then exit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef NETLINK_NO_ENOBUFS
#define NETLINK_NO_ENOBUFS 5
#endif
#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

static volatile sig_atomic_t stop, report;
static uint32_t new_addr; /* network order */
static uint16_t new_port; /* network order */
static unsigned long rewritten, other;
static unsigned long long last_us;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		report = 1;
	else
		stop = 1;
}

static void print_report(void)
{
	printf("rewritten %lu other %lu last_us %llu\n", rewritten, other, last_us);
	fflush(stdout);
	rewritten = other = 0;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), over 16-bit words in network order. */
static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint16_t csum_replace(uint16_t check, const uint16_t *old, const uint16_t *new, int words)
{
	uint32_t s = (uint16_t)~ntohs(check);
	for (int i = 0; i < words; i++)
		s += (uint16_t)~ntohs(old[i]) + ntohs(new[i]);
	return htons((uint16_t)~csum_fold(s));
}

static int rewrite(unsigned char *p, int len)
{
	if (len < 20 || (p[0] >> 4) != 4)
		return 0;
	int ihl = (p[0] & 15) * 4;
	uint16_t frag;
	memcpy(&frag, p + 6, 2);
	if (ihl < 20 || len < ihl + 8 || p[9] != IPPROTO_UDP || (ntohs(frag) & 0x1fff))
		return 0;
	uint16_t old_words[3], new_words[3], check;
	memcpy(old_words, p + 12, 4);
	memcpy(old_words + 2, p + ihl, 2);
	memcpy(new_words, &new_addr, 4);
	memcpy(new_words + 2, &new_port, 2);

	memcpy(&check, p + 10, 2);
	check = csum_replace(check, old_words, new_words, 2);
	memcpy(p + 10, &check, 2);

	memcpy(&check, p + ihl + 6, 2);
	if (check != 0) { /* zero: no UDP checksum, keep it so */
		check = csum_replace(check, old_words, new_words, 3);
		if (check == 0)
			check = 0xffff;
		memcpy(p + ihl + 6, &check, 2);
	}
	memcpy(p + 12, &new_addr, 4);
	memcpy(p + ihl, &new_port, 2);
	return 1;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data)
{
	(void)msg;
	(void)data;
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	if (!ph)
		return -1;
	uint32_t id = ntohl(ph->packet_id);
	unsigned char *p;
	int len = nfq_get_payload(nfa, &p);
	if (len > 0 && rewrite(p, len)) {
		rewritten++;
		return nfq_set_verdict(qh, id, NF_ACCEPT, (uint32_t)len, p);
	}
	other++;
	return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s QUEUE ADDR PORT\n", argv[0]);
		return 2;
	}
	struct in_addr a;
	if (inet_pton(AF_INET, argv[2], &a) != 1) {
		fprintf(stderr, "bad address %s\n", argv[2]);
		return 2;
	}
	new_addr = a.s_addr;
	new_port = htons((uint16_t)atoi(argv[3]));

	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: recv returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	struct nfq_handle *h = nfq_open();
	if (!h) {
		perror("nfq_open");
		return 1;
	}
	struct nfq_q_handle *qh = nfq_create_queue(h, (uint16_t)atoi(argv[1]), on_packet, NULL);
	if (!qh) {
		perror("nfq_create_queue");
		return 1;
	}
	if (nfq_set_mode(qh, NFQNL_COPY_PACKET, 0xffff) < 0) {
		perror("nfq_set_mode");
		return 1;
	}
	int fd = nfq_fd(h);
	/* A full socket drops the packet in the kernel (the queue does not keep it):
	 * just go on, without the ENOBUFS error on every overflow. */
	int one = 1, rcvbuf = 4 << 20;
	setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	printf("ready\n");
	fflush(stdout);

	static char buf[0x10000 + 4096] __attribute__((aligned));
	while (!stop) {
		if (report) {
			report = 0;
			print_report();
		}
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			perror("recv");
			break;
		}
		nfq_handle_packet(h, buf, (int)n);
		/* once per message read (one packet each here): a vDSO call */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		last_us = (unsigned long long)ts.tv_sec * 1000000u + (unsigned long long)ts.tv_nsec / 1000u;
	}
	print_report();
	nfq_destroy_queue(qh);
	nfq_close(h);
	return 0;
}
