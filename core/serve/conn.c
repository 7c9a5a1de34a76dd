/*
 * conn.c -- one accepted TCP connection.  See conn.h for the data flow,
 * back-pressure and deferred closing.
 */
#include "serve/conn.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netdb.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "plugin/contract.h"
#include "plugin/loader.h"
#include "base/log.h"
#include "serve/access.h"
#include "serve/deadline.h"
#include "serve/flow.h"
#include "serve/proxy.h"
#include "serve/server.h"
#include "tls/tls.h"

static void conn_on_io(struct nk__loop *loop, struct nk__io *io,
                       unsigned events);
static void conn_on_turn(struct nk__defer *d);
static void conn_on_tls_more(struct nk__defer *d);
static void conn_flush(struct nk__conn *c);
static void conn_account(struct nk__conn *c);
static void conn_tls_start(struct nk__conn *c);
static void conn_tls_step(struct nk__conn *c);
static void conn_tls_failed(struct nk__conn *c, enum nk__tls_fail kind,
                            const char *why);
static ssize_t conn_sock_read(struct nk__conn *c, void *buf, size_t len);
static ssize_t conn_sock_send(struct nk__conn *c, const void *buf, size_t len);
static const char *conn_sock_why(const struct nk__conn *c);

static struct nk__loop *
conn_loop(const struct nk__conn *c)
{
    return &c->ls->srv->loop;
}

static const struct nk_plugin *
conn_plugin(const struct nk__conn *c)
{
    return c->ls->plugin->desc;
}

/* ---- the listener's LRU list ---------------------------------------- */

static void
lru_unlink(struct nk__conn *c)
{
    struct nk__listener *ls = c->ls;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        ls->lru_head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        ls->lru_tail = c->prev;
    c->prev = c->next = NULL;
}

static void
lru_append(struct nk__conn *c)
{
    struct nk__listener *ls = c->ls;

    c->prev = ls->lru_tail;
    c->next = NULL;
    if (ls->lru_tail != NULL)
        ls->lru_tail->next = c;
    else
        ls->lru_head = c;
    ls->lru_tail = c;
}

static void
lru_touch(struct nk__conn *c)
{
    c->last_active = conn_loop(c)->now;
    if (c->ls->lru_tail != c) {
        lru_unlink(c);
        lru_append(c);
    }
}

/* ---- opening and closing -------------------------------------------- */

/* Work the loop runs for a connection after the current dispatch, so that
 * the plugin is never called back from inside a host service. */
#define CONN_LATER_DRAIN   0x1u /* on_drain */
#define CONN_LATER_RELEASE 0x2u /* on_close, then free */
#define CONN_LATER_FLUSH   0x4u /* write what sends from elsewhere queued */
#define CONN_LATER_FLOW    0x8u /* on_writable (flow.c) */

static void
conn_later(struct nk__conn *c, unsigned what)
{
    c->pending |= what;
    nk__loop_defer(conn_loop(c), &c->later);
}

/* Free the connection once nothing can reach it any more: on_close has
 * run, the socket is closed, and no turn of work is queued for it. */
static void
conn_free_if_done(struct nk__conn *c)
{
    if (!c->released || c->lingering || c->turn.queued || c->tls_more.queued)
        return;
    nk__buf_free(&c->in);
    nk__buf_free(&c->out);
    nk__session_fini(&c->sess);
    nk__free(c->via);
    nk__free(c->addrs);
    nk__free(c);
}

static void
conn_run_later(struct nk__defer *d)
{
    struct nk__conn *c =
        (struct nk__conn *)((char *)d - offsetof(struct nk__conn, later));
    const struct nk_plugin *p = conn_plugin(c);
    unsigned what = c->pending;

    c->pending = 0;
    if (what & CONN_LATER_RELEASE) {
        /* on_close runs last of all the session's callbacks; the memory
         * stays valid until it returns, and until a lingering socket is
         * closed (which asks for this again). */
        if (!c->released && c->opened && p->on_close != NULL)
            p->on_close(c->ls->inst, &c->sess);
        else if (!c->released && !c->opened && c->outbound)
            /* Never connected, for whatever reason: the one answer a
             * connect is owed (connect_status is set by then). */
            p->on_connect(c->ls->inst, &c->sess, c->connect_status);
        c->released = 1;
        conn_free_if_done(c);
        return;
    }
    if ((what & CONN_LATER_FLUSH) && !c->closing) {
        conn_flush(c);
        if (!c->closing)
            conn_account(c);
    }
    if ((what & CONN_LATER_FLOW) && !c->closing)
        nk__flow_tell(c);
    if ((what & CONN_LATER_DRAIN) && !c->closing && p->on_drain != NULL)
        p->on_drain(c->ls->inst, &c->sess);
}

void
nk__conn_later_flow(struct nk__conn *c)
{
    conn_later(c, CONN_LATER_FLOW);
}

/* ---- the memory budget ---------------------------------------------- */

/* This worker's connection holding the most buffer memory, or NULL. */
static struct nk__conn *
conn_largest(struct nk__server *srv)
{
    struct nk__conn *best = NULL;

    for (size_t i = 0; i < srv->nlisteners; i++)
        for (struct nk__conn *c = srv->listeners[i].lru_head; c != NULL;
             c = c->next)
            if (!c->closing && c->charged > 0 &&
                (best == NULL || c->charged > best->charged))
                best = c;
    return best;
}

/* Buffer memory freed beyond this is given back to the system within
 * CONN_TRIM_MS: a spike of large partial messages leaves no lasting RSS. */
#define CONN_TRIM_MIN (4u << 20)
#define CONN_TRIM_MS  1000

void
nk__conn_on_trim(struct nk__loop *loop, struct nk__timer *t)
{
    struct nk__server *srv =
        (struct nk__server *)((char *)t -
                              offsetof(struct nk__server, trim_timer));

    (void)loop;
    srv->released = 0;
    nk__alloc_trim();
}

/* Buffers freed: once CONN_TRIM_MIN bytes have been, trim the heaps (the
 * large buffers were mappings of their own, returned already; these are
 * the smaller ones freed in the middle of a heap) -- at most once per
 * CONN_TRIM_MS, since a trim walks every heap. */
static void
conn_released(struct nk__server *srv, size_t n)
{
    srv->released += n;
    if (srv->released >= CONN_TRIM_MIN && !nk__timer_active(&srv->trim_timer))
        nk__timer_start(&srv->loop, &srv->trim_timer,
                        srv->loop.now + CONN_TRIM_MS);
}

/*
 * Count the connection's buffers against max_buffer_memory, shared by every
 * worker.  Past the budget, close the connections of this worker holding
 * the most until it is met again, as Redis's maxmemory-clients does: a
 * few peers each holding much are what fills it, and closing them frees
 * the most for the rest.  Called where the buffers may have grown, once
 * the connection's batch is over; may close c itself.
 */
static void
conn_account(struct nk__conn *c)
{
    struct nk__server *srv = c->ls->srv;
    size_t now =
        c->in.cap + c->out.cap +
        (c->tls_hs && c->tls != NULL && !c->closing ? NK_CONN_TLS_HS_COST : 0);
    long long delta = (long long)now - (long long)c->charged, total;

    if (delta == 0)
        return;
    c->charged = now;
    total = atomic_fetch_add(srv->buffered, delta) + delta;
    if (delta < 0)
        conn_released(srv, (size_t)-delta);
    if (delta < 0 || srv->buffer_budget == 0 || total <= srv->buffer_budget)
        return;
    while (atomic_load(srv->buffered) > srv->buffer_budget) {
        struct nk__conn *big = conn_largest(srv);
        char peer[NK_ADDRSTRLEN];
        if (big == NULL)
            break;
        nk__session_format(&big->sess, peer, sizeof(peer));
        nk__log(NK_LOG_WARN,
                "Buffers of all connections over max_buffer_memory "
                "(%lld bytes): closing %s, which holds %zu",
                srv->buffer_budget, peer, big->charged);
        big->ls->closed_memory++;
        nk__conn_close(big, "buffer memory budget");
    }
}

/* Give back the buffers of a connection whose session is over. */
static void
conn_drop_buffers(struct nk__conn *c)
{
    nk__buf_free(&c->in);
    nk__buf_free(&c->out);
    conn_account(c);
}

/* ---- deadlines ------------------------------------------------------ */

static void conn_close_socket(struct nk__conn *c);
static int conn_linger_done(struct nk__conn *c);

/* The earlier of two deadlines (0: none). */
static uint64_t
conn_earlier(uint64_t a, uint64_t b)
{
    return a == 0 ? b : b == 0 || a < b ? a : b;
}

/* The earliest of the connection's message and write deadlines and its
 * "Connection from" line, or 0. */
static uint64_t
conn_next_deadline(const struct nk__conn *c)
{
    const struct nk__listener *ls = c->ls;
    uint64_t mms = c->tls_hs ? ls->tls_hs_ms : ls->message_ms,
             m = c->msg_since && mms ? c->msg_since + mms : 0,
             w = c->out_since && ls->write_ms ? c->out_since + ls->write_ms : 0,
             a = c->announce ? c->opened_at + NK_CONN_ANNOUNCE_MS : 0;

    return conn_earlier(conn_earlier(m, w), a);
}

/* "Connection from ADDR [name]", once: at the peer's first bytes, at
 * NK_CONN_ANNOUNCE_MS, or as the connection closes. */
static void
conn_announce(struct nk__conn *c, int level)
{
    char peer[NK_ADDRSTRLEN];

    if (!c->announce)
        return;
    c->announce = 0;
    nk__session_format(&c->sess, peer, sizeof(peer));
    nk__log(level, "Connection from %s [%s]%s", peer, c->ls->conf->name,
            c->via != NULL ? c->via : "");
    nk__free(c->via);
    c->via = NULL;
}

/* Arm the deadline timer for the earliest deadline begun.  The timer is
 * lazy: a deadline that ended (the message completed, the output was
 * written) leaves it armed, and it looks again when it fires, so the fast
 * path (a message whole in one read, a reply the socket takes at once)
 * never touches it.  But a deadline that begins earlier than the timer is
 * armed for moves it forward: the message deadline (30 s by default) must
 * not hold back a write deadline of 5 s begun after it. */
static void
conn_watch_deadline(struct nk__conn *c)
{
    uint64_t when = conn_next_deadline(c);

    if (when == 0 || c->lingering ||
        (nk__timer_active(&c->deadline) && c->deadline.when <= when))
        return;
    nk__timer_start(conn_loop(c), &c->deadline, when);
}

static void
conn_on_deadline(struct nk__loop *loop, struct nk__timer *t)
{
    struct nk__conn *c =
        (struct nk__conn *)((char *)t - offsetof(struct nk__conn, deadline));
    struct nk__listener *ls = c->ls;

    if (c->connecting) {
        /* The connect timeout (the only deadline while connecting). */
        c->connect_status = NK_ETIMEDOUT;
        nk__conn_close(c, "connect timeout");
        return;
    }
    if (c->lingering) {
        if (conn_linger_done(c))
            conn_close_socket(c);
        else
            nk__timer_start(loop, t, loop->now + NK_CONN_LINGER_QUIET_MS);
        return;
    }
    if (c->proxy_wait) {
        nk__conn_close(c, "no PROXY header within message_timeout");
        return;
    }
    if (c->announce && c->opened_at + NK_CONN_ANNOUNCE_MS <= loop->now)
        conn_announce(c, NK_LOG_INFO);
    if (c->tls_hs) {
        conn_tls_failed(c, NK_TLS_FAIL_TIMEOUT,
                        "no TLS handshake within tls_handshake_timeout");
        return;
    }
    if (c->msg_since && ls->message_ms &&
        c->msg_since + ls->message_ms <= loop->now) {
        ls->closed_message++;
        nk__deadline_fire(c, NK_TIMEOUT_MESSAGE, "message timeout");
    } else if (c->out_since && ls->write_ms &&
               c->out_since + ls->write_ms <= loop->now) {
        ls->closed_write++;
        nk__deadline_fire(c, NK_TIMEOUT_WRITE, "write timeout");
    } else {
        conn_watch_deadline(c);
    }
}

/* "Connection closed ADDR (why) [name] (in 120 B, out 240 B, 35 ms)" */
static void
conn_log_closed(const struct nk__conn *c, int level, const char *peer,
                const char *why)
{
    uint64_t ms = conn_loop(c)->now - c->opened_at;
    char took[40];

    if (!nk__log_enabled(level))
        return;
    if (ms < 10000)
        snprintf(took, sizeof(took), "%llu ms", (unsigned long long)ms);
    else
        snprintf(took, sizeof(took), "%.1f s", (double)ms / 1000);
    nk__log(level,
            "Connection closed %s%s%s%s [%s] (in %llu B, out "
            "%llu B, %s)",
            peer, why != NULL ? " (" : "", why != NULL ? why : "",
            why != NULL ? ")" : "", c->ls->conf->name,
            (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
            took);
}

/* The session ends for the plugin: no more callbacks but on_close (from
 * the loop), no timers, a stale handle, and the log line.  The socket is
 * the caller's to close, now or after lingering. */
static void
conn_end_session(struct nk__conn *c, const char *why)
{
    struct nk__server *srv = c->ls->srv;
    char peer[NK_ADDRSTRLEN];
    /* Closed by the peer before it sent a byte: a health check. */
    int check =
        c->peer_gone && (c->announce || (c->proxy_wait && c->bytes_in == 0));

    c->closing = 1;
    if (c->connecting && c->connect_status == 0)
        c->connect_status = NK_ECANCELED; /* close, close_to, shutdown */
    if (srv->batch == c)
        nk__buf_consume(&srv->wbuf,
                        nk__buf_len(&srv->wbuf)); /* undeliverable */
    nk__ptimer_stop_all(&c->timers);
    nk__timer_stop(conn_loop(c), &c->deadline);
    nk__handle_del(&srv->sessions, NK_SID_HANDLE(c->sess.sid));
    conn_drop_buffers(c); /* undeliverable now, or already written */
    nk__session_format(&c->sess, peer, sizeof(peer));
    conn_announce(c, check ? NK_LOG_DEBUG : NK_LOG_INFO);
    if (check) {
        conn_log_closed(c, NK_LOG_DEBUG, peer, why);
        nk__ctr_add(&c->ls->ctr, NK_CTR_CLOSED_CHECK, 1);
    } else if (c->proxy_wait) {
        /* The session never began: a refusal, not a close. */
        nk__log(NK_LOG_WARN, "Refused %s on [listen.%s]: %s", peer,
                c->ls->conf->name,
                why != NULL ? why : "closed before its PROXY header");
        nk__ctr_add(&c->ls->ctr, NK_CTR_REFUSED_PROXY, 1);
    } else if (c->tls_hs) {
        /* Counted as a failed handshake (conn_tls_failed), not a close. */
        nk__log(NK_LOG_INFO, "Refused %s on [listen.%s]: %s", peer,
                c->ls->conf->name, why != NULL ? why : "TLS handshake failed");
    } else if (!c->quiet) {
        conn_log_closed(c, NK_LOG_INFO, peer, why);
    }
    if (!c->outbound && !c->proxy_wait && !c->quiet && !check && !c->tls_hs) {
        enum nk__ctr k = nk__ctr_close_cause(why, c->eof);
        if (k != NK_CTR_N)
            nk__ctr_add(&c->ls->ctr, k, 1);
    }
    conn_later(c, CONN_LATER_RELEASE);
}

/* Close the socket and give back its slot; the memory goes once on_close
 * has run (conn_run_later). */
static void
conn_close_socket(struct nk__conn *c)
{
    struct nk__listener *ls = c->ls;
    struct nk__server *srv = ls->srv;

    nk__timer_stop(conn_loop(c), &c->deadline);
    if (c->tls != NULL) {
        nk__tls_conn_free(c->tls);
        c->tls = NULL;
    }
    if (c->io.fd >= 0) { /* -1: an outbound one still looking up a name */
        nk__io_stop(conn_loop(c), &c->io);
        close(c->io.fd);
        c->io.fd = -1;
    }
    lru_unlink(c);
    ls->nconns--;
    srv->nconns--;
    atomic_fetch_sub(ls->slots, 1); /* outbound ones hold a slot too */
    if (c->perip_held)
        nk__perip_give(ls->perip, &c->sess.addr.sa);
    if (c->lingering) {
        c->lingering = 0;
        conn_later(c, CONN_LATER_RELEASE); /* free it, on_close done or not */
    }
    nk__server_conn_gone(srv);
}

void
nk__conn_close(struct nk__conn *c, const char *why)
{
    if (c->closing) {
        if (c->lingering)
            conn_close_socket(c); /* close now: stop lingering */
        return;
    }
    conn_end_session(c, why);
    conn_close_socket(c);
}

/*
 * An orderly close once every reply is written.  Closing a socket whose
 * receive queue holds unread bytes makes the kernel send RST, which can
 * destroy replies still in flight to the peer.  So unless the peer has
 * closed its side already, shut down ours (the peer reads EOF after the
 * last reply), read and discard what it still sends for at most
 * NK_CONN_LINGER_MS, then close: Apache's and nginx's lingering close.
 */
static void
conn_finish(struct nk__conn *c)
{
    conn_end_session(c, c->closing_why);
    if (c->tls != NULL)
        nk__tls_close_notify(c->tls);
    if (c->eof || shutdown(c->io.fd, SHUT_WR) < 0 ||
        nk__io_set(conn_loop(c), &c->io, NK_IO_READ) < 0) {
        conn_close_socket(c);
        return;
    }
    c->lingering = 1;
    c->out_since = conn_loop(c)->now;
    nk__timer_start(conn_loop(c), &c->deadline,
                    conn_loop(c)->now + NK_CONN_LINGER_QUIET_MS);
}

/* Lingering: has the peer acknowledged every byte written (or is it time
 * to stop waiting)? */
static int
conn_linger_done(struct nk__conn *c)
{
    int unacked = 0, got = c->linger_got;

    c->linger_got = 0;
    if (conn_loop(c)->now >= c->out_since + NK_CONN_LINGER_MS)
        return 1;
    return !got && (ioctl(c->io.fd, SIOCOUTQ, &unacked) < 0 || unacked == 0);
}

/* Lingering: discard what the peer sends until it closes. */
static void
conn_linger_read(struct nk__conn *c)
{
    uint8_t sink[16384];

    for (int i = 0; i < NK_CONN_READS_PER_WAKEUP; i++) {
        ssize_t n = read(c->io.fd, sink, sizeof(sink));
        if (n > 0)
            c->linger_got = 1;
        if (n > 0 || (n < 0 && errno == EINTR))
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        conn_close_socket(c); /* EOF or an error: done */
        return;
    }
    /* More to discard: the next wakeup goes on (level-triggered). */
}

/* A connection's record, registered with the loop and given a handle;
 * NULL when out of memory (nothing to undo then). */
static struct nk__conn *
conn_new(struct nk__listener *ls, int fd, const struct sockaddr *sa,
         socklen_t salen)
{
    struct nk__server *srv = ls->srv;
    struct nk__conn *c = nk__calloc(1, sizeof(*c));
    uint64_t h;

    if (c == NULL)
        return NULL;
    h = nk__handle_add(&srv->sessions, c);
    if (h == 0) {
        nk__free(c);
        return NULL;
    }
    nk__io_init(&c->io, fd, conn_on_io);
    nk__timer_init(&c->deadline, conn_on_deadline);
    c->ls = ls;
    c->sess.ls = ls;
    c->sess.sid = NK_SID_MAKE(srv->id, h);
    c->sess.transport = NK_TRANSPORT_TCP;
    nk__session_set_addr(&c->sess, sa, salen);
    c->later.cb = conn_run_later;
    c->turn.cb = conn_on_turn;
    c->tls_more.cb = conn_on_tls_more;
    c->rsize = NK_CONN_READ_SIZE;
    c->opened_at = srv->loop.now;
    nk__flow_init(c);
    return c;
}

/* Undo conn_new for a connection that never opened. */
static void
conn_discard(struct nk__conn *c)
{
    nk__handle_del(&c->ls->srv->sessions, NK_SID_HANDLE(c->sess.sid));
    nk__free(c);
}

/* Count the connection in and start its idle clock. */
static void
conn_adopt(struct nk__conn *c)
{
    struct nk__listener *ls = c->ls;
    struct nk__loop *loop = conn_loop(c);

    ls->nconns++;
    ls->srv->nconns++;
    c->last_active = loop->now;
    lru_append(c);
    if (ls->idle_ms > 0 && !nk__timer_active(&ls->idle_timer))
        nk__timer_start(loop, &ls->idle_timer, loop->now + ls->idle_ms);
}

/* The session begins: on_open. */
static int
conn_begin(struct nk__conn *c)
{
    struct nk__listener *ls = c->ls;
    const struct nk_plugin *p = ls->plugin->desc;
    int rc;

    /* opened is still 0 during on_open: a refusal owes no on_close.  A
     * close from inside on_open is deferred, and finds opened set. */
    if (p->on_open != NULL) {
        rc = p->on_open(ls->inst, &c->sess);
        if (rc < 0) {
            nk__conn_close(c, "refused by the plugin"); /* no on_close */
            return rc;
        }
    }
    c->opened = 1;
    return 0;
}

/* A new connection from an address at max_conns_per_ip: close it at once
 * (it took a slot: give it back), count it, and say so at most once a
 * second per listener. */
static void conn_refused_perip(struct nk__listener *ls,
                               const struct sockaddr *sa);

static void
conn_refuse_perip(struct nk__listener *ls, int fd, const struct sockaddr *sa)
{
    close(fd);
    atomic_fetch_sub(ls->slots, 1);
    conn_refused_perip(ls, sa);
}

/* Count a refusal at max_conns_per_ip; log at most once a second. */
static void
conn_refused_perip(struct nk__listener *ls, const struct sockaddr *sa)
{
    uint64_t now = ls->srv->loop.now;
    char peer[NK_ADDRSTRLEN];

    ls->refused_perip++;
    if (!nk__log_due(&ls->perip_logged, now))
        return;
    nk__addr_format(sa, peer, sizeof(peer));
    nk__log(NK_LOG_WARN,
            "Connection from %s refused: max_conns_per_ip (%u) reached "
            "(%llu refused so far)",
            peer, ls->perip->limit, (unsigned long long)ls->refused_perip);
}

int
nk__conn_open(struct nk__listener *ls, int fd, const struct sockaddr *sa,
              socklen_t salen)
{
    struct nk__loop *loop = &ls->srv->loop;
    struct nk__conn *c;
    char why[160], peer[NK_ADDRSTRLEN];
    int rc;

    /* Behind a balancer the limit applies to the header's address
     * (conn_proxy_done). */
    int perip = ls->perip != NULL && !ls->conf->proxy_protocol;

    if (perip && nk__perip_take(ls->perip, sa) < 0) {
        conn_refuse_perip(ls, fd, sa);
        return NK_EAGAIN;
    }
    c = conn_new(ls, fd, sa, salen);
    if (c == NULL) {
        if (perip)
            nk__perip_give(ls->perip, sa);
        close(fd);
        atomic_fetch_sub(ls->slots, 1);
        nk__ctr_add(&ls->ctr, NK_CTR_REFUSED_NO_MEMORY, 1);
        nk__log(NK_LOG_WARN, "Connection dropped: out of memory");
        return NK_ENOMEM;
    }
    nk__session_format(&c->sess, peer, sizeof(peer));
    for (size_t i = 0; i < ls->naccept_opts; i++)
        if (nk__sockopt_apply(fd, &ls->accept_opts[i], why, sizeof(why)) < 0)
            nk__log(NK_LOG_WARN, "%s on %s", why, peer);
    rc = nk__io_set(loop, &c->io, NK_IO_READ);
    if (rc < 0) {
        close(fd);
        conn_discard(c);
        if (perip)
            nk__perip_give(ls->perip, sa);
        atomic_fetch_sub(ls->slots, 1);
        nk__ctr_add(&ls->ctr, NK_CTR_REFUSED_NO_MEMORY, 1);
        nk__log(NK_LOG_WARN, "Connection dropped: %s", nk_strerror(rc));
        return rc;
    }
    c->perip_held = perip;
    conn_adopt(c);
    if (ls->conf->proxy_protocol) {
        /* The header first, within message_timeout; the session begins
         * once it names the client (conn_proxy_read). */
        c->proxy_wait = 1;
        if (ls->conf->proxy_trusted.n > 0 &&
            !nk__cidr_list_match(&ls->conf->proxy_trusted, sa)) {
            nk__conn_close(c, "not in proxy_trusted");
            return NK_EPROTO;
        }
        c->msg_since = loop->now;
        conn_watch_deadline(c);
        return 0;
    }
    if (ls->tls != NULL) {
        conn_tls_start(c); /* the session begins once it is done */
        return 0;
    }
    c->announce = 1; /* at the first bytes (conn_announce) */
    conn_watch_deadline(c);
    return conn_begin(c);
}

/* Start connecting to the next address left in c->addrs: 0 (in
 * progress), or the last attempt's -errno when none is left. */
static int
conn_try_next(struct nk__conn *c)
{
    int rc = NK_ENOHOST, one = 1;

    while (c->addrs != NULL && c->next_addr < c->addrs->n) {
        const union nk__sockaddr *a = &c->addrs->addr[c->next_addr].a;
        socklen_t alen = c->addrs->addr[c->next_addr].len;
        int fd = socket(a->sa.sa_family,
                        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        c->next_addr++;
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        nk__session_fini(&c->sess); /* the peer text of another address */
        nk__session_set_addr(&c->sess, &a->sa, alen);
        if (connect(fd, &a->sa, alen) < 0 && errno != EINPROGRESS) {
            rc = -errno;
            close(fd);
            continue;
        }
        nk__io_init(&c->io, fd, conn_on_io);
        rc = nk__io_set(conn_loop(c), &c->io, NK_IO_WRITE);
        if (rc == 0)
            return 0;
        close(fd);
        c->io.fd = -1;
    }
    return rc;
}

/* Forget the socket of a failed attempt (the next gets a new one). */
static void
conn_drop_socket(struct nk__conn *c)
{
    nk__io_stop(conn_loop(c), &c->io);
    close(c->io.fd);
    c->io.fd = -1;
}

/* The outbound connection is up, or failed: tell the plugin (a failure
 * once no address is left to try, from the loop: conn_run_later). */
static void
conn_connected(struct nk__conn *c)
{
    const struct nk_plugin *p = conn_plugin(c);
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    if (getsockopt(c->io.fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr == EINPROGRESS)
        return; /* not yet */
    if (soerr != 0) {
        int rc;
        conn_drop_socket(c);
        rc = conn_try_next(c);
        if (rc == 0)
            return; /* the next address */
        c->connect_status = rc == NK_ENOHOST ? -soerr : rc;
        nk__conn_close(c, strerror(soerr));
        return;
    }
    c->connecting = 0;
    nk__timer_stop(conn_loop(c), &c->deadline); /* the connect timeout */
    nk__free(c->addrs);
    c->addrs = NULL;
    c->opened = 1;
    p->on_connect(c->ls->inst, &c->sess, 0);
}

void
nk__conn_resolved(struct nk__conn *c, const struct nk__resolved *r)
{
    int rc = r->status;

    if (!c->resolving || c->closing)
        return;
    c->resolving = 0;
    if (rc == 0) {
        c->addrs = nk__malloc(sizeof(*r));
        if (c->addrs == NULL)
            rc = NK_ENOMEM;
    }
    if (rc == 0) {
        memcpy(c->addrs, r, sizeof(*r));
        c->next_addr = 0;
        rc = conn_try_next(c);
    }
    if (rc < 0) {
        c->connect_status = rc;
        nk__conn_close(c, nk_strerror(rc));
    }
}

int
nk__conn_connect(struct nk__listener *ls, const char *host, const char *port,
                 void *data, nk_sid *sid)
{
    struct nk__loop *loop = &ls->srv->loop;
    struct nk__resolved r;
    struct nk__conn *c;
    int rc;

    if (ls->plugin->desc->on_connect == NULL)
        return NK_EINVAL;
    rc = nk__resolve_numeric(host, port, &r);
    if (rc < 0 && rc != NK_EAGAIN)
        return rc;
    /* An outbound connection holds a max_conns slot like an accepted
     * one: the listener's descriptors stay within its limit. */
    if (atomic_fetch_add(ls->slots, 1) >= ls->conf->max_conns) {
        atomic_fetch_sub(ls->slots, 1);
        return NK_EAGAIN;
    }
    c = conn_new(ls, -1, &r.addr[0].a.sa, rc == 0 ? r.addr[0].len : 0);
    if (c == NULL) {
        atomic_fetch_sub(ls->slots, 1);
        return NK_ENOMEM;
    }
    c->outbound = 1;
    c->connecting = 1;
    c->sess.data = data;
    if (rc == 0) {
        c->addrs = nk__malloc(sizeof(r));
        if (c->addrs != NULL) {
            memcpy(c->addrs, &r, sizeof(r));
            rc = conn_try_next(c);
        } else
            rc = NK_ENOMEM;
    } else {
        /* A name: looked up off the loop; the answer comes as mail. */
        c->resolving = 1;
        rc = nk__resolve_start(ls->srv, ls->index, c->sess.sid, host, port);
    }
    if (rc < 0) {
        nk__free(c->addrs);
        conn_discard(c);
        atomic_fetch_sub(ls->slots, 1);
        return rc;
    }
    conn_adopt(c);
    if (ls->connect_ms > 0)
        nk__timer_start(loop, &c->deadline, loop->now + ls->connect_ms);
    if (sid != NULL)
        *sid = c->sess.sid;
    return 0;
}

/* ---- writing -------------------------------------------------------- */

/* Watch for what the connection is waiting on now. */
static void
conn_update_mask(struct nk__conn *c)
{
    unsigned mask = 0;

    if (c->connecting) {
        /* Writable means connected, or failed: conn_connected says. */
        if (c->io.fd >= 0 && nk__io_set(conn_loop(c), &c->io, NK_IO_WRITE) < 0)
            nk__conn_close(c, "cannot watch the socket");
        return;
    }
    if (!c->paused && !c->read_off && !c->close_after_write && !c->eof &&
        !c->draining && !c->backlog)
        mask |= NK_IO_READ;
    /* Paused, wait for writability even with nothing queued: the event
     * resumes reading (conn_on_writable), so a pause can never strand a
     * connection with no events at all. */
    if (nk__buf_len(&c->out) > 0 || c->paused || c->tls_rw)
        mask |= NK_IO_WRITE;
    if (nk__io_set(conn_loop(c), &c->io, mask) < 0)
        nk__conn_close(c, "cannot watch the socket");
    else if ((mask & NK_IO_READ) && c->tls != NULL &&
             (c->tls_again || nk__tls_pending(c->tls)))
        /* Decrypted bytes wait in the TLS layer, not in the socket: no
         * event would come for them. */
        nk__loop_soon(conn_loop(c), &c->tls_more);
}

/* Send what buf holds; returns 0 (possibly partly sent: EAGAIN) or -1 after
 * closing the connection on a socket error. */
static int
conn_write(struct nk__conn *c, struct nk__buf *buf)
{
    while (nk__buf_len(buf) > 0) {
        ssize_t n = conn_sock_send(c, nk__buf_data(buf), nk__buf_len(buf));
        if (n > 0) {
            nk__buf_consume(buf, (size_t)n);
            c->bytes_out += (uint64_t)n;
            nk__ctr_add(&c->ls->ctr, NK_CTR_BYTES_OUT, (uint64_t)n);
            lru_touch(c); /* a peer that reads is not idle */
        } else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && errno == EAGAIN)
            return 0;
        else {
            c->peer_gone = errno == EPIPE || errno == ECONNRESET;
            nk__conn_close(c, conn_sock_why(c));
            return -1;
        }
    }
    return 0;
}

/* Write the gathered replies (the worker's wbuf during this connection's
 * batch, then its own queue); keep what the socket would not take, and
 * wait for writability if anything is left. */
static void
conn_flush(struct nk__conn *c)
{
    struct nk__server *srv = c->ls->srv;
    struct nk__buf *w = &srv->wbuf;

    if (srv->batch == c && nk__buf_len(w) > 0) {
        /* Invariant: c->out is empty while replies gather in wbuf. */
        if (conn_write(c, w) < 0)
            return;
        if (nk__buf_len(w) > 0 &&
            nk__buf_append(&c->out, nk__buf_data(w), nk__buf_len(w)) < 0) {
            nk__conn_close(c, "out of memory");
            return;
        }
        nk__buf_consume(w, nk__buf_len(w));
    }
    if (c->connecting)
        return; /* the queue waits for the connection */
    if (conn_write(c, &c->out) < 0)
        return;
    nk__flow_output(c, nk__buf_len(&c->out));
    if (nk__buf_len(&c->out) == 0) {
        nk__buf_free(&c->out);
        c->out_since = 0;
        if (c->shut_wr && !c->wr_done) {
            /* shutdown_write: every byte is out, now the FIN. */
            c->wr_done = 1;
            if (shutdown(c->io.fd, SHUT_WR) < 0 && !c->eof) {
                nk__conn_close(c, strerror(errno));
                return;
            }
        }
        if (c->close_after_write ||
            (c->eof && (c->wr_done || !nk__flow_half_close(c)))) {
            conn_finish(c);
            return;
        }
        if (c->blocked) {
            /* The socket takes output again: on_drain, from the loop. */
            c->blocked = 0;
            conn_later(c, CONN_LATER_DRAIN);
        }
    } else {
        c->blocked = 1;
        if (c->out_since == 0) {
            c->out_since = conn_loop(c)->now;
            conn_watch_deadline(c);
        }
    }
    conn_update_mask(c);
}

/* Where a reply goes: the worker's wbuf while this connection's batch runs
 * and nothing of its own is queued (else its own queue, to keep order). */
static struct nk__buf *
conn_outbuf(struct nk__conn *c)
{
    struct nk__server *srv = c->ls->srv;

    return srv->batch == c && nk__buf_len(&c->out) == 0 ? &srv->wbuf : &c->out;
}

/* Write head + iov + tail straight to the socket; queue what did not fit.
 * A failure closes the connection (the plugin has nothing to undo). */
static void
conn_send_direct(struct nk__conn *c, struct iovec *v, int n, size_t size)
{
    struct msghdr msg = {.msg_iov = v, .msg_iovlen = (size_t)n};
    ssize_t w;

    do
        w = sendmsg(c->io.fd, &msg, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0 && errno != EAGAIN) {
        nk__conn_close(c, strerror(errno));
        return;
    }
    if (w > 0) {
        c->bytes_out += (uint64_t)w;
        nk__ctr_add(&c->ls->ctr, NK_CTR_BYTES_OUT, (uint64_t)w);
    }
    /* Part of the message may be on the wire: the rest must be queued
     * whole, or the byte stream would be corrupt -- room first. */
    if (nk__buf_reserve(&c->out, size - (w > 0 ? (size_t)w : 0)) < 0) {
        nk__conn_close(c, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++) {
        size_t skip =
            w > 0 ? ((size_t)w < v[i].iov_len ? (size_t)w : v[i].iov_len) : 0;
        w -= (ssize_t)skip;
        nk__buf_append(&c->out, (char *)v[i].iov_base + skip,
                       v[i].iov_len - skip);
    }
}

int
nk__conn_send(struct nk__conn *c, const struct iovec *iov, int iovcnt)
{
    /* head, the payload's iovecs, tail */
    struct iovec v[NK_SEND_IOV_MAX + 2];
    struct nk_wrap w;
    struct nk__buf *b;
    size_t total = 0, size;
    int n, rc;

    if (iovcnt < 0 || iovcnt > NK_SEND_IOV_MAX || (iovcnt > 0 && iov == NULL))
        return NK_EINVAL;
    if (c->closing || c->shut_wr)
        return NK_EPIPE; /* the peer is gone, or our side is shut */
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > 0 && iov[i].iov_base == NULL)
            return NK_EINVAL;
        total += iov[i].iov_len;
    }
    rc = nk__plugin_encode(conn_plugin(c), c->ls->inst, total, &w);
    if (rc < 0)
        return rc;
    v[0] = (struct iovec){(void *)nk__wrap_head(&w), w.head_len};
    memcpy(&v[1], iov, (size_t)iovcnt * sizeof(*iov));
    v[iovcnt + 1] = (struct iovec){(void *)nk__wrap_tail(&w), w.tail_len};
    n = iovcnt + 2;
    size = w.head_len + total + w.tail_len;
    if (nk__buf_len(&c->out) > c->ls->max_output) {
        /* Answers to this peer stop at the high-water mark (it is paused),
         * so only sends from elsewhere -- a plugin writing to other
         * sessions -- get a queue this long: a consumer that cannot keep
         * up.  One large message is always taken whole. */
        nk__conn_close(c, "output queue over its limit");
        return NK_EPIPE;
    }
    b = conn_outbuf(c);
    if (nk__buf_len(b) == 0 && nk__buf_len(&c->out) == 0 &&
        size >= NK_CONN_DIRECT_MIN && !c->connecting && c->tls == NULL) {
        /* Large and first in line: gathered write, no copy. */
        conn_send_direct(c, v, n, size);
        b = &c->out;
    } else if (nk__buf_reserve(b, size) < 0) {
        return NK_ENOMEM; /* nothing of it was queued */
    } else {
        for (int i = 0; i < n; i++)
            nk__buf_append(b, v[i].iov_base, v[i].iov_len);
    }
    if (c->closing)
        return NK_EPIPE; /* the write failed: the peer is gone */
    nk__ctr_add(&c->ls->ctr, NK_CTR_MSGS_OUT, 1);
    if (nk__buf_len(b) > c->wm_high && !nk__flow_self(c)) {
        /* The peer is not keeping up: stop decoding until it drains. */
        conn_flush(c);
        if (!c->closing && nk__buf_len(&c->out) > c->wm_high)
            c->paused = 1;
    }
    if (!c->closing)
        nk__flow_output(c, nk__buf_len(&c->out) +
                               (b == &c->out ? 0 : nk__buf_len(b)));
    if (!c->closing && c->ls->srv->batch != c)
        /* A send from elsewhere (a broadcast, a timer, another session):
         * write once after this dispatch, together with whatever else is
         * sent to this peer meanwhile -- one write for a burst of posts,
         * not one per message. */
        conn_later(c, CONN_LATER_FLUSH);
    return c->closing ? NK_EPIPE : 0;
}

size_t
nk__conn_buffered(const struct nk__conn *c)
{
    const struct nk__server *srv = c->ls->srv;

    if (c->delivering)
        return c->in_rest;
    /* During the batch, what was read may still be in the worker's rbuf
     * (c->in is empty then: reads go to it only while it holds a part). */
    return nk__buf_len(&c->in) +
           (srv->batch == c ? nk__buf_len(&srv->rbuf) : 0);
}

size_t
nk__conn_queued(struct nk__conn *c)
{
    const struct nk__server *srv = c->ls->srv;
    size_t n =
        nk__buf_len(&c->out) + (srv->batch == c ? nk__buf_len(&srv->wbuf) : 0);

    /* A plugin that saw a queue may be waiting for it to empty: owe it an
     * on_drain, however the queue empties (even in this batch's write). */
    if (n > 0)
        c->blocked = 1;
    return n;
}

void
nk__conn_close_after_write(struct nk__conn *c)
{
    if (c->connecting) {
        /* Not connected yet: cancel (what was queued is never written);
         * on_connect gets NK_ECANCELED from the loop. */
        nk__conn_close(c, "connect cancelled");
        return;
    }
    c->close_after_write = 1;
    if (c->ls->srv->batch != c && !c->closing)
        conn_flush(c);
}

/* ---- reading -------------------------------------------------------- */

/* Refuse a message over the listener's max_message: log and close after
 * writing the replies to the messages before it. */
static void
conn_too_big(struct nk__conn *c, size_t size)
{
    char peer[NK_ADDRSTRLEN];

    nk__session_format(&c->sess, peer, sizeof(peer));
    nk__log(NK_LOG_WARN,
            "Message of %zu bytes from %s is over the limit of %zu: closing",
            size, peer, c->ls->max_message);
    /* The plugin may answer it too (HTTP's 413, a Redis error). */
    if (conn_plugin(c)->on_bad_input != NULL)
        conn_plugin(c)->on_bad_input(c->ls->inst, &c->sess, NK_EFRAMETOOBIG,
                                     "message over the size limit");
    c->close_after_write = 1;
    c->closing_why = "frame too big";
}

/* decode said the input is malformed: let the plugin answer it
 * (on_bad_input), then close once the answers are written. */
static void
conn_bad_input(struct nk__conn *c, int err, const char *why)
{
    const struct nk_plugin *p = conn_plugin(c);
    char peer[NK_ADDRSTRLEN];

    nk__session_format(&c->sess, peer, sizeof(peer));
    nk__ctr_add(&c->ls->ctr, NK_CTR_DECODE_ERRORS, 1);
    nk__log(NK_LOG_WARN, "Bad input from %s: %s%s%s: closing", peer,
            nk_strerror(err), why != NULL ? ": " : "", why != NULL ? why : "");
    if (p->on_bad_input != NULL)
        p->on_bad_input(c->ls->inst, &c->sess, err, why);
    c->close_after_write = 1;
    c->closing_why = "bad input";
}

/* The plugin's decode broke its contract: that costs the connection. */
static void
conn_broken(struct nk__conn *c, const char *rule)
{
    char peer[NK_ADDRSTRLEN];

    nk__session_format(&c->sess, peer, sizeof(peer));
    nk__ctr_add(&c->ls->ctr, NK_CTR_DECODE_ERRORS, 1);
    nk__log(NK_LOG_ERROR, "Plugin %s broke the decode contract (%s) on %s",
            c->ls->plugin->name, rule, peer);
    nk__conn_close(c, "plugin error");
}

/* Decode and answer every complete message in `in`. */
static void
conn_process(struct nk__conn *c, struct nk__buf *in)
{
    const struct nk_plugin *p = conn_plugin(c);
    struct nk__listener *ls = c->ls;

    c->backlog = 0;
    while (!c->closing && !c->paused && !c->read_off && !c->close_after_write &&
           nk__buf_len(in) > 0) {
        struct nk_frame f = {0};
        const uint8_t *buf = nk__buf_data(in);
        size_t len = nk__buf_len(in);
        long rc;
        const char *broken;

        if (ls->srv->turn_msgs == 0) {
            /* This connection's share of the turn is used up: the rest
             * waits until every other connection has had its share. */
            c->backlog = 1;
            nk__loop_soon(conn_loop(c), &c->turn);
            return;
        }
        ls->srv->turn_msgs--;
        rc = p->decode(ls->inst, buf, len, &f);
        broken = nk__decode_check(rc, buf, len, &f, 1, ls->max_message);

        if (broken != NULL) {
            conn_broken(c, broken);
            return;
        }
        if (rc > 0 && (size_t)rc > ls->max_message) {
            /* Arrived whole in one read, but over the limit all the same. */
            conn_too_big(c, (size_t)rc);
            return;
        } else if (rc > 0) {
            int mrc;
            c->need = 0;
            c->msg_since = 0;
            c->head_told = 0;
            nk__ctr_add(&ls->ctr, NK_CTR_MSGS_IN, 1);
            c->delivering = 1;
            c->in_rest = len - (size_t)rc;
            mrc = p->on_message(ls->inst, &c->sess, f.payload, f.payload_len);
            c->delivering = 0;
            nk__buf_consume(in, (size_t)rc);
            if (mrc == NK_ECLOSE)
                c->close_after_write = 1;
            else if (mrc < 0)
                nk__conn_close(c, nk_strerror(mrc));
        } else if (rc == NK_ENEEDMORE) {
            /* A codec that cannot tell the length yet (a line protocol)
             * has at least what is buffered plus one byte to go. */
            size_t need = f.need > 0 ? f.need : len + 1;
            if (need > ls->max_message)
                conn_too_big(c, need);
            c->need = f.need;
            if (c->msg_since == 0) {
                c->msg_since = conn_loop(c)->now;
                conn_watch_deadline(c);
            }
            if (f.head_len > 0 && !c->head_told && !c->closing &&
                !c->close_after_write && p->on_head != NULL) {
                /* The head is whole: act before the body (100-continue). */
                c->head_told = 1;
                p->on_head(ls->inst, &c->sess, buf, f.head_len);
            }
            return;
        } else {
            conn_bad_input(c, (int)rc, f.why);
        }
    }
}

/* After a read served from the worker's rbuf: keep what is left (a partial
 * message, or messages held back by back-pressure) in the connection's own
 * buffer, and empty rbuf for the next connection. */
static void
conn_keep_rest(struct nk__conn *c, struct nk__buf *rbuf)
{
    if (!c->closing && !c->close_after_write && nk__buf_len(rbuf) > 0 &&
        nk__buf_append(&c->in, nk__buf_data(rbuf), nk__buf_len(rbuf)) < 0)
        nk__conn_close(c, "out of memory");
    nk__buf_consume(rbuf, nk__buf_len(rbuf));
}

/* A batch is over: drop an emptied input buffer and write what was
 * gathered.  If that drained a paused connection below the low-water mark,
 * answer what was held back (which may gather and pause again), so a pause
 * always ends once the peer reads.  Then give the worker's buffers back. */
static void
conn_end_batch(struct nk__conn *c)
{
    struct nk__server *srv = c->ls->srv;

    srv->batch = c;
    while (!c->closing) {
        if (nk__buf_len(&c->in) == 0)
            nk__buf_free(&c->in);
        conn_flush(c);
        if (c->closing || !c->paused || nk__buf_len(&c->out) >= c->wm_low)
            break;
        c->paused = 0;
        conn_process(c, &c->in);
    }
    if (c->draining && !c->closing && !c->paused && !c->backlog &&
        !c->close_after_write) {
        /* Shutting down: every complete message read has been answered
         * (what is left is at most a partial one): close once written. */
        c->close_after_write = 1;
        conn_flush(c);
    }
    srv->batch = NULL;
    if (!c->closing)
        conn_account(c);
}

/* Half-close: tell on_eof that the peer's input ended, once every
 * complete message before it has been delivered (none is held back by a
 * pause or the turn's share). */
static void
conn_eof(struct nk__conn *c)
{
    if (!c->eof || c->eof_told || c->closing || c->close_after_write ||
        c->read_off || c->paused || c->backlog || !nk__flow_half_close(c))
        return;
    c->eof_told = 1;
    conn_plugin(c)->on_eof(c->ls->inst, &c->sess);
}

/* The next turn: answer more of what the connection holds. */
static void
conn_on_turn(struct nk__defer *d)
{
    struct nk__conn *c =
        (struct nk__conn *)((char *)d - offsetof(struct nk__conn, turn));
    struct nk__server *srv = c->ls->srv;

    if (c->closing) {
        conn_free_if_done(c);
        return;
    }
    srv->batch = c;
    srv->turn_msgs = NK_CONN_TURN_MESSAGES;
    conn_process(c, &c->in);
    conn_eof(c);
    conn_end_batch(c);
}

void
nk__conn_kick(struct nk__conn *c)
{
    if (c->closing)
        return;
    if (c->ls->srv->batch != c)
        conn_flush(c); /* and watch the right events */
    else
        conn_update_mask(c); /* the batch writes at its end */
    if (!c->closing && !c->read_off && !c->paused && !c->backlog &&
        nk__buf_len(&c->in) > 0)
        nk__loop_soon(conn_loop(c), &c->turn); /* what waited */
}

static void
conn_on_readable(struct nk__conn *c)
{
    struct nk__server *srv = c->ls->srv;
    size_t got = 0;

    srv->batch = c;
    srv->turn_msgs = NK_CONN_TURN_MESSAGES;
    lru_touch(c);
    for (int i = 0; i < NK_CONN_READS_PER_WAKEUP; i++) {
        /* A partial message keeps growing in the connection's own buffer;
         * anything else is read into the worker's. */
        struct nk__buf *in = nk__buf_len(&c->in) > 0 ? &c->in : &srv->rbuf;
        size_t len = nk__buf_len(in), want = c->rsize, room;
        ssize_t n;

        if (c->closing || c->paused || c->read_off || c->close_after_write ||
            c->backlog || got >= NK_CONN_TURN_BYTES)
            break; /* level-triggered: the rest is read next turn */
        /* Reading toward a long message's announced end, grow with what
         * has arrived (at most doubling), not with what a length field
         * promises: six bytes do not reserve a megabyte. */
        if (c->need > len && c->need - len > want)
            want = c->need - len < len ? c->need - len
                   : len > want        ? len
                                       : want;
        if (nk__buf_reserve(in, want) < 0) {
            nk__conn_close(c, "out of memory");
            break;
        }
        room = in->cap - in->end;
        n = conn_sock_read(c, in->base + in->end, room);
        if (n > 0) {
            in->end += (size_t)n;
            got += (size_t)n;
            c->bytes_in += (uint64_t)n;
            nk__ctr_add(&c->ls->ctr, NK_CTR_BYTES_IN, (uint64_t)n);
            conn_announce(c, NK_LOG_INFO);
            conn_process(c, in);
            if (in == &srv->rbuf)
                conn_keep_rest(c, in);
            if ((size_t)n < room) {
                /* Drained: save a read that would say EAGAIN, and let the
                 * read size settle back once the burst is over. */
                if (c->rsize > NK_CONN_READ_SIZE)
                    c->rsize /= 2;
                break;
            }
            if (c->rsize < NK_CONN_READ_MAX)
                c->rsize *= 2;
        } else if (n == 0) {
            c->eof = 1;
            c->peer_gone = 1;
            conn_eof(c);
            break;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN) {
            break;
        } else {
            c->peer_gone = 1;
            nk__conn_close(c, conn_sock_why(c));
            break;
        }
    }
    conn_end_batch(c);
}

static void
conn_on_writable(struct nk__conn *c)
{
    if (c->tls_rw) {
        c->tls_rw = 0; /* what TLS had to write first can go now */
        conn_on_readable(c);
        return;
    }
    /* The replies queue behind c->out (conn_outbuf keeps the order). */
    c->ls->srv->turn_msgs = NK_CONN_TURN_MESSAGES;
    conn_end_batch(c);
}

/* ---- the PROXY protocol --------------------------------------------- */

/* The header named the client: it becomes the session's address (unless
 * LOCAL or UNKNOWN: a balancer's own check), allow/deny apply to it, the
 * session begins, and what followed the header is served. */
static void
conn_proxy_done(struct nk__conn *c, const struct nk__proxy_hdr *h, long len)
{
    struct nk__listener *ls = c->ls;
    struct nk__server *srv = ls->srv;
    char via[NK_ADDRSTRLEN], peer[NK_ADDRSTRLEN], tail[NK_ADDRSTRLEN + 40];

    nk__buf_consume(&c->in, (size_t)len);
    nk__session_format(&c->sess, via, sizeof(via));
    c->proxy_wait = 0;
    c->msg_since = 0;
    if (!h->local) {
        nk__session_fini(&c->sess); /* no peer text of the old address */
        nk__session_set_addr(&c->sess, (const struct sockaddr *)&h->src,
                             h->srclen);
    }
    if (!nk__access_check(ls, &c->sess.addr.sa)) {
        c->quiet = 1; /* logged and counted as a denial */
        nk__conn_close(c, "denied");
        return;
    }
    if (ls->perip != NULL) {
        if (nk__perip_take(ls->perip, &c->sess.addr.sa) < 0) {
            conn_refused_perip(ls, &c->sess.addr.sa);
            c->quiet = 1;
            nk__conn_close(c, "max_conns_per_ip");
            return;
        }
        c->perip_held = 1;
    }
    /* Logged at the first bytes after the header, as for any connection:
     * a balancer's check sends the header alone, then resets.  Over TLS,
     * once the handshake is done (conn_tls_done). */
    snprintf(tail, sizeof(tail), " (via %s, PROXY v%d%s)", via, h->version,
             h->local ? " LOCAL" : "");
    c->via = nk__strdup(tail);
    if (ls->tls != NULL) {
        conn_tls_start(c); /* the header, then the handshake */
        return;
    }
    c->announce = 1;
    if (c->via == NULL || nk__buf_len(&c->in) > 0) {
        nk__session_format(&c->sess, peer, sizeof(peer));
        nk__log(NK_LOG_INFO, "Connection from %s [%s]%s", peer, ls->conf->name,
                tail);
        c->announce = 0;
    }
    conn_watch_deadline(c);
    if (conn_begin(c) < 0 || c->closing)
        return;
    srv->batch = c;
    srv->turn_msgs = NK_CONN_TURN_MESSAGES;
    conn_process(c, &c->in);
    conn_end_batch(c);
}

/* TLS after the header: of the n bytes just peeked, take off the socket
 * those the header holds (all of them while it is incomplete), and keep
 * only the header in `in`. */
static int
conn_proxy_take(struct nk__conn *c, long rc, ssize_t n)
{
    size_t had = nk__buf_len(&c->in) - (size_t)n,
           take = rc > 0 ? (size_t)rc - had : (size_t)n;
    uint8_t sink[512];

    if (rc > 0)
        c->in.end -= (size_t)n - take;
    while (take > 0) {
        ssize_t r =
            read(c->io.fd, sink, take < sizeof(sink) ? take : sizeof(sink));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            nk__conn_close(c, r == 0 ? "closed before its PROXY header"
                                     : strerror(errno));
            return -1;
        }
        take -= (size_t)r;
    }
    return 0;
}

/* Read and parse the PROXY header; nothing else happens on the
 * connection until it is whole. */
static void
conn_proxy_read(struct nk__conn *c)
{
    for (int i = 0; i < NK_CONN_READS_PER_WAKEUP; i++) {
        struct nk__proxy_hdr h;
        ssize_t n;
        long rc;

        if (nk__buf_reserve(&c->in, 4096) < 0) {
            nk__conn_close(c, "out of memory");
            return;
        }
        /* TLS follows the header: peek, so that its first bytes stay in
         * the socket for the handshake (conn_proxy_take). */
        n = recv(c->io.fd, c->in.base + c->in.end, c->in.cap - c->in.end,
                 c->ls->tls != NULL ? MSG_PEEK : 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            c->peer_gone = 1;
            nk__conn_close(c, n == 0 ? "closed before its PROXY header"
                                     : strerror(errno));
            return;
        }
        c->in.end += (size_t)n;
        c->bytes_in += (uint64_t)n;
        nk__ctr_add(&c->ls->ctr, NK_CTR_BYTES_IN, (uint64_t)n);
        rc = nk__proxy_parse(nk__buf_data(&c->in), nk__buf_len(&c->in),
                             c->ls->conf->proxy_protocol, &h);
        if (c->ls->tls != NULL && rc >= 0 && conn_proxy_take(c, rc, n) < 0)
            return;
        if (rc > 0) {
            conn_proxy_done(c, &h, rc);
            return;
        }
        if (rc < 0) {
            char why[160];
            snprintf(why, sizeof(why), "bad PROXY header: %s", h.why);
            nk__conn_close(c, why);
            return;
        }
    }
    conn_account(c);
}

static void
conn_on_io(struct nk__loop *loop, struct nk__io *io, unsigned events)
{
    struct nk__conn *c = (struct nk__conn *)io;

    (void)loop;
    if (c->lingering) {
        conn_linger_read(c);
        return;
    }
    if (c->closing)
        return;
    if (c->connecting) {
        conn_connected(c);
        if (!c->closing && !c->connecting)
            conn_end_batch(c); /* write what was sent meanwhile */
        return;
    }
    if (c->proxy_wait && (events & NK_IO_READ))
        conn_proxy_read(c);
    else if (c->tls_hs)
        conn_tls_step(c);
    else if (events & NK_IO_READ)
        conn_on_readable(c);
    else if (events & NK_IO_WRITE)
        conn_on_writable(c);
}

void
nk__conn_drain(struct nk__conn *c)
{
    if (c->closing || c->draining)
        return;
    c->draining = 1; /* no more reads; answer what was read, then close */
    if (c->connecting || c->tls_hs) {
        nk__conn_close(c, "shutdown");
        return;
    }
    conn_end_batch(c);
    if (!c->closing)
        conn_update_mask(c);
}

void
nk__conn_drain_next(struct nk__listener *ls)
{
    struct nk__conn *c = ls->lru_head;

    lru_unlink(c);
    lru_append(c);
    nk__conn_drain(c);
}

void
nk__conn_idle_sweep(struct nk__listener *ls)
{
    struct nk__loop *loop = &ls->srv->loop;

    while (ls->lru_head != NULL &&
           ls->lru_head->last_active + ls->idle_ms <= loop->now) {
        struct nk__conn *c = ls->lru_head;
        if (!c->closing)
            ls->closed_idle++;
        /* Still open: writing on_timeout's answer, then closing. */
        if (nk__deadline_fire(c, NK_TIMEOUT_IDLE, "idle timeout"))
            lru_touch(c);
    }
    if (ls->lru_head != NULL)
        nk__timer_start(loop, &ls->idle_timer,
                        ls->lru_head->last_active + ls->idle_ms);
}

/* ---- TLS ------------------------------------------------------------ */

_Static_assert(NK_CTR_TLS_FAIL + NK_TLS_FAIL_N - 1 == NK_CTR_TLS_FAIL_LAST,
               "one counter per enum nk__tls_fail");

/* The socket's bytes, through the TLS layer when there is one: read(2)'s
 * and send(2)'s contract either way (tls/tls.h). */
static ssize_t
conn_sock_read(struct nk__conn *c, void *buf, size_t len)
{
    int want_write = 0, again = 0;
    ssize_t n;

    if (c->tls == NULL)
        return read(c->io.fd, buf, len);
    n = nk__tls_read(c->tls, buf, len, &want_write, &again);
    c->tls_rw = want_write;
    c->tls_again = again;
    return n;
}

static ssize_t
conn_sock_send(struct nk__conn *c, const void *buf, size_t len)
{
    if (c->tls == NULL)
        return send(c->io.fd, buf, len, MSG_NOSIGNAL);
    return nk__tls_write(c->tls, buf, len);
}

static const char *
conn_sock_why(const struct nk__conn *c)
{
    return c->tls != NULL && errno == EPROTO ? nk__tls_why() : strerror(errno);
}

/* The TLS layer holds decrypted bytes, or the end of the stream: read
 * them as if the socket said. */
static void
conn_on_tls_more(struct nk__defer *d)
{
    struct nk__conn *c =
        (struct nk__conn *)((char *)d - offsetof(struct nk__conn, tls_more));

    if (c->closing) {
        conn_free_if_done(c);
        return;
    }
    if (!c->paused && !c->close_after_write && !c->eof && !c->draining &&
        !c->backlog && c->tls != NULL &&
        (c->tls_again || nk__tls_pending(c->tls))) {
        c->tls_again = 0;
        conn_on_readable(c);
    }
}

/* The handshake begins, within tls_handshake_timeout.  The TLS state
 * (tens of KiB in OpenSSL once a record is read) is made when the first
 * bytes arrive, and counted against max_buffer_memory until the handshake
 * is done, so a flood of idle or slow handshakes is bounded by max_conns,
 * the deadline and the budget. */
static void
conn_tls_start(struct nk__conn *c)
{
    c->tls_hs = 1;
    c->msg_since = conn_loop(c)->now;
    conn_watch_deadline(c);
    /* Nothing read yet (a ClientHello after a PROXY header was only
     * peeked): the socket says when it is readable. */
}

static void
conn_tls_failed(struct nk__conn *c, enum nk__tls_fail kind, const char *why)
{
    nk__ctr_add(&c->ls->ctr, (enum nk__ctr)(NK_CTR_TLS_FAIL + (int)kind), 1);
    nk__conn_close(c, why);
}

/* The handshake is done: log what it settled, then the session begins. */
static void
conn_tls_done(struct nk__conn *c)
{
    struct nk__listener *ls = c->ls;
    const char *version = nk__tls_version(c->tls);
    char peer[NK_ADDRSTRLEN], subject[256] = "", alpn[64] = "";
    size_t alen;
    const uint8_t *a = nk__tls_alpn(c->tls, &alen);

    c->tls_hs = 0;
    c->msg_since = 0;
    conn_account(c); /* the handshake's charge goes */
    if (c->closing)
        return;
    nk__ctr_add(&ls->ctr, NK_CTR_TLS_OK, 1);
    nk__ctr_add(&ls->ctr,
                strcmp(version, "TLSv1.3") == 0 ? NK_CTR_TLS_13 : NK_CTR_TLS_12,
                1);
    if (nk__tls_resumed(c->tls))
        nk__ctr_add(&ls->ctr, NK_CTR_TLS_RESUMED, 1);
    nk__tls_log_offload(c->tls, ls->conf->name);
    if (nk__log_enabled(NK_LOG_INFO)) {
        if (a != NULL)
            snprintf(alpn, sizeof(alpn), ", ALPN %.*s", (int)alen,
                     (const char *)a);
        char name[200];
        if (nk__tls_peer_subject(c->tls, name, sizeof(name)) == 0)
            snprintf(subject, sizeof(subject), ", client %s", name);
        nk__session_format(&c->sess, peer, sizeof(peer));
        nk__log(NK_LOG_INFO, "Connection from %s [%s] (%s%s%s%s)%s", peer,
                ls->conf->name, version,
                nk__tls_resumed(c->tls) ? ", resumed" : "", alpn, subject,
                c->via != NULL ? c->via : "");
    }
    nk__free(c->via);
    c->via = NULL;
    if (nk__io_set(conn_loop(c), &c->io, NK_IO_READ) < 0) {
        nk__conn_close(c, "cannot watch the socket");
        return;
    }
    if (conn_begin(c) < 0 || c->closing)
        return;
    if (nk__tls_pending(c->tls))
        nk__loop_soon(conn_loop(c), &c->tls_more);
}

/* One step of the handshake, when the socket is ready for it. */
static void
conn_tls_step(struct nk__conn *c)
{
    unsigned want = NK_IO_READ;
    const char *why = NULL;
    enum nk__tls_fail kind = NK_TLS_FAIL_PROTOCOL;
    int rc;

    if (c->tls == NULL) {
        c->tls = nk__tls_accept(c->ls->tls, c->io.fd);
        if (c->tls == NULL) {
            nk__ctr_add(&c->ls->ctr, NK_CTR_REFUSED_NO_MEMORY, 1);
            c->quiet = 1;
            nk__conn_close(c, "out of memory");
            return;
        }
        conn_account(c); /* charged while the handshake lasts */
        if (c->closing)
            return;
    }
    rc = nk__tls_handshake(c->tls, &want, &why, &kind);

    if (rc > 0)
        conn_tls_done(c);
    else if (rc < 0)
        conn_tls_failed(c, kind, why);
    else if (nk__io_set(conn_loop(c), &c->io, want) < 0)
        nk__conn_close(c, "cannot watch the socket");
}
