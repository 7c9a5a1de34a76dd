/* activation.c -- systemd socket activation.  See activation.h. */
#include "serve/activation.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netkit/plugin.h>

#include "base/addr.h"
#include "base/alloc.h"
#include "base/log.h"

/* The descriptors of this process, from nk__activation_init. */
static struct nk__activation activation;

/* A count or pid: decimal digits only, no sign, no leading zero. */
static int
activation_number(const char *s, long *out)
{
    char *end;

    if (s == NULL || *s < '1' || *s > '9')
        return -1;
    errno = 0;
    *out = strtol(s, &end, 10);
    return errno != 0 || *end != '\0' ? -1 : 0;
}

int
nk__activation_parse(const char *pid, const char *fds, const char *names,
                     pid_t self, struct nk__activation *out, struct nk_err *err)
{
    const char *s = names;
    size_t count = 1;
    long p, n;

    memset(out, 0, sizeof(*out));
    if (pid == NULL || fds == NULL)
        return 0;
    if (activation_number(pid, &p) < 0)
        return nk__err_set(err, "LISTEN_PID: invalid pid '%s'", pid);
    if (p != (long)self)
        return 0; /* meant for another process */
    if (strcmp(fds, "0") == 0)
        return 0;
    if (activation_number(fds, &n) < 0 || n > 4096)
        return nk__err_set(err, "LISTEN_FDS: invalid count '%s'", fds);
    for (const char *c = names; c != NULL && *c != '\0'; c++)
        count += *c == ':';
    if (names != NULL && count != (size_t)n)
        return nk__err_set(err,
                           "LISTEN_FDNAMES names %zu descriptor%s but "
                           "LISTEN_FDS is %ld",
                           count, count == 1 ? "" : "s", n);
    out->fds = nk__calloc((size_t)n, sizeof(*out->fds));
    if (out->fds == NULL)
        return nk__err_run(err, "out of memory");
    out->n = (size_t)n;
    for (size_t i = 0; i < out->n; i++) {
        size_t len = s != NULL ? strcspn(s, ":") : 0;

        out->fds[i].fd = NK_ACTIVATION_FIRST_FD + (int)i;
        out->fds[i].name =
            s != NULL ? nk__memdup(s, len) : nk__strdup("unknown");
        if (out->fds[i].name == NULL) {
            nk__activation_free(out);
            return nk__err_run(err, "out of memory");
        }
        if (s != NULL)
            s += len + (s[len] == ':');
    }
    return 0;
}

void
nk__activation_free(struct nk__activation *a)
{
    for (size_t i = 0; i < a->n; i++)
        nk__free(a->fds[i].name);
    nk__free(a->fds);
    a->fds = NULL;
    a->n = 0;
}

int
nk__activation_init(struct nk_err *err)
{
    int rc = nk__activation_parse(getenv("LISTEN_PID"), getenv("LISTEN_FDS"),
                                  getenv("LISTEN_FDNAMES"), getpid(),
                                  &activation, err);

    /* Neither plugins nor anything they start should take these. */
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    for (size_t i = 0; rc == 0 && i < activation.n; i++) {
        int fd = activation.fds[i].fd, fl = fcntl(fd, F_GETFD);
        if (fl < 0) {
            rc = nk__err_run(err,
                             "LISTEN_FDS: descriptor %d (%s) is not open: %s",
                             fd, activation.fds[i].name, strerror(errno));
            break;
        }
        fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
    }
    if (rc < 0)
        nk__activation_free(&activation);
    return rc;
}

static int
activation_sockopt(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);

    return getsockopt(fd, level, name, &v, &len) < 0 ? -1 : v;
}

/* Is descriptor fd what listener lc serves?  Fills a with its address. */
static int
activation_check(const struct nk__listen_conf *lc,
                 const struct nk__activation_fd *af, struct nk__bindaddr *a,
                 struct nk_err *err)
{
    int udp = lc->transport == NK_TRANSPORT_UDP;
    int type = activation_sockopt(af->fd, SOL_SOCKET, SO_TYPE);
    int domain = activation_sockopt(af->fd, SOL_SOCKET, SO_DOMAIN);
    const char *want = udp ? "a datagram socket (ListenDatagram=)"
                           : "a listening stream socket (ListenStream=)";

    memset(a, 0, sizeof(*a));
    a->len = sizeof(a->ss);
    if (type < 0 || domain < 0 ||
        getsockname(af->fd, (struct sockaddr *)&a->ss, &a->len) < 0)
        return nk__err_at(err, lc->file, lc->line,
                          "[listen.%s]: inherited descriptor %d is not a "
                          "socket",
                          lc->name, af->fd);
    if (domain != AF_INET && domain != AF_INET6 && domain != AF_UNIX)
        return nk__err_at(err, lc->file, lc->line,
                          "[listen.%s]: inherited descriptor %d is not an "
                          "IPv4, IPv6 or unix socket",
                          lc->name, af->fd);
    if (type != (udp ? SOCK_DGRAM : SOCK_STREAM) ||
        (!udp && activation_sockopt(af->fd, SOL_SOCKET, SO_ACCEPTCONN) != 1))
        return nk__err_at(err, lc->file, lc->line,
                          "[listen.%s]: inherited descriptor %d is not %s, "
                          "as transport = %s needs",
                          lc->name, af->fd, want, udp ? "udp" : "tcp");
    /* A unix socket is systemd's file: netkit leaves it to systemd. */
    if (lc->family != AF_UNSPEC && lc->family != domain && domain != AF_UNIX)
        return nk__err_at(err, lc->file, lc->line,
                          "[listen.%s]: inherited descriptor %d is %s, but "
                          "family = %s",
                          lc->name, af->fd, domain == AF_INET ? "IPv4" : "IPv6",
                          lc->family == AF_INET ? "inet" : "inet6");
    return 0;
}

/* A UDP socket on a wildcard address answers from each datagram's
 * destination (dgram.c): ask for it, as listen.c does when it binds. */
static int
activation_pktinfo(int fd, const struct nk__bindaddr *a)
{
    int one = 1;

    if (!nk__listen_is_wildcard(a))
        return 0;
    if (a->ss.ss_family == AF_INET)
        return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
}

int
nk__activation_adopt(const struct nk__listen_conf *lc, int nworkers,
                     struct nk__bindaddr **addrs, size_t *naddrs, int **fds,
                     struct nk_err *err)
{
    struct nk__bindaddr *a = NULL;
    int *f = NULL;
    size_t n = 0, k = 0, nw = (size_t)nworkers;

    for (size_t i = 0; i < activation.n; i++)
        n += strcmp(activation.fds[i].name, lc->name) == 0;
    if (n == 0)
        return 0;
    a = nk__calloc(n, sizeof(*a));
    f = nk__malloc(n * nw * sizeof(*f));
    if (a == NULL || f == NULL) {
        nk__free(a);
        nk__free(f);
        return nk__err_run(err, "out of memory");
    }
    memset(f, -1, n * nw * sizeof(*f));
    for (size_t i = 0; i < activation.n; i++) {
        struct nk__activation_fd *af = &activation.fds[i];
        int fd = af->fd;

        if (strcmp(af->name, lc->name) != 0)
            continue;
        if (activation_check(lc, af, &a[k], err) < 0)
            goto fail;
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
            (lc->transport == NK_TRANSPORT_UDP &&
             activation_pktinfo(fd, &a[k]) < 0)) {
            nk__err_run(err, "[listen.%s]: inherited descriptor %d: %s",
                        lc->name, fd, strerror(errno));
            goto fail;
        }
        af->used = 1;
        f[k * nw] = fd;
        /* Every worker watches the same socket: dup it for each. */
        for (size_t w = 1; w < nw; w++)
            if ((f[k * nw + w] = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
                nk__err_run(err, "dup: %s", strerror(errno));
                goto fail;
            }
        nk__log(NK_LOG_DEBUG, "[listen.%s]: using inherited descriptor %d",
                lc->name, fd);
        k++;
    }
    nk__free(*addrs);
    nk__free(*fds);
    *addrs = a;
    *naddrs = n;
    *fds = f;
    return 1;
fail:
    /* The inherited ones stay open (closed at exit); dups go. */
    for (size_t i = 0; i < n; i++)
        for (size_t w = 1; w < nw; w++)
            if (f[i * nw + w] >= 0)
                close(f[i * nw + w]);
    nk__free(a);
    nk__free(f);
    return -1;
}

void
nk__activation_done(void)
{
    for (size_t i = 0; i < activation.n; i++) {
        if (activation.fds[i].used)
            continue;
        nk__log(NK_LOG_WARN,
                "Inherited descriptor %d is named '%s', which no "
                "[listen.NAME] section is: closing it",
                activation.fds[i].fd, activation.fds[i].name);
        close(activation.fds[i].fd);
    }
    nk__activation_free(&activation);
}
