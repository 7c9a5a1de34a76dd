/*
 * client_listen.c -- one connection taken, then piped.  See client_listen.h.
 *
 * The listening sockets (one per address of HOST: localhost is 127.0.0.1
 * and ::1) are closed as soon as a connection is taken, as nc -l does
 * without -k: a second client is refused instead of left waiting.  For
 * many connections, or a protocol, there is netkit serve.
 */
#include "connect/client_listen.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/log.h"
#include "connect/client_stream.h"

#define LISTEN_MAX 8 /* addresses of one HOST */

/* Bind and listen on every address of host:port; the descriptors in fds.
 * Returns how many, or -1 with err. */
static int
listen_open(const struct nk__settings *s, const char *host, int port, int *fds,
            struct nk_err *err)
{
    struct addrinfo *res, *ai;
    char where[NK_ADDRSTRLEN];
    int n = 0, saved = 0, one = 1;

    if (nk__addr_resolve(host, port, s->cli.family, SOCK_STREAM, 1, &res, err) <
        0)
        return -1;
    for (ai = res; ai != NULL && n < LISTEN_MAX; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);

        nk__addr_format(ai->ai_addr, where, sizeof(where));
        if (fd < 0) {
            saved = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1) < 0 ||
            getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
            saved = errno;
            close(fd);
            continue;
        }
        /* Port 0: the others take the port the first one got. */
        if (port == 0)
            port = nk__addr_port((struct sockaddr *)&ss);
        nk__addr_format((struct sockaddr *)&ss, where, sizeof(where));
        nk__log(NK_LOG_INFO, "Listen on %s (tcp, --listen)", where);
        fds[n++] = fd;
    }
    freeaddrinfo(res);
    if (n == 0)
        return nk__err_run(err, "listen on %s: %s", where, strerror(saved));
    return n;
}

/* Wait for the first connection on any of fds; its descriptor, non-
 * blocking, and its address in peer.  -1 with err. */
static int
listen_accept(const int *fds, int n, char *peer, size_t size,
              struct nk_err *err)
{
    struct pollfd p[LISTEN_MAX];

    for (int i = 0; i < n; i++)
        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    for (;;) {
        int rc = poll(p, (nfds_t)n, -1);

        if (rc < 0 && errno != EINTR)
            return nk__err_run(err, "poll: %s", strerror(errno));
        for (int i = 0; rc > 0 && i < n; i++) {
            struct sockaddr_storage ss;
            socklen_t len = sizeof(ss);
            int fd;

            if (p[i].revents == 0)
                continue;
            fd = accept4(fds[i], (struct sockaddr *)&ss, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
                continue; /* gone before it was taken: wait on */
            nk__addr_format((struct sockaddr *)&ss, peer, size);
            return fd;
        }
    }
}

int
nk__client_listen(const struct nk__settings *s, struct nk_err *err)
{
    char host[256] = "localhost", peer[NK_ADDRSTRLEN];
    struct nk__client_pre pre = {.crlf = s->crlf};
    int fds[LISTEN_MAX], n, fd, port, rc;
    const char *why;

    if (strchr(s->listen, ':') == NULL) {
        port = nk__addr_parse_port(s->listen, 1);
        if (port < 0)
            return nk__err_set(err,
                               "--listen %s: expected [HOST:]PORT, a "
                               "port 0..65535",
                               s->listen);
    } else if ((why = nk__addr_split(s->listen, host, sizeof(host), &port)) !=
               NULL) {
        return nk__err_set(err, "--listen %s: %s", s->listen, why);
    }
    n = listen_open(s, host, port, fds, err);
    if (n < 0)
        return -1;
    fd = listen_accept(fds, n, peer, sizeof(peer), err);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    if (fd < 0)
        return -1;
    nk__log(NK_LOG_INFO, "Connection from %s", peer);
    rc =
        nk__client_stream(fd, peer, s->timeout_set ? s->timeout : 0, &pre, err);
    close(fd);
    return rc;
}
