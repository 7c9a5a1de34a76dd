/*
 * server.c -- `netkit serve`: load the plugins every listener names, check
 * their options, bind every address, then run one event loop per worker
 * until SIGINT/SIGTERM, and drain.  See server.h.
 *
 * Everything that can be wrong with the settings is found before the first
 * socket opens; everything that can fail at bind time fails before the
 * first connection is accepted.
 */
#include "serve/server.h"

#include <sys/eventfd.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netkit/version.h>

#include "base/alloc.h"
#include "base/unixaddr.h"
#include "serve/access.h"
#include "serve/activation.h"
#include "config/conf.h"
#include "serve/conn.h"
#include "serve/counters.h"
#include "serve/dgram.h"
#include "serve/fdlimit.h"
#include "serve/keepopts.h"
#include "serve/flow.h"
#include "serve/handover.h"
#include "serve/listen.h"
#include "serve/show.h"
#include "serve/metrics.h"
#include "base/log.h"
#include "plugin/contract.h"
#include "serve/notify.h"
#include "serve/privs.h"
#include "serve/resolve.h"
#include "plugin/session.h"
#include "serve/timers.h"
#include "tls/tls.h"

/* How long a shutdown waits for replies to drain before closing what is
 * left (a second SIGINT or SIGTERM ends it at once). */
#define SERVE_DRAIN_MS   10000
#define SERVE_BIND_TRIES 16
#define SERVE_WAKE_NOW   2 /* eventfd value: close every connection now */
/* Calls of the accept (or datagram) handler that take what waits in a
 * socket a reload closes: 64 accepts each, the backlog (4096) in all. */
#define SERVE_TAKE_ROUNDS 64
/* eventfd value: reloaded, stop accepting, end after the last connection
 * (a bit of its own: eventfd writes add up) */
#define SERVE_WAKE_RETIRE ((uint64_t)1 << 32)

/* What every worker shares about one listener. */
struct serve_listener {
    const struct nk__listen_conf *conf;
    const struct nk__plugin *plugin;
    struct nk_value *values;
    struct nk__sockopt_val *opts, *accept;
    size_t nopts, naccept;
    struct nk__bindaddr *addrs;
    size_t naddrs;
    int *fds; /* [addr * nworkers + worker]; -1: address skipped */
    const struct serve_listener *from; /* a reload keeps sockets of it */
    unsigned char *kept;    /* [addr]: its sockets are from->'s (a reload) */
    int activated;          /* its sockets are systemd's */
    atomic_llong slots;     /* connections open, all workers (max_conns) */
    struct nk__perip perip; /* max_conns_per_ip, all workers */
    struct nk__access access;
    struct nk__tls *tls; /* its certificates, read with the configuration */
};

struct serve_master;

/* One configuration being served: its listeners and its workers.  A
 * reload builds a new one beside it; the old one stops accepting and ends
 * when its last connection closes. */
struct nk__serve {
    struct serve_master *master; /* NULL for --check */
    struct nk__serve *next;      /* the master's list of retiring ones */
    int heap, own_settings;      /* from a reload: freed with it */
    atomic_int running;          /* worker threads still in their loop */
    int started;                 /* worker threads started */
    struct nk__settings *s;
    atomic_llong buffered; /* every connection's buffers (max_buffer_memory) */
    struct nk__plugin **plugins; /* distinct plugins loaded */
    size_t nplugins;
    struct serve_listener *ls;
    size_t nls;
    struct nk__server *workers;
    int nworkers;
};

/* What a listener counted in configurations a reload replaced and that
 * have ended: added to the listener of the same name. */
struct serve_carry {
    char *name;
    struct nk__ctr_sum sum;
};

/*
 * The main thread: signals, the metrics listener, and the configurations
 * (the serving one and those retiring after a reload), whose workers all
 * run on threads of their own.
 */
struct serve_master {
    struct nk__loop loop;
    struct nk__io sig;       /* signalfd */
    struct nk__io gone;      /* eventfd: a worker thread's loop has ended */
    struct nk__timer status; /* STATUS= with the counters, for systemd */
    struct nk__serve *cur, *retiring;
    struct nk__server *cur0; /* &cur->workers[0], for the metrics listener */
    struct nk__metrics *metrics;
    int stopping; /* a SIGINT or SIGTERM came */
    struct serve_carry *carry;
    size_t ncarry;
};

/* ---- plugins and options ---------------------------------------------- */

/* The loaded plugin called `name`, loading it on first use. */
static const struct nk__plugin *
serve_plugin(struct nk__serve *sv, const struct nk__strlist *dirs,
             const char *name, struct nk_err *err)
{
    struct nk__plugin *p, **grown;

    for (size_t i = 0; i < sv->nplugins; i++)
        if (strcmp(sv->plugins[i]->name, name) == 0)
            return sv->plugins[i];
    if (nk__plugin_open(name, dirs, &p, err) < 0)
        return NULL;
    grown = nk__realloc(sv->plugins, (sv->nplugins + 1) * sizeof(*grown));
    if (grown == NULL) {
        nk__plugin_close(p);
        nk__err_set(err, "out of memory");
        return NULL;
    }
    sv->plugins = grown;
    sv->plugins[sv->nplugins++] = p;
    return p;
}

/* Load every listener's plugin and validate its options; also validate each
 * [plugin.NAME] section, in use or not, so a typo there is not ignored. */
static int
serve_prepare(struct nk__serve *sv, struct nk_err *err)
{
    struct nk__settings *s = sv->s;
    struct nk__strlist dirs = {0};
    int rc = -1;

    if (nk__plugin_dirs(s, &dirs) < 0) {
        nk__err_set(err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < s->nplugins; i++) {
        const struct nk__plugin_conf *pc = &s->plugins[i];
        const struct nk__plugin *p = serve_plugin(sv, &dirs, pc->name, err);
        struct nk_value *v = NULL;
        if (p == NULL) {
            err->file = pc->file;
            err->line = pc->line;
            goto out;
        }
        if (nk__plugin_values(p, &pc->opts, NULL, &v, err) < 0)
            goto out;
        nk__plugin_values_free(p, v);
    }
    for (size_t i = 0; i < sv->nls; i++) {
        struct serve_listener *sl = &sv->ls[i];
        const struct nk__listen_conf *lc = sl->conf;
        const struct nk__plugin_conf *pc;

        sl->plugin = serve_plugin(sv, &dirs, lc->proto, err);
        if (sl->plugin == NULL ||
            nk__plugin_check_transport(sl->plugin, lc->transport, err) < 0) {
            if (lc->file != NULL) {
                err->file = lc->file;
                err->line = lc->line;
            }
            goto out;
        }
        pc = nk__settings_find_plugin(s, lc->proto);
        if (nk__plugin_values(sl->plugin, pc ? &pc->opts : NULL,
                              &s->cli_plugin_opts, &sl->values, err) < 0 ||
            nk__listen_sockopts(lc, &sl->opts, &sl->nopts, &sl->accept,
                                &sl->naccept, err) < 0 ||
            nk__listen_resolve(lc, &sl->addrs, &sl->naddrs, err) < 0 ||
            nk__tls_new(lc, &sl->tls, err) < 0)
            goto out;
        if (lc->max_conns_per_ip > 0 &&
            nk__perip_init(&sl->perip, (uint32_t)lc->max_conns_per_ip,
                           (size_t)lc->max_conns) < 0) {
            nk__err_set(err, "out of memory");
            goto out;
        }
    }
    rc = nk__plugin_check_cli_opts(sv->plugins, sv->nplugins,
                                   &s->cli_plugin_opts, err);
out:
    nk__strlist_free(&dirs);
    return rc;
}

/*
 * Two listeners on one address, port and transport would fail at the
 * second bind, after the first socket opened, with no file:line (or, with
 * -w N and SO_REUSEPORT, share it silently).  Compare the resolved
 * addresses now (so localhost and 127.0.0.1 meet; a wildcard meets every
 * address of its family), and name the second listener's section.
 */
static int
serve_check_overlap(const struct nk__serve *sv, struct nk_err *err)
{
    for (size_t i = 1; i < sv->nls; i++) {
        const struct serve_listener *b = &sv->ls[i];
        for (size_t j = 0; j < i; j++) {
            const struct serve_listener *a = &sv->ls[j];
            for (size_t x = 0; x < b->naddrs; x++)
                for (size_t y = 0; y < a->naddrs; y++) {
                    char bw[NK_ADDRSTRLEN], aw[NK_ADDRSTRLEN];
                    if (!nk__listen_overlap(b->conf, &b->addrs[x], a->conf,
                                            &a->addrs[y]))
                        continue;
                    nk__addr_format((const struct sockaddr *)&b->addrs[x].ss,
                                    bw, sizeof(bw));
                    nk__addr_format((const struct sockaddr *)&a->addrs[y].ss,
                                    aw, sizeof(aw));
                    return nk__err_at(
                        err, b->conf->file, b->conf->line,
                        "[listen.%s] %s (%s) overlaps [listen.%s]'s %s (line "
                        "%d): give one of them another port or host",
                        b->conf->name, bw,
                        b->conf->transport == NK_TRANSPORT_UDP ? "udp" : "tcp",
                        a->conf->name, aw, a->conf->line);
                }
        }
    }
    return 0;
}

/* ---- binding ------------------------------------------------------------ */

static void
serve_set_port(struct nk__bindaddr *a, int port)
{
    if (a->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
    else if (a->ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
}

/* Close the listener's sockets; with `bound_only`, only those bound for
 * it, not those a reload kept. */
static void
serve_close_fds(struct serve_listener *sl, int nworkers, int bound_only)
{
    for (size_t i = 0; i < sl->naddrs * (size_t)nworkers; i++) {
        if (bound_only && sl->kept != NULL && sl->kept[i / (size_t)nworkers])
            continue;
        if (sl->fds[i] >= 0)
            close(sl->fds[i]);
        sl->fds[i] = -1;
    }
}

/* How many workers serve a listener: all, or one for a plugin that keeps a
 * single instance. */
static int
serve_listener_workers(const struct nk__serve *sv,
                       const struct serve_listener *sl)
{
    return sl->plugin->desc->flags & NK_PLUGIN_ONE_INSTANCE ? 1 : sv->nworkers;
}

/*
 * Bind every address of a listener for every worker, but those a reload
 * kept.  Port 0 picks a free port with the first bind and uses it for
 * every other address; if another address has it taken, start over with
 * a new one -- unless a kept socket fixed the port already.
 */
static int
serve_bind(struct nk__serve *sv, struct serve_listener *sl, struct nk_err *err)
{
    int nw = serve_listener_workers(sv, sl), stride = sv->nworkers;
    int got = sl->from != NULL
                  ? 0
                  : nk__activation_adopt(sl->conf, stride, &sl->addrs,
                                         &sl->naddrs, &sl->fds, err);
    int kept_port = 0, nkept = 0;

    if (got < 0)
        return -1; /* an inherited socket that does not fit */
    if (got > 0) {
        sl->activated = 1;
        /* systemd's socket, one per worker; a listener that one worker
         * serves keeps only that worker's copies. */
        for (size_t a = 0; a < sl->naddrs; a++)
            for (int w = nw; w < stride; w++) {
                int *fd = &sl->fds[a * (size_t)stride + (size_t)w];
                if (*fd >= 0)
                    close(*fd);
                *fd = -1;
            }
        return 0;
    }
    for (size_t a = 0; sl->kept != NULL && a < sl->naddrs; a++)
        if (sl->kept[a]) {
            kept_port =
                nk__addr_port((const struct sockaddr *)&sl->addrs[a].ss);
            nkept++;
        }
    for (int attempt = 0; attempt < SERVE_BIND_TRIES; attempt++) {
        int port = sl->conf->port != 0 ? sl->conf->port : kept_port;
        int retry = 0, bound = 0;

        for (size_t a = 0; a < sl->naddrs && !retry; a++) {
            for (int w = 0; w < nw && !(sl->kept && sl->kept[a]); w++) {
                struct nk__bindaddr *ba = &sl->addrs[a];
                int fd;

                serve_set_port(ba, port);
                /* A unix name binds once: the other workers share that
                 * socket (there is no SO_REUSEPORT for AF_UNIX). */
                if (w > 0 && ba->ss.ss_family == AF_UNIX)
                    fd = fcntl(sl->fds[a * (size_t)stride], F_DUPFD_CLOEXEC, 3);
                else
                    fd = nk__listen_socket(sl->conf, ba, sl->opts, sl->nopts,
                                           nw > 1, w == 0, err);
                if (fd < 0 && w > 0 && ba->ss.ss_family == AF_UNIX)
                    nk__err_run(err, "[listen.%s]: dup: %s", sl->conf->name,
                                strerror(errno));
                if (fd < 0 && ba->implicit &&
                    (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT)) {
                    nk__log(NK_LOG_WARN, "Skipping %s", err->msg);
                    break;
                }
                if (fd < 0 && errno == EADDRINUSE && sl->conf->port == 0 &&
                    bound > 0 && nkept == 0) {
                    retry = 1;
                    break;
                }
                if (fd < 0) {
                    serve_close_fds(sl, stride, 1);
                    return -1;
                }
                sl->fds[a * (size_t)stride + (size_t)w] = fd;
                bound++;
                if (port == 0 && ba->ss.ss_family != AF_UNIX) {
                    struct sockaddr_storage ss;
                    socklen_t len = sizeof(ss);
                    getsockname(fd, (struct sockaddr *)&ss, &len);
                    port = nk__addr_port((struct sockaddr *)&ss);
                    serve_set_port(ba, port); /* a reload keeps it */
                }
            }
        }
        if (retry) {
            serve_close_fds(sl, stride, 1);
            continue;
        }
        if (bound == 0 && nkept == 0)
            return nk__err_run(err, "[listen.%s]: no address could be bound",
                               sl->conf->name);
        return 0;
    }
    return nk__err_run(err,
                       "[listen.%s]: no free port found for all its "
                       "addresses",
                       sl->conf->name);
}

/* A "Listen on" line for each address bound (not kept by a reload). */
static void
serve_log_listen(const struct nk__serve *sv, const struct serve_listener *sl)
{
    for (size_t a = 0; a < sl->naddrs; a++) {
        int fd = sl->fds[a * (size_t)sv->nworkers];
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char where[NK_ADDRSTRLEN];

        memset(&ss, 0, sizeof(ss)); /* an abstract name ends at len */
        if (fd < 0 || (sl->kept != NULL && sl->kept[a]) ||
            getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
            continue;
        nk__addr_format((struct sockaddr *)&ss, where, sizeof(where));
        /* A unix socket: stream or datagram, the same plugins. */
        nk__log(
            NK_LOG_INFO, "Listen on %s (%s, %s)", where,
            ss.ss_family == AF_UNIX
                ? (sl->conf->transport == NK_TRANSPORT_UDP ? "dgram" : "stream")
            : sl->conf->transport == NK_TRANSPORT_UDP ? "udp"
                                                      : "tcp",
            sl->plugin->name);
    }
}

/* ---- workers ------------------------------------------------------------ */

struct nk__server *
nk__server_worker(struct nk__server *srv, int w)
{
    return w >= 0 && w < srv->nall ? &srv->all[w] : NULL;
}

int
nk__server_nworkers(const struct nk__server *srv)
{
    return srv->nall;
}

/* Act on one piece of mail from another thread (or from this one: a post
 * to NK_WORKER_ALL includes the poster's own instance). */
static void
server_on_mail_one(struct nk__server *srv, struct nk__mail *m)
{
    struct nk__listener *ls = &srv->listeners[m->listener];
    struct nk__conn *c;

    if (m->kind == NK_MAIL_POST) {
        /* An instance may be NULL (a stateless plugin): created says. */
        if (ls->created && ls->plugin->desc->on_post != NULL)
            ls->plugin->desc->on_post(ls->inst, m->data, m->len);
        return;
    }
    if (m->kind == NK_MAIL_HANDOVER) {
        nk__handover_on_mail(ls, m); /* a reload's on_reload */
        return;
    }
    c = nk__handle_get(&srv->sessions, NK_SID_HANDLE(m->sid));
    if (c == NULL || c->closing || c->ls != ls)
        return; /* closed on the way, or another listener's: dropped */
    if (m->kind == NK_MAIL_SEND) {
        struct iovec iov = {m->data, m->len};
        nk__conn_send(c, &iov, 1);
    } else if (m->kind == NK_MAIL_CLOSE) {
        nk__conn_close_after_write(c);
    } else {
        nk__flow_on_mail(c, m);
    }
}

void
nk__server_take_mail(struct nk__server *srv)
{
    struct nk__mail *m = nk__mailbox_take(&srv->mail);

    while (m != NULL) {
        struct nk__mail *next = m->next;
        server_on_mail_one(srv, m);
        nk__free(m);
        m = next;
    }
}

static void
server_on_mail(struct nk__loop *loop, struct nk__io *io, unsigned events)
{
    (void)loop, (void)events;
    nk__server_take_mail(
        (struct nk__server *)((char *)io -
                              offsetof(struct nk__server, mail_io)));
}

void
nk__server_conn_gone(struct nk__server *srv)
{
    if ((srv->draining || srv->retiring) && srv->nconns == 0)
        nk__loop_stop(&srv->loop);
}

static void
server_on_idle(struct nk__loop *loop, struct nk__timer *t)
{
    struct nk__listener *ls =
        (struct nk__listener *)((char *)t -
                                offsetof(struct nk__listener, idle_timer));

    (void)loop;
    nk__conn_idle_sweep(ls);
}

/* Stop accepting: close this worker's listening sockets (a reload's new
 * workers may hold copies of them, which go on accepting). */
static void
server_close_socks(struct nk__server *srv)
{
    for (size_t i = 0; i < srv->nlisteners; i++) {
        struct nk__listener *ls = &srv->listeners[i];
        for (size_t j = 0; j < ls->nsocks; j++) {
            if (ls->socks[j].io.fd < 0)
                continue;
            nk__io_stop(&srv->loop, &ls->socks[j].io);
            close(ls->socks[j].io.fd);
            ls->socks[j].io.fd = -1;
        }
    }
    nk__timer_stop(&srv->loop, &srv->accept_timer);
}

static void
server_close_listeners(struct nk__server *srv)
{
    server_close_socks(srv);
    for (size_t i = 0; i < srv->nlisteners; i++)
        nk__timer_stop(&srv->loop, &srv->listeners[i].idle_timer);
}

/* Closing a listening socket resets the connections waiting in its accept
 * queue, and drops the datagrams in its receive queue: before a reload
 * closes a socket that the new workers did not keep (a listener or an
 * address that went), take what waits in it, and serve it here.  Bounded:
 * a full backlog of connections. */
static void
server_take_queued(struct nk__server *srv)
{
    for (size_t i = 0; i < srv->nlisteners; i++) {
        struct nk__listener *ls = &srv->listeners[i];
        int udp = ls->conf->transport == NK_TRANSPORT_UDP;

        for (size_t j = 0; j < ls->nsocks; j++) {
            struct nk__sock *sk = &ls->socks[j];
            for (int round = 0; round < SERVE_TAKE_ROUNDS; round++) {
                struct pollfd pfd = {sk->io.fd, POLLIN, 0};
                if (sk->io.fd < 0 || atomic_load(&sk->kept) ||
                    poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLIN))
                    break;
                if (udp)
                    nk__dgram_on_io(&srv->loop, &sk->io, NK_IO_READ);
                else
                    nk__listen_on_accept(&srv->loop, &sk->io, NK_IO_READ);
            }
        }
    }
}

/* A reload replaced this worker's configuration: stop accepting, go on
 * serving the connections open (on this configuration's instances, with
 * its deadlines) and end when the last one closes. */
static void
server_retire(struct nk__server *srv)
{
    if (srv->retiring || srv->draining)
        return;
    srv->retiring = 1;
    server_take_queued(srv);
    server_close_socks(srv);
    if (srv->nconns == 0)
        nk__loop_stop(&srv->loop);
}

/* Close what is still open after the drain period. */
static void
server_on_drain_timeout(struct nk__loop *loop, struct nk__timer *t)
{
    struct nk__server *srv =
        (struct nk__server *)((char *)t -
                              offsetof(struct nk__server, drain_timer));

    for (size_t i = 0; i < srv->nlisteners; i++)
        while (srv->listeners[i].lru_head != NULL)
            nk__conn_close(srv->listeners[i].lru_head, "shutdown");
    nk__loop_stop(loop);
}

/* Stop accepting, let replies drain for a bounded time, then stop. */
static void
server_drain(struct nk__server *srv)
{
    if (srv->draining)
        return;
    srv->draining = 1;
    server_close_listeners(srv);
    /* Draining a connection may close it (unlinked) or move it to the tail
     * (write progress), and closes nothing else (on_close waits for the
     * loop): so take each from the head, once, moving it to the tail. */
    for (size_t i = 0; i < srv->nlisteners; i++) {
        struct nk__listener *ls = &srv->listeners[i];
        for (size_t n = ls->nconns; n > 0 && ls->lru_head != NULL; n--)
            nk__conn_drain_next(ls);
    }
    if (srv->nconns == 0)
        nk__loop_stop(&srv->loop);
    else
        nk__timer_start(&srv->loop, &srv->drain_timer,
                        srv->loop.now + SERVE_DRAIN_MS);
}

static void
server_on_wake(struct nk__loop *loop, struct nk__io *io, unsigned events)
{
    struct nk__server *srv =
        (struct nk__server *)((char *)io - offsetof(struct nk__server, wake));
    uint64_t v;

    (void)loop, (void)events;
    if (read(io->fd, &v, sizeof(v)) < 0)
        return;
    if (v >= SERVE_WAKE_RETIRE)
        server_retire(srv);
    v &= SERVE_WAKE_RETIRE - 1;
    if (v == 0)
        return;
    server_drain(srv);
    if (v >= SERVE_WAKE_NOW && srv->nconns > 0) /* a second SIGINT/SIGTERM */
        server_on_drain_timeout(&srv->loop, &srv->drain_timer);
}

/* Make worker w safe to tear down, whatever fails later: nothing here can
 * fail, and server_fini works on every worker after it. */
static void
server_prepare(struct nk__serve *sv, int w)
{
    struct nk__server *srv = &sv->workers[w];

    srv->id = w;
    srv->owner = sv;
    srv->all = sv->workers;
    srv->nall = sv->nworkers;
    srv->buffered = &sv->buffered;
    srv->buffer_budget = sv->s->max_buffer_memory;
    srv->loop.epfd = -1;
    srv->spare_fd = -1;
    srv->mail.efd = -1;
    nk__timer_init(&srv->drain_timer, server_on_drain_timeout);
    nk__timer_init(&srv->accept_timer, nk__listen_on_resume);
    nk__timer_init(&srv->trim_timer, nk__conn_on_trim);
    nk__io_init(&srv->wake, -1, server_on_wake);
    nk__io_init(&srv->sig, -1, NULL);
    nk__io_init(&srv->mail_io, -1, server_on_mail);
}

/* Build worker w's loop, wake-up and mailbox, and its listeners. */
static int
server_init(struct nk__serve *sv, int w, struct nk_err *err)
{
    struct nk__server *srv = &sv->workers[w];

    srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    srv->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (nk__loop_init(&srv->loop) < 0 || srv->wake.fd < 0 ||
        nk__mailbox_init(&srv->mail) < 0 ||
        nk__io_set(&srv->loop, &srv->wake, NK_IO_READ) < 0)
        return nk__err_run(err, "cannot set up the event loop: %s",
                           strerror(errno));
    srv->mail_io.fd = srv->mail.efd;
    if (nk__io_set(&srv->loop, &srv->mail_io, NK_IO_READ) < 0)
        return nk__err_run(err, "cannot set up the event loop: %s",
                           strerror(errno));
    srv->listeners = nk__calloc(sv->nls, sizeof(*srv->listeners));
    if (srv->listeners == NULL)
        return nk__err_set(err, "out of memory");
    srv->nlisteners = sv->nls;
    for (size_t i = 0; i < sv->nls; i++) {
        struct serve_listener *sl = &sv->ls[i];
        struct nk__listener *ls = &srv->listeners[i];

        ls->srv = srv;
        ls->index = i;
        ls->ctx.ls = ls;
        ls->slots = &sl->slots;
        ls->perip = sl->conf->max_conns_per_ip > 0 ? &sl->perip : NULL;
        ls->access = &sl->access;
        ls->conf = sl->conf;
        ls->plugin = sl->plugin;
        ls->accept_opts = sl->accept;
        ls->naccept_opts = sl->naccept;
        ls->idle_ms = (uint64_t)(sl->conf->idle_timeout * 1000);
        ls->message_ms = (uint64_t)(sl->conf->message_timeout * 1000);
        ls->write_ms = (uint64_t)(sl->conf->write_timeout * 1000);
        ls->max_output = sl->conf->max_output;
        ls->tls = sl->tls;
        ls->tls_hs_ms = (uint64_t)(sl->conf->tls.handshake_timeout * 1000);
        ls->serving = w < serve_listener_workers(sv, sl);
        nk__timer_init(&ls->idle_timer, server_on_idle);
    }
    return 0;
}

/* Create worker w's plugin instances, one per listener it serves. */
static int
server_create(struct nk__serve *sv, int w, struct nk_err *err)
{
    struct nk__server *srv = &sv->workers[w];

    for (size_t i = 0; i < sv->nls; i++) {
        struct serve_listener *sl = &sv->ls[i];
        struct nk__listener *ls = &srv->listeners[i];
        struct nk_setup su = {
            .size = sizeof(su),
            .host = &nk__host,
            .opts = sl->values,
            .transport = sl->conf->transport,
            .max_message = (1u << 20) + 2 * NK_HDR_MAX,
            .role = NK_ROLE_SERVE,
            .ctx = &ls->ctx,
            .worker = w,
            .workers = serve_listener_workers(sv, sl),
            .out_high = NK_OUT_HIGH_DEFAULT,
            .out_low = NK_OUT_LOW_DEFAULT,
            .connect_timeout_ms = NK_CONNECT_TIMEOUT_DEFAULT,
        };
        char why[100];
        const char *broken;
        int rc;

        if (!ls->serving)
            continue;
        rc = sl->plugin->desc->create(&su);
        broken = nk__create_check(rc, why, sizeof(why));
        if (rc < 0 || broken != NULL) {
            nk__err_at(err, sl->conf->file, sl->conf->line, "plugin %s: %s",
                       sl->plugin->name,
                       broken != NULL ? broken
                       : su.err[0]    ? su.err
                                      : nk_strerror(rc));
            if (broken != NULL && su.inst != NULL)
                sl->plugin->desc->destroy(su.inst); /* it did create one */
            return -1;
        }
        ls->inst = su.inst;
        ls->created = 1;
        ls->max_message = su.max_message;
        if (su.out_low == 0 || su.out_low >= su.out_high) {
            nk__err_at(err, sl->conf->file, sl->conf->line,
                       "plugin %s: create set out_low %zu, out_high %zu "
                       "(0 < out_low < out_high expected)",
                       sl->plugin->name, su.out_low, su.out_high);
            return -1;
        }
        ls->out_high = su.out_high;
        ls->out_low = su.out_low;
        ls->connect_ms = su.connect_timeout_ms;
    }
    return 0;
}

/* Hand worker w its sockets and start watching them. */
static int
server_adopt(struct nk__serve *sv, int w, struct nk_err *err)
{
    struct nk__server *srv = &sv->workers[w];

    for (size_t i = 0; i < sv->nls; i++) {
        struct serve_listener *sl = &sv->ls[i];
        struct nk__listener *ls = &srv->listeners[i];
        int udp = sl->conf->transport == NK_TRANSPORT_UDP;

        ls->socks = nk__calloc(sl->naddrs, sizeof(*ls->socks));
        if (ls->socks == NULL)
            return nk__err_set(err, "out of memory");
        for (size_t a = 0; a < sl->naddrs; a++) {
            int *fd = &sl->fds[a * (size_t)sv->nworkers + (size_t)w];
            struct nk__sock *sk = &ls->socks[ls->nsocks];

            if (*fd < 0)
                continue;
            sk->ls = ls;
            sk->addr = a; /* a reload keeps it by this index */
            sk->family = sl->addrs[a].ss.ss_family;
            sk->pktinfo = udp && nk__listen_is_wildcard(&sl->addrs[a]);
            nk__io_init(&sk->io, *fd,
                        udp ? nk__dgram_on_io : nk__listen_on_accept);
            *fd = -1; /* the worker owns it now */
            ls->nsocks++;
            if ((udp && nk__dgram_new(sk) < 0) ||
                nk__io_set(&srv->loop, &sk->io, NK_IO_READ) < 0)
                return nk__err_run(err, "cannot watch a listening socket");
        }
    }
    return 0;
}

static void
server_fini(struct nk__server *srv)
{
    server_close_listeners(srv);
    for (size_t i = 0; i < srv->nlisteners; i++) {
        struct nk__listener *ls = &srv->listeners[i];
        while (ls->lru_head != NULL)
            nk__conn_close(ls->lru_head, "shutdown");
    }
    /* on_close for the connections closed just above, while every
     * instance still lives; then no timer may fire, and destroy. */
    nk__loop_finish(&srv->loop);
    for (size_t i = 0; i < srv->nlisteners; i++) {
        struct nk__listener *ls = &srv->listeners[i];
        for (size_t j = 0; j < ls->nsocks; j++)
            nk__dgram_free(ls->socks[j].dgram);
        if (ls->closed_idle + ls->closed_message + ls->closed_write > 0)
            nk__log(NK_LOG_INFO,
                    "[listen.%s] closed on a deadline: %llu idle, %llu "
                    "message, %llu write",
                    ls->conf->name, (unsigned long long)ls->closed_idle,
                    (unsigned long long)ls->closed_message,
                    (unsigned long long)ls->closed_write);
        if (ls->refused_perip > 0)
            nk__log(NK_LOG_INFO,
                    "[listen.%s] refused %llu over max_conns_per_ip",
                    ls->conf->name, (unsigned long long)ls->refused_perip);
        if (ls->closed_memory > 0)
            nk__log(NK_LOG_INFO,
                    "[listen.%s] closed %llu over max_buffer_memory",
                    ls->conf->name, (unsigned long long)ls->closed_memory);
        if (ls->udp_dropped > 0)
            nk__log(NK_LOG_INFO,
                    "[listen.%s] dropped %llu malformed "
                    "datagram%s",
                    ls->conf->name, (unsigned long long)ls->udp_dropped,
                    ls->udp_dropped == 1 ? "" : "s");
        nk__ptimer_stop_all(&ls->timers);
        if (ls->created) {
            ls->destroying = 1; /* host.c: nothing more can be started */
            ls->plugin->desc->destroy(ls->inst);
        }
        nk__free(ls->socks);
    }
    nk__resolve_forget(srv); /* before its mailbox goes */
    nk__mailbox_fini(&srv->mail);
    nk__handles_free(&srv->sessions);
    nk__handles_free(&srv->timers);
    nk__free(srv->listeners);
    nk__buf_free(&srv->rbuf);
    nk__buf_free(&srv->wbuf);
    if (srv->wake.fd >= 0)
        close(srv->wake.fd);
    if (srv->sig.fd >= 0)
        close(srv->sig.fd);
    if (srv->spare_fd >= 0)
        close(srv->spare_fd);
    nk__loop_fini(&srv->loop);
}

static void *
server_thread(void *arg)
{
    struct nk__server *srv = arg;
    uint64_t one = 1;
    ssize_t n;

    nk__loop_run(&srv->loop);
    atomic_fetch_sub(&srv->owner->running, 1);
    n = write(srv->owner->master->gone.fd, &one, sizeof(one));
    (void)n; /* an eventfd write only fails if it would overflow */
    return NULL;
}

/* Tell every worker of sv something (a SERVE_WAKE_* value). */
static void
serve_wake(struct nk__serve *sv, uint64_t what)
{
    for (int w = 0; w < sv->started; w++) {
        ssize_t n = write(sv->workers[w].wake.fd, &what, sizeof(what));
        (void)n;
    }
}

/* Start sv's worker threads; on failure, stop those started. */
static int
serve_start(struct nk__serve *sv, struct nk_err *err)
{
    atomic_store(&sv->running, sv->nworkers);
    for (; sv->started < sv->nworkers; sv->started++)
        if (pthread_create(&sv->workers[sv->started].thread, NULL,
                           server_thread, &sv->workers[sv->started]) != 0) {
            atomic_fetch_sub(&sv->running, sv->nworkers - sv->started);
            serve_wake(sv, SERVE_WAKE_NOW);
            for (int w = 0; w < sv->started; w++)
                pthread_join(sv->workers[w].thread, NULL);
            sv->started = 0;
            return nk__err_run(err, "cannot start a worker thread");
        }
    return 0;
}

static void
serve_join(struct nk__serve *sv)
{
    for (int w = 0; w < sv->started; w++)
        pthread_join(sv->workers[w].thread, NULL);
    sv->started = 0;
}

/* ---- the whole run ------------------------------------------------------ */

/* Many connections need many descriptors: take the hard limit. */
static void
serve_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void
serve_free(struct nk__serve *sv)
{
    for (int w = 0; sv->workers != NULL && w < sv->nworkers; w++)
        server_fini(&sv->workers[w]);
    for (size_t i = 0; i < sv->nls; i++) {
        struct serve_listener *sl = &sv->ls[i];
        nk__access_report(&sl->access, sl->conf);
        if (sl->fds != NULL)
            serve_close_fds(sl, sv->nworkers, 0);
        if (sl->plugin != NULL)
            nk__plugin_values_free(sl->plugin, sl->values);
        nk__free(sl->fds);
        nk__free(sl->kept);
        nk__free(sl->opts);
        nk__free(sl->accept);
        nk__free(sl->addrs);
        nk__perip_fini(&sl->perip);
        nk__tls_free(sl->tls);
    }
    for (size_t i = 0; i < sv->nplugins; i++)
        nk__plugin_close(sv->plugins[i]);
    nk__free(sv->plugins);
    nk__free(sv->ls);
    nk__free(sv->workers);
    if (sv->own_settings) {
        nk__settings_free(sv->s);
        nk__free(sv->s);
    }
    if (sv->heap)
        nk__free(sv);
}

int
nk__serve_check(struct nk__settings *s, FILE *out, struct nk_err *err)
{
    struct nk__serve sv = {.s = s, .nworkers = 1};
    int rc = -1;

    sv.ls = nk__calloc(s->nlisteners, sizeof(*sv.ls));
    sv.nls = s->nlisteners;
    sv.workers = nk__calloc(1, sizeof(*sv.workers));
    if ((sv.ls == NULL && s->nlisteners > 0) || sv.workers == NULL) {
        nk__err_set(err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < sv.nls; i++)
        sv.ls[i].conf = &s->listeners[i];
    server_prepare(&sv, 0);
    if (serve_prepare(&sv, err) < 0 || server_init(&sv, 0, err) < 0 ||
        server_create(&sv, 0, err) < 0)
        goto out;
    nk__show_settings(out, s);
    for (size_t i = 0; i < sv.nls; i++) {
        nk__show_listener(out, s, sv.ls[i].conf, sv.ls[i].plugin,
                          sv.ls[i].addrs, sv.ls[i].naddrs);
        if (sv.ls[i].tls != NULL)
            nk__tls_show(out, sv.ls[i].tls);
    }
    fprintf(out, "configuration ok: %zu listener%s\n", sv.nls,
            sv.nls == 1 ? "" : "s");
    rc = 0;
out:
    serve_free(&sv);
    return rc;
}

/* ---- keeping sockets across a reload ------------------------------------- */

/* The listener of prev that sl can take sockets from: the same name,
 * transport, port and workers serving it; -1 if none.  Hosts and family
 * may differ: the addresses both have keep their sockets (serve_keep).
 * Socket options may differ too: serve_keep_opts sets the new ones on the
 * kept sockets. */
static long
serve_kept(const struct nk__serve *sv, const struct serve_listener *sl,
           const struct nk__serve *prev)
{
    const struct nk__listen_conf *a = sl->conf;

    for (size_t i = 0; prev != NULL && i < prev->nls; i++) {
        const struct nk__listen_conf *b = prev->ls[i].conf;
        if (strcmp(a->name, b->name) != 0)
            continue;
        if (a->transport != b->transport || a->port != b->port ||
            sv->nworkers != prev->nworkers ||
            serve_listener_workers(sv, sl) !=
                serve_listener_workers(prev, &prev->ls[i]))
            return -1;
        return (long)i;
    }
    return -1;
}

/* Is b (bound) the address a asks for?  With port 0, any port: the
 * listener keeps the one it got. */
static int
serve_same_addr(const struct nk__listen_conf *lc, const struct nk__bindaddr *a,
                const struct nk__bindaddr *b)
{
    if (a->ss.ss_family != b->ss.ss_family)
        return 0;
    if (lc->port != 0 && nk__addr_port((const struct sockaddr *)&a->ss) !=
                             nk__addr_port((const struct sockaddr *)&b->ss))
        return 0;
    if (a->ss.ss_family == AF_INET)
        return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)&b->ss)->sin_addr.s_addr;
    return memcmp(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
                  &((const struct sockaddr_in6 *)&b->ss)->sin6_addr,
                  sizeof(struct in6_addr)) == 0 &&
           ((const struct sockaddr_in6 *)&a->ss)->sin6_scope_id ==
               ((const struct sockaddr_in6 *)&b->ss)->sin6_scope_id;
}

/*
 * Take copies of the listening sockets of prev's listener pi for every
 * address sl has too (all of them for systemd's sockets, which stand for
 * the listener's hosts): the same sockets, so a connection waiting in one
 * is accepted by the new workers once the old ones stop accepting.
 * (prev's workers close theirs only when this thread tells them to: no
 * race; and they see them marked kept, so they leave what waits in them to
 * the new workers.)  *all: every address of sl was kept.
 */
static int
serve_keep(struct nk__serve *sv, struct serve_listener *sl,
           struct nk__serve *prev, size_t pi, int *all, struct nk_err *err)
{
    const struct serve_listener *psl = &prev->ls[pi];
    size_t nw = (size_t)sv->nworkers, nkept = 0;

    sl->from = psl;
    if (psl->activated) {
        nk__free(sl->addrs);
        sl->addrs = nk__malloc(psl->naddrs * sizeof(*sl->addrs));
        nk__free(sl->fds);
        sl->fds = nk__malloc(psl->naddrs * nw * sizeof(int));
        if (sl->addrs == NULL || sl->fds == NULL)
            return nk__err_run(err, "out of memory");
        memcpy(sl->addrs, psl->addrs, psl->naddrs * sizeof(*sl->addrs));
        sl->naddrs = psl->naddrs;
        memset(sl->fds, -1, sl->naddrs * nw * sizeof(int));
        sl->activated = 1;
    }
    sl->kept = nk__calloc(sl->naddrs + 1, 1);
    if (sl->kept == NULL)
        return nk__err_run(err, "out of memory");
    for (size_t a = 0; a < sl->naddrs; a++) {
        size_t b = 0;

        while (b < psl->naddrs &&
               !(sl->activated ? a == b
                               : serve_same_addr(sl->conf, &sl->addrs[a],
                                                 &psl->addrs[b])))
            b++;
        if (b == psl->naddrs)
            continue; /* a new address: serve_bind binds it */
        serve_set_port(
            &sl->addrs[a],
            nk__addr_port((const struct sockaddr *)&psl->addrs[b].ss));
        sl->kept[a] = 1;
        nkept++;
        for (int w = 0; w < prev->nworkers; w++) {
            struct nk__listener *ls = &prev->workers[w].listeners[pi];
            for (size_t j = 0; j < ls->nsocks; j++) {
                struct nk__sock *sk = &ls->socks[j];
                int fd;
                if (sk->io.fd < 0 || sk->addr != b)
                    continue;
                fd = fcntl(sk->io.fd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0)
                    return nk__err_run(err,
                                       "[listen.%s]: cannot keep its socket: "
                                       "%s",
                                       sl->conf->name, strerror(errno));
                sl->fds[a * nw + (size_t)w] = fd;
                atomic_store(&sk->kept, 1);
            }
        }
    }
    *all = nkept == sl->naddrs;
    return 0;
}

/* Bring the kept sockets of sl to its socket options (once every socket
 * is bound: nothing to undo if a bind fails). */
static int
serve_keep_opts(struct nk__serve *sv, struct serve_listener *sl,
                struct nk_err *err)
{
    struct nk__keepopt *ch;
    size_t n;
    int rc = 0;

    if (nk__keepopts_plan(sl->conf, sl->from->opts, sl->from->nopts, sl->opts,
                          sl->nopts, &ch, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < sl->naddrs * (size_t)sv->nworkers && rc == 0 && n;
         i++)
        if (sl->fds[i] >= 0 && sl->kept[i / (size_t)sv->nworkers])
            rc = nk__keepopts_apply(
                sl->conf, sl->fds[i],
                sl->addrs[i / (size_t)sv->nworkers].ss.ss_family, ch, n, err);
    if (rc == 0)
        nk__keepopts_log(sl->conf, ch, n);
    nk__free(ch);
    return rc;
}

/*
 * Build a configuration from sv->s: load and check the plugins, create
 * every worker's instances, bind (or, on a reload, keep prev's sockets for
 * the addresses a listener had already).  Binds nothing that is not
 * closed again by serve_free on failure.
 */
static int
serve_setup(struct nk__serve *sv, struct nk__serve *prev, size_t *kept,
            struct nk_err *err)
{
    struct nk__settings *s = sv->s;

    sv->nworkers = s->workers;
    sv->ls = nk__calloc(s->nlisteners, sizeof(*sv->ls));
    sv->nls = s->nlisteners;
    if (sv->ls == NULL && s->nlisteners > 0)
        return nk__err_set(err, "out of memory");
    for (size_t i = 0; i < sv->nls; i++)
        sv->ls[i].conf = &s->listeners[i];
    if (serve_prepare(sv, err) < 0 || serve_check_overlap(sv, err) < 0)
        return -1;
    sv->workers = nk__calloc((size_t)sv->nworkers, sizeof(*sv->workers));
    if (sv->workers == NULL)
        return nk__err_set(err, "out of memory");
    for (int w = 0; w < sv->nworkers; w++)
        server_prepare(sv, w);
    for (int w = 0; w < sv->nworkers; w++)
        if (server_init(sv, w, err) < 0)
            return -1;
    if (prev == NULL && nk__activation_init(err) < 0)
        return -1;
    for (int w = 0; w < sv->nworkers; w++)
        if (server_create(sv, w, err) < 0)
            return -1;
    for (size_t i = 0; i < sv->nls; i++) {
        struct serve_listener *sl = &sv->ls[i];
        long pi = serve_kept(sv, sl, prev);
        int all = 0;

        sl->fds = nk__malloc(sl->naddrs * (size_t)sv->nworkers * sizeof(int));
        if (sl->fds == NULL)
            return nk__err_set(err, "out of memory");
        memset(sl->fds, -1, sl->naddrs * (size_t)sv->nworkers * sizeof(int));
        if (pi >= 0 && serve_keep(sv, sl, prev, (size_t)pi, &all, err) < 0)
            return -1;
        if (all) {
            (*kept)++;
            continue;
        }
        if (serve_bind(sv, sl, err) < 0)
            return -1;
        serve_log_listen(sv, sl);
    }
    for (size_t i = 0; i < sv->nls; i++)
        if (sv->ls[i].from != NULL && serve_keep_opts(sv, &sv->ls[i], err) < 0)
            return -1;
    if (prev == NULL)
        nk__activation_done();
    return 0;
}

/* ---- counters across reloads --------------------------------------------- */

static struct serve_carry *
serve_carry_find(struct serve_master *m, const char *name)
{
    for (size_t i = 0; i < m->ncarry; i++)
        if (strcmp(m->carry[i].name, name) == 0)
            return &m->carry[i];
    return NULL;
}

static void
serve_sum_add(struct nk__ctr_sum *to, const struct nk__ctr_sum *from)
{
    for (int k = 0; k < NK_CTR_N; k++)
        to->v[k] += from->v[k];
    to->idle += from->idle;
    to->message += from->message;
    to->write += from->write;
    to->memory += from->memory;
    to->malformed += from->malformed;
    to->denied += from->denied;
    to->active += from->active;
    to->dg.answered += from->dg.answered;
    to->dg.malformed += from->dg.malformed;
    to->dg.low_port += from->dg.low_port;
    to->dg.own_port += from->dg.own_port;
    to->dg.rate += from->dg.rate;
    to->dg.loop += from->dg.loop;
    to->dg.oversize += from->dg.oversize;
}

/* A retired configuration has ended: keep what its listeners counted. */
static void
serve_carry_add(struct serve_master *m, struct nk__serve *sv)
{
    for (size_t i = 0; i < sv->nls; i++) {
        const char *name = sv->ls[i].conf->name;
        struct serve_carry *c = serve_carry_find(m, name), *grown;
        struct nk__ctr_sum sum;

        nk__counters_sum_one(&sv->workers[0], i, &sum);
        sum.active = 0; /* nothing of it is open any more */
        if (c == NULL) {
            grown = nk__realloc(m->carry, (m->ncarry + 1) * sizeof(*grown));
            if (grown == NULL)
                continue;
            m->carry = grown;
            c = &m->carry[m->ncarry];
            memset(c, 0, sizeof(*c));
            if ((c->name = nk__strdup(name)) == NULL)
                continue;
            m->ncarry++;
        }
        serve_sum_add(&c->sum, &sum);
    }
}

void
nk__server_sum_more(struct nk__server *srv, size_t li, struct nk__ctr_sum *out)
{
    struct serve_master *m = srv->owner->master;
    const char *name = srv->listeners[li].conf->name;
    struct serve_carry *c;

    if (m == NULL)
        return;
    for (struct nk__serve *sv = m->retiring; sv != NULL; sv = sv->next)
        for (size_t i = 0; i < sv->nls; i++)
            if (strcmp(sv->ls[i].conf->name, name) == 0) {
                struct nk__ctr_sum sum;
                nk__counters_sum_one(&sv->workers[0], i, &sum);
                serve_sum_add(out, &sum);
            }
    if ((c = serve_carry_find(m, name)) != NULL)
        serve_sum_add(out, &c->sum);
}

/* ---- the main thread ------------------------------------------------------
 */

#define SERVE_STATUS_MS 10000

/* systemd's STATUS= (systemctl status): the listeners and what they have
 * counted, every SERVE_STATUS_MS and on SIGUSR1. */
static void
serve_status(struct serve_master *m)
{
    unsigned long long accepted = 0, msgs = 0, dgrams = 0;
    long long active = 0;
    size_t n = m->cur0->nlisteners;

    if (getenv("NOTIFY_SOCKET") == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        struct nk__ctr_sum s;
        nk__counters_sum(m->cur0, i, &s);
        accepted += s.v[NK_CTR_ACCEPTED];
        active += s.active;
        msgs += s.v[NK_CTR_MSGS_IN];
        dgrams += s.v[NK_CTR_DGRAMS_IN];
    }
    nk__notify("STATUS=Serving %zu listener%s: %llu connections accepted, "
               "%lld active, %llu datagrams, %llu messages",
               n, n == 1 ? "" : "s", accepted, active, dgrams, msgs);
}

static void
serve_on_status(struct nk__loop *loop, struct nk__timer *t)
{
    struct serve_master *m =
        (struct serve_master *)((char *)t -
                                offsetof(struct serve_master, status));

    serve_status(m);
    nk__timer_start(loop, t, loop->now + SERVE_STATUS_MS);
}

/* A reload failed: none of sv's sockets is kept by another configuration
 * (sv is the newest), whatever serve_keep marked. */
static void
serve_unkeep(struct nk__serve *sv)
{
    for (int w = 0; w < sv->nworkers; w++)
        for (size_t i = 0; i < sv->workers[w].nlisteners; i++) {
            struct nk__listener *ls = &sv->workers[w].listeners[i];
            for (size_t j = 0; j < ls->nsocks; j++)
                atomic_store(&ls->socks[j].kept, 0);
        }
}

/* Before the new configuration's workers start: for each of its
 * listeners whose plugin has on_reload and that has a namesake in the old
 * one served by the same plugin, hand each old worker instance's state to
 * the new instance of that worker (handover.h).  A hand-over that cannot
 * run is logged; the new instance then starts as create made it. */
static void
serve_handover(struct nk__serve *old, struct nk__serve *sv)
{
    for (size_t i = 0; i < sv->nls; i++) {
        const struct serve_listener *sl = &sv->ls[i];
        int done = 0, failed = 0;
        size_t j;

        if (sl->plugin->desc->on_reload == NULL)
            continue;
        for (j = 0; j < old->nls; j++)
            if (strcmp(old->ls[j].conf->name, sl->conf->name) == 0 &&
                strcmp(old->ls[j].plugin->name, sl->plugin->name) == 0)
                break;
        if (j == old->nls)
            continue;
        for (int w = 0; w < sv->nworkers && w < old->nworkers; w++) {
            struct nk__listener *ol = &old->workers[w].listeners[j],
                                *nl = &sv->workers[w].listeners[i];
            if (!ol->created || !nl->created)
                continue;
            if (nk__handover(&old->workers[w], j, nl->inst) == 0)
                done++;
            else
                failed++;
        }
        if (failed > 0)
            nk__log(NK_LOG_WARN,
                    "Reload: [listen.%s] plugin %s: %d instance%s started "
                    "without the old one's state (its worker did not answer)",
                    sl->conf->name, sl->plugin->name, failed,
                    failed == 1 ? "" : "s");
        else if (done > 0)
            nk__log(NK_LOG_INFO,
                    "Reload: [listen.%s] plugin %s handed its state to the "
                    "new instance%s",
                    sl->conf->name, sl->plugin->name, done == 1 ? "" : "s");
    }
}

/* SIGHUP: read the command line and the config file again and serve the
 * new configuration beside the old one, which stops accepting and ends
 * with its last connection.  Anything wrong: logged, and the old one goes
 * on alone. */
static void
serve_reload(struct serve_master *m)
{
    struct nk__serve *cur = m->cur, *sv = nk__calloc(1, sizeof(*sv));
    struct nk__settings *s = nk__calloc(1, sizeof(*s));
    struct nk_err err = {.status = 2};
    char line[700];
    size_t kept = 0;

    nk__log(NK_LOG_INFO, "Reloading (SIGHUP)");
    nk__notify("RELOADING=1\nSTATUS=Reloading");
    if (sv == NULL || s == NULL) {
        nk__free(sv);
        nk__free(s);
        sv = NULL;
        nk__err_set(&err, "out of memory");
        goto failed;
    }
    nk__settings_init(s);
    sv->heap = sv->own_settings = 1;
    sv->s = s;
    sv->master = m;
    if (nk__settings_reload(s, cur->s->argc, cur->s->argv, &err) < 0)
        goto failed;
    if (s->workers != cur->nworkers) {
        nk__log(NK_LOG_WARN,
                "Reload: workers stays %d until a restart (the config asks "
                "for %d)",
                cur->nworkers, s->workers);
        s->workers = cur->nworkers;
    }
    if ((s->metrics == NULL) != (cur->s->metrics == NULL) ||
        (s->metrics != NULL && strcmp(s->metrics, cur->s->metrics) != 0))
        nk__log(NK_LOG_WARN, "Reload: metrics takes a new address at a "
                             "restart only");
    if (serve_setup(sv, cur, &kept, &err) < 0)
        goto failed;
    for (int w = 0; w < sv->nworkers; w++)
        if (server_adopt(sv, w, &err) < 0)
            goto failed;
    /* Last before the start: a reload that fails after this loses the
     * state handed over (only if no worker thread can be started). */
    serve_handover(cur, sv);
    if (serve_start(sv, &err) < 0)
        goto failed;
    serve_wake(cur, SERVE_WAKE_RETIRE);
    cur->next = m->retiring;
    m->retiring = cur;
    m->cur = sv;
    m->cur0 = &sv->workers[0];
    nk__log(NK_LOG_INFO,
            "Reloaded %s: %zu listener%s (%zu kept their sockets); "
            "connections already open finish on the previous configuration",
            s->config_file != NULL ? s->config_file : "(no config file)",
            sv->nls, sv->nls == 1 ? "" : "s", kept);
    nk__notify("READY=1\nSTATUS=Serving %zu listener%s", sv->nls,
               sv->nls == 1 ? "" : "s");
    return;
failed:
    nk__err_format(&err, line, sizeof(line)); /* err may point into s */
    if (sv != NULL)
        serve_free(sv); /* frees s too */
    serve_unkeep(cur);
    nk__log(NK_LOG_ERROR,
            "Reload failed: %s; still serving the previous configuration",
            line);
    nk__notify("READY=1\nSTATUS=Reload failed: %s", line);
}

/* A worker's loop has ended: free every retired configuration whose
 * workers have all ended; stop once the serving one has too. */
static void
serve_on_gone(struct nk__loop *loop, struct nk__io *io, unsigned events)
{
    struct serve_master *m =
        (struct serve_master *)((char *)io -
                                offsetof(struct serve_master, gone));
    struct nk__serve **pp = &m->retiring;
    uint64_t v;

    (void)events;
    if (read(io->fd, &v, sizeof(v)) < 0)
        return;
    while (*pp != NULL) {
        struct nk__serve *sv = *pp;
        if (atomic_load(&sv->running) > 0) {
            pp = &sv->next;
            continue;
        }
        *pp = sv->next;
        serve_join(sv);
        serve_carry_add(m, sv);
        serve_free(sv);
    }
    if (atomic_load(&m->cur->running) == 0 && m->retiring == NULL)
        nk__loop_stop(loop);
}

/* Signals that would end the process by their default action, caught
 * instead (serve_run blocks them and reads them from a signalfd), with the
 * real-time ones.  SIGPIPE and SIGXFSZ are ignored outright: they come
 * from a failed write, which then says EPIPE or EFBIG -- logging them
 * could write again and fail again.  Job control (SIGTSTP, SIGTTIN,
 * SIGTTOU) keeps its default; faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
 * SIGABRT, SIGSYS, SIGTRAP) cannot be ignored safely and are left alone. */
static const int serve_signals[] = {
    SIGINT,    SIGTERM, SIGHUP, SIGUSR1,   SIGUSR2, SIGALRM, SIGQUIT,
    SIGVTALRM, SIGPROF, SIGIO,  SIGSTKFLT, SIGPWR,  SIGXCPU,
};

/* A first SIGINT/SIGTERM drains (SERVE_DRAIN_MS at most); a second one
 * during the drain closes what is left at once, like nginx's fast
 * shutdown, and the exit status is still 0.  SIGHUP reloads, SIGUSR1 logs
 * the counters; every other caught signal is logged and ignored. */
static void
serve_on_signal(struct nk__loop *loop, struct nk__io *io, unsigned events)
{
    struct serve_master *m =
        (struct serve_master *)((char *)io -
                                offsetof(struct serve_master, sig));
    struct signalfd_siginfo si;

    (void)loop, (void)events;
    while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        int sig = (int)si.ssi_signo;
        uint64_t wake = 1;

        if (sig == SIGHUP) {
            if (m->stopping)
                nk__log(NK_LOG_INFO, "SIGHUP: shutting down, not reloading");
            else
                serve_reload(m);
            continue;
        }
        if (sig == SIGUSR1) {
            nk__counters_log(m->cur0);
            serve_status(m);
            continue;
        }
        if (sig != SIGINT && sig != SIGTERM) {
            nk__log(NK_LOG_WARN, "Ignoring signal %d (%s) from pid %u", sig,
                    strsignal(sig), (unsigned)si.ssi_pid);
            continue;
        }
        if (m->stopping) {
            nk__log(NK_LOG_INFO, "Closing every connection now (second %s)",
                    strsignal(sig));
            wake = SERVE_WAKE_NOW;
        } else {
            nk__log(NK_LOG_INFO, "Shutting down (%s)", strsignal(sig));
            nk__notify("STOPPING=1\nSTATUS=Shutting down (%s)", strsignal(sig));
            m->stopping = 1;
            nk__metrics_close(m->metrics);
            nk__timer_stop(&m->loop, &m->status);
        }
        serve_wake(m->cur, wake);
        for (struct nk__serve *sv = m->retiring; sv != NULL; sv = sv->next)
            serve_wake(sv, wake);
    }
}

/* The connections the configuration may hold at once: what the
 * descriptor limit is checked against. */
static long long
serve_conns_max(const struct serve_master *m, const struct nk__serve *sv)
{
    long long n = m->metrics != NULL ? NK_METRICS_CLIENTS_MAX : 0;

    for (size_t i = 0; i < sv->nls; i++)
        if (sv->ls[i].conf->transport == NK_TRANSPORT_TCP)
            n += sv->ls[i].conf->max_conns;
    return n;
}

static int
serve_run(struct serve_master *m, struct nk_err *err)
{
    struct nk__serve *sv = m->cur;
    sigset_t set, old;
    int rc = 0;

    /* Everything is open but the signalfd (and the connections). */
    if (nk__fdlimit_check(serve_conns_max(m, sv), 1, err) < 0)
        return -1;

    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(serve_signals) / sizeof(serve_signals[0]);
         i++)
        sigaddset(&set, serve_signals[i]);
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
        sigaddset(&set, sig);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);
    m->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (m->sig.fd < 0 || nk__io_set(&m->loop, &m->sig, NK_IO_READ) < 0) {
        rc = nk__err_run(err, "signalfd: %s", strerror(errno));
        goto out;
    }
    if (serve_start(sv, err) < 0) {
        rc = -1;
        goto out;
    }
    if (sv->s->config_file != NULL)
        nk__log(NK_LOG_INFO, "Config %s (netkit %s)", sv->s->config_file,
                NK_VERSION_STRING);
    else
        nk__log(NK_LOG_INFO, "No config file: built-in defaults (netkit %s)",
                NK_VERSION_STRING);
    nk__log(NK_LOG_INFO, "Ready (%d worker%s)", sv->nworkers,
            sv->nworkers == 1 ? "" : "s");
    nk__notify("READY=1\nSTATUS=Serving %zu listener%s", sv->nls,
               sv->nls == 1 ? "" : "s");
    nk__timer_start(&m->loop, &m->status, m->loop.now + SERVE_STATUS_MS);
    nk__loop_run(&m->loop);
    serve_join(m->cur);
out:
    /* A signal that came after the last read would act on unblocking. */
    for (int i = 0;
         i < 64 && sigtimedwait(&set, NULL, &(struct timespec){0}) > 0; i++)
        ;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static int
serve_master_init(struct serve_master *m, struct nk_err *err)
{
    nk__io_init(&m->sig, -1, serve_on_signal);
    nk__timer_init(&m->status, serve_on_status);
    nk__io_init(&m->gone, eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC),
                serve_on_gone);
    if (nk__loop_init(&m->loop) < 0 || m->gone.fd < 0 ||
        nk__io_set(&m->loop, &m->gone, NK_IO_READ) < 0)
        return nk__err_run(err, "cannot set up the event loop: %s",
                           strerror(errno));
    return 0;
}

static void
serve_master_fini(struct serve_master *m)
{
    nk__metrics_free(m->metrics);
    nk__timer_stop(&m->loop, &m->status);
    while (m->retiring != NULL) { /* only after a failed start */
        struct nk__serve *sv = m->retiring;
        m->retiring = sv->next;
        serve_join(sv);
        serve_free(sv);
    }
    for (size_t i = 0; i < m->ncarry; i++)
        nk__free(m->carry[i].name);
    nk__free(m->carry);
    if (m->sig.fd >= 0)
        close(m->sig.fd);
    if (m->gone.fd >= 0)
        close(m->gone.fd);
    nk__loop_fini(&m->loop);
}

int
nk__serve(struct nk__settings *s, struct nk_err *err)
{
    struct serve_master m = {.loop.epfd = -1};
    struct nk__serve sv = {.s = s, .master = &m};
    size_t kept = 0;
    int rc = -1;

    m.cur = &sv;
    m.cur0 = NULL;
    if (serve_master_init(&m, err) < 0)
        goto out;
    serve_raise_nofile();
    if (serve_setup(&sv, NULL, &kept, err) < 0)
        goto out;
    m.cur0 = &sv.workers[0];
    if (s->metrics != NULL &&
        nk__metrics_bind(s->metrics, s->metrics_line ? s->config_file : NULL,
                         s->metrics_line, &m.metrics, err) < 0)
        goto out;
    if (nk__privileges_drop(s, err) < 0)
        goto out;
    for (int w = 0; w < sv.nworkers; w++)
        if (server_adopt(&sv, w, err) < 0)
            goto out;
    if (m.metrics != NULL &&
        nk__metrics_start(m.metrics, &m.loop, &m.cur0, err) < 0)
        goto out;
    rc = serve_run(&m, err);
    nk__counters_log(m.cur0); /* every connection has closed */
out:
    serve_master_fini(&m);
    if (m.cur != &sv) /* reloaded: the first configuration ended before */
        serve_free(m.cur);
    else
        serve_free(&sv);
    nk__resolve_stop();    /* every worker is forgotten by now */
    nk__unix_remove_all(); /* the socket files it bound */
    return rc;
}
