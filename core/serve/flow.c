/* flow.c -- flow control and half-close.  See flow.h. */
#include "serve/flow.h"

#include <netkit/error.h>

#include "plugin/loader.h"
#include "serve/conn.h"
#include "serve/server.h"

static const struct nk_plugin *
flow_plugin(const struct nk__conn *c)
{
    return c->ls->plugin->desc;
}

void
nk__flow_init(struct nk__conn *c)
{
    c->wm_high = c->ls->out_high;
    c->wm_low = c->ls->out_low;
}

int
nk__flow_self(const struct nk__conn *c)
{
    return flow_plugin(c)->on_writable != NULL;
}

int
nk__flow_half_close(const struct nk__conn *c)
{
    const struct nk_plugin *p = flow_plugin(c);

    return (p->flags & NK_PLUGIN_HALF_CLOSE) && p->on_eof != NULL;
}

void
nk__flow_output(struct nk__conn *c, size_t q)
{
    unsigned above = c->wm_above;

    if (q > c->wm_high)
        above = 1;
    else if (q <= c->wm_low)
        above = 0;
    /* Between the marks the state stays what it was (hysteresis). */
    if (above == c->wm_above)
        return;
    c->wm_above = above;
    if (above != c->wm_told && flow_plugin(c)->on_writable != NULL)
        nk__conn_later_flow(c);
}

void
nk__flow_tell(struct nk__conn *c)
{
    const struct nk_plugin *p = flow_plugin(c);

    /* Told once per change of state: a queue that went over and back
     * within one dispatch changed nothing the plugin must act on. */
    if (c->closing || c->wm_above == c->wm_told || p->on_writable == NULL)
        return;
    c->wm_told = c->wm_above;
    p->on_writable(c->ls->inst, &c->sess, !c->wm_above);
}

void
nk__flow_pause(struct nk__conn *c, int on)
{
    if (c->closing || c->read_off == (unsigned)on)
        return;
    c->read_off = (unsigned)on;
    nk__conn_kick(c);
}

int
nk__flow_shutdown(struct nk__conn *c)
{
    if (c->closing)
        return NK_EPIPE;
    if (c->shut_wr)
        return 0;
    c->shut_wr = 1;
    nk__conn_kick(c); /* written out (or already): FIN */
    return 0;
}

int
nk__flow_marks(struct nk__conn *c, size_t high, size_t low)
{
    if (c->closing || low == 0 || low >= high)
        return NK_EINVAL;
    c->wm_high = high;
    c->wm_low = low;
    nk__flow_output(
        c, nk__buf_len(&c->out) +
               (c->ls->srv->batch == c ? nk__buf_len(&c->ls->srv->wbuf) : 0));
    return 0;
}

void
nk__flow_on_mail(struct nk__conn *c, const struct nk__mail *m)
{
    switch (m->kind) {
    case NK_MAIL_PAUSE:
        nk__flow_pause(c, 1);
        break;
    case NK_MAIL_RESUME:
        nk__flow_pause(c, 0);
        break;
    case NK_MAIL_SHUTDOWN:
        nk__flow_shutdown(c);
        break;
    case NK_MAIL_RESOLVED:
        if (m->len == sizeof(struct nk__resolved))
            nk__conn_resolved(c, (const struct nk__resolved *)m->data);
        break;
    default:
        break;
    }
}
