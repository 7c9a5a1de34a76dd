/*
 * deadline.c -- a host deadline fired: let the plugin answer, then close.
 *
 * HTTP tells the two cases apart by host->buffered: a request half
 * received gets "408 Request Timeout", an idle keep-alive connection is
 * closed without a word (nginx does both).  The answer leaves like any
 * close after write (the write timeout bounds it); a write timeout drops
 * it, since the peer is not reading.
 */
#include "serve/deadline.h"

#include <netkit/plugin.h>

#include "base/buf.h"
#include "plugin/loader.h"
#include "serve/conn.h"
#include "serve/server.h"

/* Bytes the plugin has handed the socket or queued so far. */
static uint64_t
dl_output(const struct nk__conn *c)
{
    return c->bytes_out + nk__buf_len(&c->out);
}

int
nk__deadline_fire(struct nk__conn *c, int kind, const char *why)
{
    const struct nk_plugin *p = c->ls->plugin->desc;
    uint64_t before;

    if (c->closing || c->timeout_told || p->on_timeout == NULL || !c->opened ||
        c->connecting || c->proxy_wait || c->close_after_write) {
        nk__conn_close(c, why);
        return 0;
    }
    c->timeout_told = 1;
    before = dl_output(c);
    p->on_timeout(c->ls->inst, &c->sess, kind);
    if (c->closing)
        return 0; /* the plugin closed it, and it is written already */
    if (kind == NK_TIMEOUT_WRITE || dl_output(c) == before) {
        nk__conn_close(c, why); /* nothing to write, or nobody reading */
        return 0;
    }
    /* Write the answer, then close; the message deadline is spent. */
    c->msg_since = 0;
    c->closing_why = why;
    nk__conn_close_after_write(c);
    return !c->closing;
}
