/* listen.c -- binding a listener's addresses and accepting.  See listen.h. */
#include "serve/listen.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/alloc.h"
#include "base/unixaddr.h"
#include "serve/access.h"
#include "serve/conn.h"
#include "base/log.h"
#include "serve/server.h"

#define LISTEN_BACKLOG            4096
#define LISTEN_ACCEPTS_PER_WAKEUP 64

/* Add the addresses of one host, skipping duplicates. */
static int
listen_add_host(const struct nk__listen_conf *lc, const char *host,
                int implicit, struct nk__bindaddr **out, size_t *n,
                struct nk_err *err)
{
    int socktype = lc->transport == NK_TRANSPORT_UDP ? SOCK_DGRAM : SOCK_STREAM;
    struct addrinfo *res, *ai;

    if (nk__unix_is(host)) {
        struct nk__bindaddr ba = {0};
        const char *why = nk__unix_parse(host, &ba.ss, &ba.len);
        struct nk__bindaddr *a;

        if (why != NULL && lc->file != NULL)
            return nk__err_at(err, lc->file, lc->line,
                              "[listen.%s] host %s: %s", lc->name, host, why);
        if (why != NULL)
            return nk__err_set(err, "-H %s: %s", host, why);
        for (size_t i = 0; i < *n; i++)
            if ((*out)[i].len == ba.len &&
                memcmp(&(*out)[i].ss, &ba.ss, ba.len) == 0)
                return 0;
        if ((a = nk__realloc(*out, (*n + 1) * sizeof(**out))) == NULL)
            return nk__err_set(err, "out of memory");
        *out = a;
        a[(*n)++] = ba;
        return 0;
    }
    if (nk__addr_resolve(host, lc->port, lc->family, socktype, 1, &res, err) <
        0) {
        if (implicit)
            return 0; /* this machine lacks the family: skip it */
        /* Say where the host was given: the section, or -H. */
        if (lc->file != NULL)
            nk__err_prefix(err, "[listen.%s] host: ", lc->name);
        else
            nk__err_prefix(err, "-H %s: ", host);
        err->file = lc->file;
        err->line = lc->line;
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        struct nk__bindaddr *a;
        size_t i;

        for (i = 0; i < *n; i++)
            if ((*out)[i].len == ai->ai_addrlen &&
                memcmp(&(*out)[i].ss, ai->ai_addr, ai->ai_addrlen) == 0)
                break;
        if (i < *n)
            continue;
        a = nk__realloc(*out, (*n + 1) * sizeof(**out));
        if (a == NULL) {
            freeaddrinfo(res);
            return nk__err_set(err, "out of memory");
        }
        *out = a;
        memset(&a[*n], 0, sizeof(a[*n]));
        memcpy(&a[*n].ss, ai->ai_addr, ai->ai_addrlen);
        a[*n].len = ai->ai_addrlen;
        a[*n].implicit = implicit;
        (*n)++;
    }
    freeaddrinfo(res);
    return 0;
}

int
nk__listen_resolve(const struct nk__listen_conf *lc, struct nk__bindaddr **out,
                   size_t *n, struct nk_err *err)
{
    static const char *const localhost[] = {"127.0.0.1", "::1"};
    static const int localfam[] = {AF_INET, AF_INET6};

    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < lc->hosts.n; i++)
        if (listen_add_host(lc, lc->hosts.items[i], 0, out, n, err) < 0)
            goto fail;
    for (size_t i = 0; lc->hosts.n == 0 && i < 2; i++) {
        if (lc->family != AF_UNSPEC && lc->family != localfam[i])
            continue;
        if (listen_add_host(lc, localhost[i], 1, out, n, err) < 0)
            goto fail;
    }
    if (*n == 0) {
        nk__err_run(err, "[listen.%s]: no address to listen on", lc->name);
        goto fail;
    }
    return 0;
fail:
    nk__free(*out);
    *out = NULL;
    return -1;
}

/* Append NAME=VALUE unless the user set NAME. */
static int
listen_default_opt(const struct nk__listen_conf *lc, const char *name,
                   const char *value, struct nk__sockopt_val *opts, size_t *n)
{
    char why[200];

    if (nk__kvlist_find(&lc->sockopts, name) != NULL)
        return 0;
    if (nk__sockopt_parse(name, value, lc->transport, &opts[*n], why,
                          sizeof(why)) < 0)
        return 0; /* not on this system: a default is only a default */
    (*n)++;
    return 0;
}

int
nk__listen_sockopts(const struct nk__listen_conf *lc,
                    struct nk__sockopt_val **opts, size_t *nopts,
                    struct nk__sockopt_val **accept, size_t *naccept,
                    struct nk_err *err)
{
    size_t cap = lc->sockopts.n + 2, n = 0, na = 0;
    struct nk__sockopt_val *o = nk__calloc(cap, sizeof(*o));
    struct nk__sockopt_val *a = nk__calloc(cap, sizeof(*a));
    char why[300];

    if (o == NULL || a == NULL) {
        nk__free(o);
        nk__free(a);
        return nk__err_set(err, "out of memory");
    }
    if (lc->transport == NK_TRANSPORT_TCP) {
        listen_default_opt(lc, "SO_REUSEADDR", "1", o, &n);
        listen_default_opt(lc, "TCP_NODELAY", "1", o, &n);
    }
    for (size_t i = 0; i < lc->sockopts.n; i++) {
        const struct nk__kv *kv = &lc->sockopts.items[i];
        /* -o comes after the file's sockopt.NAME: only the last counts. */
        if (nk__kvlist_find(&lc->sockopts, kv->key) != kv)
            continue;
        if (nk__sockopt_parse(kv->key, kv->val, lc->transport, &o[n], why,
                              sizeof(why)) < 0) {
            nk__free(o);
            nk__free(a);
            if (kv->file == NULL)
                return nk__err_set(err, "-o %s=%s: %s", kv->key, kv->val, why);
            return nk__err_at(err, kv->file, kv->line, "%s", why);
        }
        n++;
    }
    for (size_t i = 0; i < n; i++)
        if (o[i].def->applies & NK_SO_ACCEPTED)
            a[na++] = o[i];
    *opts = o;
    *nopts = n;
    *accept = a;
    *naccept = na;
    return 0;
}

int
nk__listen_is_wildcard(const struct nk__bindaddr *a)
{
    const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;

    if (a->ss.ss_family == AF_INET)
        return in->sin_addr.s_addr == htonl(INADDR_ANY);
    return a->ss.ss_family == AF_INET6 &&
           IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
}

/* A listener on :: takes IPv4 too, unless it set IPV6_V6ONLY. */
static int
listen_dual_stack(const struct nk__listen_conf *lc,
                  const struct nk__bindaddr *a)
{
    return a->ss.ss_family == AF_INET6 && nk__listen_is_wildcard(a) &&
           nk__kvlist_find(&lc->sockopts, "IPV6_V6ONLY") == NULL;
}

int
nk__listen_overlap(const struct nk__listen_conf *la,
                   const struct nk__bindaddr *a,
                   const struct nk__listen_conf *lb,
                   const struct nk__bindaddr *b)
{
    /* A unix address has no port: the same name is the same socket,
     * whatever the transport (one file, one name). */
    if (a->ss.ss_family == AF_UNIX || b->ss.ss_family == AF_UNIX)
        return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
    if (la->transport != lb->transport || la->port == 0 || la->port != lb->port)
        return 0;
    if (a->ss.ss_family != b->ss.ss_family)
        return (a->ss.ss_family == AF_INET && listen_dual_stack(lb, b)) ||
               (b->ss.ss_family == AF_INET && listen_dual_stack(la, a));
    if (nk__listen_is_wildcard(a) || nk__listen_is_wildcard(b))
        return 1;
    return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

/* UDP on a wildcard address learns each datagram's destination, to answer
 * from it (dgram.c). */
static int
listen_want_pktinfo(int fd, int family)
{
    int one = 1;

    if (family == AF_INET)
        return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
}

/* Set every option that means something on this socket's family.  A
 * refusal names where the option was asked for: file:line, or -o. */
static int
listen_apply_opts(const struct nk__listen_conf *lc, int fd, int family,
                  const char *where, const struct nk__sockopt_val *opts,
                  size_t nopts, struct nk_err *err)
{
    const struct nk__sockopt_def *failed;
    const struct nk__kv *kv;
    char why[300];

    if (nk__sockopt_apply_all(fd, family, opts, nopts, &failed, why,
                              sizeof(why)) == 0)
        return 0;
    kv = nk__kvlist_find(&lc->sockopts, failed->name);
    if (kv != NULL && kv->file != NULL) {
        nk__err_at(err, kv->file, kv->line, "%s (on %s)", why, where);
        err->status = 1; /* the kernel said no: a run-time failure */
        return -1;
    }
    if (kv != NULL)
        return nk__err_run(err, "-o %s=%s: %s (on %s)", kv->key, kv->val, why,
                           where);
    return nk__err_run(err, "%s (on %s)", why, where);
}

/* -v: log each option as the kernel reports it, on the bound address. */
static void
listen_log_opts(int fd, int family, const struct nk__sockopt_val *opts,
                size_t nopts)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char where[NK_ADDRSTRLEN];

    memset(&ss, 0, sizeof(ss)); /* an abstract name ends at len */
    if (!nk__log_enabled(NK_LOG_DEBUG) ||
        getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return;
    nk__addr_format((struct sockaddr *)&ss, where, sizeof(where));
    nk__sockopt_log_all(fd, family, opts, nopts, where);
}

/* A unix socket file in the way of bind: left by a process that died, it
 * is removed, as systemd and nginx do; in use, or not a socket, it is an
 * error. */
static int
listen_unix_prepare(const struct nk__listen_conf *lc,
                    const struct nk__bindaddr *a, struct nk_err *err)
{
    const char *path = nk__unix_path((const struct sockaddr *)&a->ss);
    const char *why;

    if (path == NULL)
        return 0; /* abstract: the kernel says if it is taken */
    why = nk__unix_clear_stale(
        path, lc->transport == NK_TRANSPORT_UDP ? SOCK_DGRAM : SOCK_STREAM);
    if (why != NULL)
        return nk__err_run(err, "[listen.%s] unix:%s: %s", lc->name, path, why);
    return 0;
}

/* unix_mode and unix_owner on the socket file just bound; the file is
 * recorded to be removed at exit. */
static int
listen_unix_own(const struct nk__listen_conf *lc, const struct nk__bindaddr *a,
                const char *where, struct nk_err *err)
{
    const char *path = nk__unix_path((const struct sockaddr *)&a->ss);

    if (path == NULL)
        return 0;
    nk__unix_created(path);
    if (lc->unix_mode != 0 && chmod(path, (mode_t)lc->unix_mode) < 0)
        return nk__err_run(err, "[listen.%s] chmod %s: %s", lc->name, where,
                           strerror(errno));
    if ((lc->unix_uid >= 0 || lc->unix_gid >= 0) &&
        chown(path, (uid_t)lc->unix_uid, (gid_t)lc->unix_gid) < 0)
        return nk__err_run(err, "[listen.%s] chown %s: %s", lc->name, where,
                           strerror(errno));
    return 0;
}

int
nk__listen_socket(const struct nk__listen_conf *lc,
                  const struct nk__bindaddr *a,
                  const struct nk__sockopt_val *opts, size_t nopts,
                  int reuseport, int log_opts, struct nk_err *err)
{
    int udp = lc->transport == NK_TRANSPORT_UDP;
    int family = a->ss.ss_family, one = 1, zero = 0, saved;
    char where[NK_ADDRSTRLEN];
    int fd;

    nk__addr_format((const struct sockaddr *)&a->ss, where, sizeof(where));
    if (family != AF_UNIX &&
        nk__addr_port((const struct sockaddr *)&a->ss) == 0)
        *strrchr(where, ':') = '\0'; /* not "127.0.0.1:0": no port yet */
    fd = socket(family,
                (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0)
        return nk__err_run(err, "socket %s: %s", where, strerror(errno));
    if (family == AF_INET6 && nk__listen_is_wildcard(a) &&
        nk__kvlist_find(&lc->sockopts, "IPV6_V6ONLY") == NULL)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    if (reuseport && family != AF_UNIX &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
        nk__err_run(err, "setsockopt SO_REUSEPORT on %s: %s", where,
                    strerror(errno));
        goto fail;
    }
    if (listen_apply_opts(lc, fd, family, where, opts, nopts, err) < 0)
        goto fail;
    if (udp && nk__listen_is_wildcard(a) &&
        listen_want_pktinfo(fd, family) < 0) {
        nk__err_run(err, "setsockopt PKTINFO on %s: %s", where,
                    strerror(errno));
        goto fail;
    }
    if (family == AF_UNIX && listen_unix_prepare(lc, a, err) < 0)
        goto fail;
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
        nk__err_run(err, "bind %s: %s", where, strerror(errno));
        goto fail;
    }
    /* Mode and owner before listen(2): no client can connect yet. */
    if (family == AF_UNIX && listen_unix_own(lc, a, where, err) < 0)
        goto fail;
    if (!udp && listen(fd, LISTEN_BACKLOG) < 0) {
        nk__err_run(err, "listen %s: %s", where, strerror(errno));
        goto fail;
    }
    if (log_opts)
        listen_log_opts(fd, family, opts, nopts);
    return fd;
fail:
    saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

#define LISTEN_PAUSE_MS 100

/* Log a shortage of descriptors at most once a second per worker. */
static void
listen_warn_fds(struct nk__listener *ls, const char *what)
{
    struct nk__server *srv = ls->srv;

    if (!nk__log_due(&srv->fd_warned, srv->loop.now))
        return;
    nk__log(NK_LOG_WARN, "Out of file descriptors: %s on [listen.%s]", what,
            ls->conf->name);
}

/*
 * The descriptor table is the process's, shared by every worker.  Shedding
 * frees the worker's spare descriptor for one accept and takes it back; if
 * another worker's accept ran in between, it would take the freed number
 * and this worker would lose its spare for good (then it could only pause,
 * again and again, leaving its accept queue unserved).  So every accept
 * holds this lock shared, and a shed holds it alone: no descriptor is
 * created by a worker while a spare is out.  (Nothing else creates
 * descriptors once serving: connections only close theirs.)
 */
static pthread_rwlock_t listen_fd_lock = PTHREAD_RWLOCK_INITIALIZER;

/* Out of descriptors: accept with the spare one and close at once, so the
 * peer sees a close instead of the listener spinning on EMFILE.  A spare
 * lost all the same (ENFILE: the whole system is out) is opened again
 * first.  Returns 1 after shedding a connection, 0 if none was waiting
 * (accept says EMFILE before it looks at its queue), -1 if it cannot
 * shed. */
static int
listen_shed(struct nk__listener *ls, int lfd)
{
    struct nk__server *srv = ls->srv;
    int fd, saved;

    pthread_rwlock_wrlock(&listen_fd_lock);
    if (srv->spare_fd < 0)
        srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (srv->spare_fd < 0) {
        pthread_rwlock_unlock(&listen_fd_lock);
        return -1;
    }
    close(srv->spare_fd);
    fd = accept(lfd, NULL, NULL);
    saved = errno;
    if (fd >= 0)
        close(fd);
    srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pthread_rwlock_unlock(&listen_fd_lock);
    if (fd < 0)
        return saved == EAGAIN || saved == EWOULDBLOCK ? 0 : -1;
    listen_warn_fds(ls, "shed a connection");
    return 1;
}

/* Stop or resume watching every TCP listening socket of a worker. */
static void
listen_watch(struct nk__server *srv, unsigned mask)
{
    for (size_t i = 0; i < srv->nlisteners; i++) {
        struct nk__listener *ls = &srv->listeners[i];
        if (ls->conf->transport != NK_TRANSPORT_TCP)
            continue;
        for (size_t j = 0; j < ls->nsocks; j++)
            if (ls->socks[j].io.fd >= 0)
                nk__io_set(&srv->loop, &ls->socks[j].io, mask);
    }
}

/* Cannot even shed: stop accepting for a moment rather than spin on a
 * level-triggered listener that keeps saying EMFILE. */
static void
listen_pause(struct nk__listener *ls)
{
    struct nk__server *srv = ls->srv;

    listen_warn_fds(ls, "not accepting for 100 ms");
    listen_watch(srv, 0);
    nk__timer_start(&srv->loop, &srv->accept_timer,
                    srv->loop.now + LISTEN_PAUSE_MS);
}

void
nk__listen_on_resume(struct nk__loop *loop, struct nk__timer *t)
{
    struct nk__server *srv =
        (struct nk__server *)((char *)t -
                              offsetof(struct nk__server, accept_timer));

    (void)loop;
    if (!srv->draining)
        listen_watch(srv, NK_IO_READ);
}

void
nk__listen_on_accept(struct nk__loop *loop, struct nk__io *io, unsigned events)
{
    struct nk__sock *sk = (struct nk__sock *)io;
    struct nk__listener *ls = sk->ls;

    (void)loop, (void)events;
    for (int i = 0; i < LISTEN_ACCEPTS_PER_WAKEUP; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd;

        /* A unix peer is mostly unnamed: only the family is filled in. */
        memset(&ss, 0, sizeof(ss));
        pthread_rwlock_rdlock(&listen_fd_lock);
        fd = accept4(io->fd, (struct sockaddr *)&ss, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        pthread_rwlock_unlock(&listen_fd_lock);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                int shed = listen_shed(ls, io->fd);
                if (shed > 0) {
                    nk__ctr_add(&ls->ctr, NK_CTR_ACCEPTED, 1);
                    nk__ctr_add(&ls->ctr, NK_CTR_REFUSED_NO_FDS, 1);
                    continue;
                }
                if (shed < 0)
                    listen_pause(ls);
                return;
            }
            if (errno != EAGAIN)
                nk__log(NK_LOG_WARN, "accept on [listen.%s]: %s",
                        ls->conf->name, strerror(errno));
            return;
        }
        nk__ctr_add(&ls->ctr, NK_CTR_ACCEPTED, 1);
        /* Behind a balancer, allow/deny apply to the address in the PROXY
         * header (conn.c), not to the balancer's. */
        if (!ls->conf->proxy_protocol &&
            !nk__access_check(ls, (struct sockaddr *)&ss)) {
            close(fd); /* denied: before any plugin callback */
            continue;
        }
        /* Take a slot; nk__conn_open owns it from here on. */
        if (atomic_fetch_add(ls->slots, 1) >= ls->conf->max_conns) {
            char peer[NK_ADDRSTRLEN];
            atomic_fetch_sub(ls->slots, 1);
            nk__ctr_add(&ls->ctr, NK_CTR_REFUSED_MAX_CONNS, 1);
            nk__addr_format((struct sockaddr *)&ss, peer, sizeof(peer));
            nk__log(NK_LOG_WARN, "Refused %s: max_conns (%lld) reached", peer,
                    ls->conf->max_conns);
            close(fd);
            continue;
        }
        nk__conn_open(ls, fd, (struct sockaddr *)&ss, len);
    }
}
