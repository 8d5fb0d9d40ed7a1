// SPDX-License-Identifier: GPL-2.0
/*
 * ssnat-pkt: what the QEMU tests call instead of `python3 ssnat_pkt.py ARGS...`.
 *
 * Under TCG a Python start costs seconds, and a test runs the packet tool dozens of
 * times. So one `ssnat_pkt.py serve` per guest keeps Python started, and this client
 * hands it a command: its argv, its standard streams (SCM_RIGHTS) and, through
 * SO_PEERCRED, its pid, whose mount and network namespaces, CPU affinity and working
 * directory the server's child takes before it runs the command. The client waits for
 * the command's exit status and exits with it; if the client dies, the server kills
 * the command. With no server listening at $SSNAT_PKT_SOCK, it runs the script itself
 * ($SSNAT_PKT_SCRIPT), so a test behaves the same either way, only slower.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void run_script(char **argv)
{
	const char *script = getenv("SSNAT_PKT_SCRIPT");
	char **args;
	int argc = 0, i;

	if (!script) {
		fprintf(stderr, "ssnat-pkt: no server and SSNAT_PKT_SCRIPT unset\n");
		exit(1);
	}
	while (argv[argc])
		argc++;
	args = calloc(argc + 2, sizeof(*args));
	if (!args)
		exit(1);
	args[0] = "python3";
	args[1] = (char *)script;
	for (i = 1; i < argc; i++)
		args[i + 1] = argv[i];
	execv("/usr/bin/python3", args);
	fprintf(stderr, "ssnat-pkt: exec /usr/bin/python3: %s\n", strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	const char *path = getenv("SSNAT_PKT_SOCK");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char cbuf[CMSG_SPACE(3 * sizeof(int))] = { 0 };
	struct msghdr msg = { 0 };
	struct cmsghdr *cmsg;
	struct iovec iov;
	char *buf;
	size_t len = 0, off = 0;
	int fds[3], sock, i, code;
	ssize_t n;

	if (!path || strlen(path) >= sizeof(sun.sun_path))
		run_script(argv);
	strcpy(sun.sun_path, path);
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		/* No socket yet: the server is still starting. A socket nobody listens on: it died. */
		if (errno != ENOENT)
			fprintf(stderr, "ssnat-pkt: %s: %s (running the script itself)\n", path, strerror(errno));
		run_script(argv);
	}

	for (i = 1; i < argc; i++)
		len += strlen(argv[i]) + 1;
	buf = malloc(len + 1);
	if (!buf)
		return 1;
	for (i = 1; i < argc; i++) {
		size_t l = strlen(argv[i]) + 1;

		memcpy(buf + off, argv[i], l);
		off += l;
	}
	for (i = 0; i < 3; i++) {
		/* A closed standard stream goes as /dev/null, as for a started program. */
		fds[i] = fcntl(i, F_GETFD) < 0 ? open("/dev/null", O_RDWR) : i;
		if (fds[i] < 0)
			return 1;
	}
	iov.iov_base = buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
	if (sendmsg(sock, &msg, 0) < 0) {
		fprintf(stderr, "ssnat-pkt: sendmsg: %s\n", strerror(errno));
		return 1;
	}
	do
		n = recv(sock, &code, sizeof(code), 0);
	while (n < 0 && errno == EINTR);
	if (n != sizeof(code)) {
		fprintf(stderr, "ssnat-pkt: the server went away before the command ended\n");
		return 1;
	}
	return code;
}
