/*
 * host.c -- the services table every plugin instance gets (struct nk_host):
 * the only way a plugin reaches the core.  Each service dispatches on the
 * session's transport to the TCP connection or the UDP socket behind it.
 */
#include "plugin/session.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "serve/conn.h"
#include "serve/dgram.h"
#include "base/log.h"
#include "serve/server.h"

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
    if (s != NULL && s->transport == NK_TRANSPORT_TCP)
        nk__conn_close_after_write(CONN_OF(s));
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

const struct nk_host nk__host = {
    .size = sizeof(struct nk_host),
    .send = host_send,
    .close = host_close,
    .log = host_log,
    .peer_name = host_peer_name,
    .get_data = host_get_data,
    .set_data = host_set_data,
};
