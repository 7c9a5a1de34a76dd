/*
 * timers.h -- the plugin's timers (nk_host.timer_start): one-shot or
 * repeating, owned by an instance or by one of its TCP sessions, on the
 * worker's loop beside the host's own timers.
 *
 * Each timer is on its owner's list, so closing a session stops its timers
 * and no timer outlives its instance.  Plugins hold timers by id (a
 * generational handle), so stopping a timer that has already fired is a
 * clean NK_ENOENT, never a use of freed memory.
 */
#ifndef NK_SERVE_TIMERS_H
#define NK_SERVE_TIMERS_H

#include <netkit/plugin.h>

#include "base/loop.h"

struct nk__listener;
struct nk__conn;

struct nk__ptimer {
    struct nk__timer t; /* first member */
    nk_timer_id id;
    struct nk__listener *ls;
    struct nk__conn *conn; /* the owning session, or NULL: the instance */
    struct nk__ptimer **list, *prev, *next; /* the owner's list */
    nk_timer_fn fn;
    void *arg;
    uint64_t repeat_ms;
};

/* Start a timer for ls's instance (c NULL) or its session c.  Returns the
 * id, or 0 when out of memory. */
nk_timer_id nk__ptimer_start(struct nk__listener *ls, struct nk__conn *c,
                             uint64_t delay_ms, uint64_t repeat_ms,
                             nk_timer_fn fn, void *arg);

/* Stop a timer of ls's instance or sessions.  Returns 0 or NK_ENOENT. */
int nk__ptimer_stop(struct nk__listener *ls, nk_timer_id id);

/* Stop every timer on an owner's list (a closing session, an instance
 * about to be destroyed). */
void nk__ptimer_stop_all(struct nk__ptimer **list);

#endif /* NK_SERVE_TIMERS_H */
