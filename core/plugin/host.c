/*
 * host.c -- the services table every plugin instance gets (struct nk_host):
 * the only way a plugin reaches the core.  Each session service dispatches
 * on the session's transport to the TCP connection or the UDP socket
 * behind it; instance services (timers, post, connect) act on the
 * instance's listener in its worker (struct nk_ctx).
 *
 * No service calls the plugin back: what a send or close causes (on_close,
 * on_drain), and what post delivers (on_post), runs from the loop after the
 * plugin's current callback has returned.
 */
#include "plugin/session.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "serve/timers.h"
#include "serve/conn.h"
#include "serve/dgram.h"
#include "serve/flow.h"
#include "base/log.h"
#include "serve/server.h"
#include "tls/tls.h"

/* Mail of NK_POST_MAX bytes fits an empty mailbox. */
_Static_assert(NK_POST_MAX + sizeof(struct nk__mail) <= NK_MAILBOX_MAX,
               "NK_POST_MAX too large for the mailbox");

#define CONN_OF(s)                                                             \
    ((struct nk__conn *)((char *)(s)-offsetof(struct nk__conn, sess)))

void
nk__session_set_addr(struct nk_session *s, const struct sockaddr *sa,
                     socklen_t len)
{
    if (len > sizeof(s->addr))
        len = sizeof(s->addr);
    memcpy(&s->addr, sa, len);
    s->addrlen = len;
}

void
nk__session_format(const struct nk_session *s, char *buf, size_t size)
{
    nk__addr_format(&s->addr.sa, buf, size);
}

const char *
nk__session_peer(struct nk_session *s)
{
    char buf[NK_ADDRSTRLEN];

    if (s->peer == NULL) {
        nk__session_format(s, buf, sizeof(buf));
        s->peer = nk__strdup(buf);
    }
    return s->peer != NULL ? s->peer : "?";
}

void
nk__session_fini(struct nk_session *s)
{
    nk__free(s->peer);
    s->peer = NULL;
}

/* A ctx the services may act for: not NULL, and not in destroy, where
 * nothing it starts could ever run (no session is open, no timer fires,
 * no post is delivered): such calls fail instead of pretending. */
static int
host_ctx_dead(const struct nk_ctx *ctx)
{
    return ctx == NULL || ctx->ls->destroying;
}

/* The TCP connection behind a session, or NULL (none, or UDP). */
static struct nk__conn *
host_conn(struct nk_session *s)
{
    return s != NULL && s->transport == NK_TRANSPORT_TCP ? CONN_OF(s) : NULL;
}

static int
host_send(struct nk_session *s, const struct iovec *iov, int iovcnt)
{
    if (s == NULL)
        return NK_EINVAL;
    if (s->transport == NK_TRANSPORT_TCP)
        return nk__conn_send(CONN_OF(s), iov, iovcnt);
    return nk__dgram_send(s, iov, iovcnt);
}

static void
host_close(struct nk_session *s)
{
    struct nk__conn *c = host_conn(s);

    if (c != NULL && !c->closing)
        nk__conn_close_after_write(c);
}

static void host_log(struct nk_session *s, enum nk_log_level level,
                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
host_log(struct nk_session *s, enum nk_log_level level, const char *fmt, ...)
{
    char msg[900];
    va_list ap;

    if (!nk__log_enabled((int)level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (s != NULL) {
        char peer[NK_ADDRSTRLEN];
        nk__session_format(s, peer, sizeof(peer));
        nk__log((int)level, "%s: %s", peer, msg);
    } else
        nk__log((int)level, "%s", msg);
}

static const char *
host_peer_name(struct nk_session *s)
{
    return s != NULL ? nk__session_peer(s) : "-";
}

static void *
host_get_data(struct nk_session *s)
{
    return s != NULL ? s->data : NULL;
}

static void
host_set_data(struct nk_session *s, void *data)
{
    if (s != NULL)
        s->data = data;
}

static nk_sid
host_session_id(struct nk_session *s)
{
    return host_conn(s) != NULL ? s->sid : 0;
}

/* A session of ctx's listener on this worker, by handle (NULL: stale,
 * another worker's, or another listener's: a handle never reaches past the
 * listener whose plugin holds it). */
static struct nk__conn *
host_local(struct nk_ctx *ctx, nk_sid sid)
{
    struct nk__server *srv = ctx->ls->srv;
    struct nk__conn *c;

    if (NK_SID_WORKER(sid) != srv->id)
        return NULL;
    c = nk__handle_get(&srv->sessions, NK_SID_HANDLE(sid));
    return c != NULL && c->ls == ctx->ls ? c : NULL;
}

/* Post send or close work for a session another worker owns. */
static int
host_mail_session(struct nk_ctx *ctx, enum nk__mail_kind kind, nk_sid sid,
                  const struct iovec *iov, int iovcnt)
{
    struct nk__server *owner =
        nk__server_worker(ctx->ls->srv, NK_SID_WORKER(sid));
    struct nk__mail *m;
    size_t len = 0;

    if (owner == NULL || sid == 0)
        return NK_ENOENT;
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    if (len > NK_POST_MAX)
        return NK_EMSGSIZE; /* would never fit, however long one waits */
    m = nk__mail_new(kind, ctx->ls->index, sid, len);
    if (m == NULL)
        return NK_ENOMEM;
    len = 0;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(m->data + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    return nk__mailbox_put(&owner->mail, m);
}

static int
host_send_to(struct nk_ctx *ctx, nk_sid sid, const struct iovec *iov,
             int iovcnt)
{
    struct nk__conn *c;

    if (host_ctx_dead(ctx))
        return ctx == NULL ? NK_EINVAL : NK_EPIPE;
    if (iovcnt < 0 || iovcnt > NK_SEND_IOV_MAX || (iovcnt > 0 && iov == NULL))
        return NK_EINVAL;
    if (NK_SID_WORKER(sid) != ctx->ls->srv->id)
        return host_mail_session(ctx, NK_MAIL_SEND, sid, iov, iovcnt);
    c = host_local(ctx, sid);
    return c != NULL ? nk__conn_send(c, iov, iovcnt) : NK_ENOENT;
}

static int
host_close_to(struct nk_ctx *ctx, nk_sid sid)
{
    struct nk__conn *c;

    if (host_ctx_dead(ctx))
        return ctx == NULL ? NK_EINVAL : NK_EPIPE;
    if (NK_SID_WORKER(sid) != ctx->ls->srv->id)
        return host_mail_session(ctx, NK_MAIL_CLOSE, sid, NULL, 0);
    c = host_local(ctx, sid);
    if (c == NULL)
        return NK_ENOENT;
    nk__conn_close_after_write(c);
    return 0;
}

static size_t
host_queued(struct nk_session *s)
{
    struct nk__conn *c = host_conn(s);

    return c != NULL && !c->closing ? nk__conn_queued(c) : 0;
}

static size_t
host_buffered(struct nk_session *s)
{
    struct nk__conn *c = host_conn(s);

    return c != NULL && !c->closing ? nk__conn_buffered(c) : 0;
}

static nk_timer_id
host_timer_start(struct nk_ctx *ctx, struct nk_session *s, uint64_t delay_ms,
                 uint64_t repeat_ms, nk_timer_fn fn, void *arg)
{
    struct nk__conn *c = host_conn(s);

    if (host_ctx_dead(ctx) || fn == NULL || (s != NULL && c == NULL) ||
        (c != NULL && (c->closing || c->ls != ctx->ls)))
        return 0;
    return nk__ptimer_start(ctx->ls, c, delay_ms, repeat_ms, fn, arg);
}

static int
host_timer_stop(struct nk_ctx *ctx, nk_timer_id id)
{
    return ctx != NULL ? nk__ptimer_stop(ctx->ls, id) : NK_EINVAL;
}

static int
host_post_one(struct nk_ctx *ctx, struct nk__server *to, const void *data,
              size_t len)
{
    struct nk__mail *m;

    if (len > NK_POST_MAX)
        return NK_EMSGSIZE; /* would never fit, however long one waits */
    m = nk__mail_new(NK_MAIL_POST, ctx->ls->index, 0, len);

    if (m == NULL)
        return NK_ENOMEM;
    if (len > 0)
        memcpy(m->data, data, len);
    return nk__mailbox_put(&to->mail, m);
}

static int
host_post(struct nk_ctx *ctx, int worker, const void *data, size_t len)
{
    struct nk__listener *ls;
    int n, rc = 0;

    if (host_ctx_dead(ctx))
        return ctx == NULL ? NK_EINVAL : NK_EPIPE;
    if (len > 0 && data == NULL)
        return NK_EINVAL;
    ls = ctx->ls;
    n = ls->plugin->desc->flags & NK_PLUGIN_ONE_INSTANCE
            ? 1
            : nk__server_nworkers(ls->srv);
    if (ls->plugin->desc->on_post == NULL || worker < NK_WORKER_ALL ||
        worker >= n)
        return NK_EINVAL;
    if (worker != NK_WORKER_ALL)
        return host_post_one(ctx, nk__server_worker(ls->srv, worker), data,
                             len);
    for (int w = 0; w < n; w++) {
        int one = host_post_one(ctx, nk__server_worker(ls->srv, w), data, len);
        if (one < 0)
            rc = one; /* the others still get theirs */
    }
    return rc;
}

static int
host_connect(struct nk_ctx *ctx, const char *host, const char *port, void *data,
             nk_sid *sid)
{
    if (host_ctx_dead(ctx))
        return ctx == NULL ? NK_EINVAL : NK_EPIPE;
    return nk__conn_connect(ctx->ls, host, port, data, sid);
}

static uint64_t
host_now_ms(struct nk_ctx *ctx)
{
    return ctx != NULL ? ctx->ls->srv->loop.now : 0;
}

/* pause_read, resume_read, shutdown_write: here at once, or as mail to
 * the session's worker (in order with send_to and close_to). */
static int
host_flow(struct nk_ctx *ctx, nk_sid sid, enum nk__mail_kind kind)
{
    struct nk__conn *c;

    if (host_ctx_dead(ctx))
        return ctx == NULL ? NK_EINVAL : NK_EPIPE;
    if (NK_SID_WORKER(sid) != ctx->ls->srv->id)
        return host_mail_session(ctx, kind, sid, NULL, 0);
    c = host_local(ctx, sid);
    if (c == NULL)
        return NK_ENOENT;
    if (kind == NK_MAIL_SHUTDOWN)
        return nk__flow_shutdown(c);
    nk__flow_pause(c, kind == NK_MAIL_PAUSE);
    return 0;
}

static int
host_pause_read(struct nk_ctx *ctx, nk_sid sid)
{
    return host_flow(ctx, sid, NK_MAIL_PAUSE);
}

static int
host_resume_read(struct nk_ctx *ctx, nk_sid sid)
{
    return host_flow(ctx, sid, NK_MAIL_RESUME);
}

static int
host_shutdown_write(struct nk_ctx *ctx, nk_sid sid)
{
    return host_flow(ctx, sid, NK_MAIL_SHUTDOWN);
}

static int
host_set_watermarks(struct nk_session *s, size_t high, size_t low)
{
    struct nk__conn *c = host_conn(s);

    return c != NULL ? nk__flow_marks(c, high, low) : NK_EINVAL;
}

static int
host_tls_info(struct nk_session *s, struct nk_tls_info *info)
{
    struct nk__conn *c = host_conn(s);

    if (info == NULL || info->size < sizeof(*info))
        return NK_EINVAL;
    if (c == NULL || c->tls == NULL || c->tls_hs)
        return NK_ENOENT;
    return nk__tls_info(c->tls, info);
}

const struct nk_host nk__host = {
    .size = sizeof(struct nk_host),
    .send = host_send,
    .close = host_close,
    .log = host_log,
    .peer_name = host_peer_name,
    .get_data = host_get_data,
    .set_data = host_set_data,
    .session_id = host_session_id,
    .send_to = host_send_to,
    .close_to = host_close_to,
    .queued = host_queued,
    .timer_start = host_timer_start,
    .timer_stop = host_timer_stop,
    .post = host_post,
    .connect = host_connect,
    .now_ms = host_now_ms,
    .pause_read = host_pause_read,
    .resume_read = host_resume_read,
    .shutdown_write = host_shutdown_write,
    .set_watermarks = host_set_watermarks,
    .buffered = host_buffered,
    .tls_info = host_tls_info,
};
