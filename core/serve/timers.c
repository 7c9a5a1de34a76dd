/* timers.c -- plugin timers.  See timers.h. */
#include "serve/timers.h"

#include <stddef.h>

#include "base/alloc.h"
#include "serve/conn.h"
#include "serve/server.h"

static void
ptimer_unlink(struct nk__ptimer *pt)
{
    if (pt->prev != NULL)
        pt->prev->next = pt->next;
    else
        *pt->list = pt->next;
    if (pt->next != NULL)
        pt->next->prev = pt->prev;
}

static void
ptimer_free(struct nk__ptimer *pt)
{
    struct nk__server *srv = pt->ls->srv;

    nk__timer_stop(&srv->loop, &pt->t);
    ptimer_unlink(pt);
    nk__handle_del(&srv->timers, pt->id);
    nk__free(pt);
}

static void
ptimer_fire(struct nk__loop *loop, struct nk__timer *t)
{
    struct nk__ptimer *pt = (struct nk__ptimer *)t;
    void *inst = pt->ls->inst;
    struct nk_session *s = pt->conn != NULL ? &pt->conn->sess : NULL;
    nk_timer_fn fn = pt->fn;
    void *arg = pt->arg;

    if (pt->repeat_ms > 0) {
        /* Re-armed before the call, so the callback may stop it. */
        uint64_t next = t->when + pt->repeat_ms;
        if (next < loop->now)
            next = loop->now; /* a stalled loop does not fire a burst */
        nk__timer_start(loop, t, next);
    } else {
        ptimer_free(pt); /* its id is stale inside the callback already */
    }
    fn(inst, s, arg);
}

nk_timer_id
nk__ptimer_start(struct nk__listener *ls, struct nk__conn *c, uint64_t delay_ms,
                 uint64_t repeat_ms, nk_timer_fn fn, void *arg)
{
    struct nk__server *srv = ls->srv;
    struct nk__ptimer *pt = nk__calloc(1, sizeof(*pt));

    if (pt == NULL)
        return 0;
    nk__timer_init(&pt->t, ptimer_fire);
    pt->id = nk__handle_add(&srv->timers, pt);
    if (pt->id == 0 ||
        nk__timer_start(&srv->loop, &pt->t, srv->loop.now + delay_ms) < 0) {
        if (pt->id != 0)
            nk__handle_del(&srv->timers, pt->id);
        nk__free(pt);
        return 0;
    }
    pt->ls = ls;
    pt->conn = c;
    pt->fn = fn;
    pt->arg = arg;
    pt->repeat_ms = repeat_ms;
    pt->list = c != NULL ? &c->timers : &ls->timers;
    pt->next = *pt->list;
    if (pt->next != NULL)
        pt->next->prev = pt;
    *pt->list = pt;
    return pt->id;
}

int
nk__ptimer_stop(struct nk__listener *ls, nk_timer_id id)
{
    struct nk__ptimer *pt = nk__handle_get(&ls->srv->timers, id);

    if (pt == NULL || pt->ls != ls)
        return NK_ENOENT;
    ptimer_free(pt);
    return 0;
}

void
nk__ptimer_stop_all(struct nk__ptimer **list)
{
    while (*list != NULL)
        ptimer_free(*list);
}
