// SPDX-License-Identifier: GPL-2.0
/*
 * udp-blast: a real sender for the forwarding benchmark. Sends COUNT UDP datagrams
 * of SIZE payload bytes from SRC:SPORT to DST:DPORT as fast as it can (sendmmsg, 64
 * at a time; with FLOWS, from FLOWS sockets on ports SPORT, SPORT+1, ..., a batch
 * each in turn) and prints the guest time it took, read from CLOCK_MONOTONIC (under
 * QEMU -icount shift=0: guest instructions). Unlike pktgen's, each skb is the
 * socket's own, so the router sees it unshared.
 *
 *   udp-blast SRC SPORT DST DPORT COUNT SIZE [FLOWS]
 *
 * Output: "sent N elapsed_ns T start_us S end_us E", S and E read from CLOCK_REALTIME
 * (microseconds), for runs whose end is decided elsewhere (a userspace rewriter
 * still draining its queue).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_FLOWS 1024

static int addr(const char *a, const char *port, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)atoi(port));
	return inet_pton(AF_INET, a, &sin->sin_addr) == 1 ? 0 : -1;
}

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 7 && argc != 8) {
		fprintf(stderr, "usage: %s SRC SPORT DST DPORT COUNT SIZE [FLOWS]\n", argv[0]);
		return 2;
	}
	struct sockaddr_in src, dst;
	if (addr(argv[1], argv[2], &src) || addr(argv[3], argv[4], &dst)) {
		fprintf(stderr, "bad address\n");
		return 2;
	}
	long count = atol(argv[5]);
	size_t size = (size_t)atol(argv[6]);
	int flows = argc == 8 ? atoi(argv[7]) : 1;
	if (count <= 0 || size > 65507 || flows < 1 || flows > MAX_FLOWS) {
		fprintf(stderr, "bad count, size or flows\n");
		return 2;
	}
	static int socks[MAX_FLOWS];
	uint16_t sport = ntohs(src.sin_port);
	for (int f = 0; f < flows; f++) {
		src.sin_port = htons((uint16_t)(sport + f));
		socks[f] = socket(AF_INET, SOCK_DGRAM, 0);
		if (socks[f] < 0 || bind(socks[f], (struct sockaddr *)&src, sizeof(src)) ||
		    connect(socks[f], (struct sockaddr *)&dst, sizeof(dst))) {
			perror("socket");
			return 1;
		}
	}
	char *data = calloc(1, size ? size : 1);
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = data;
		iov[i].iov_len = size;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	long sent = 0;
	int f = 0;
	uint64_t r0 = now_ns(CLOCK_REALTIME), t0 = now_ns(CLOCK_MONOTONIC);
	while (sent < count) {
		unsigned int n = count - sent < BATCH ? (unsigned int)(count - sent) : BATCH;
		int r = sendmmsg(socks[f], msgs, n, 0);
		if (r < 0) {
			perror("sendmmsg");
			return 1;
		}
		sent += r;
		f = (f + 1) % flows;
	}
	uint64_t t1 = now_ns(CLOCK_MONOTONIC), r1 = now_ns(CLOCK_REALTIME);
	printf("sent %ld elapsed_ns %llu start_us %llu end_us %llu\n", sent, (unsigned long long)(t1 - t0),
	       (unsigned long long)(r0 / 1000), (unsigned long long)(r1 / 1000));
	return 0;
}
