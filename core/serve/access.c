/* access.c -- allow/deny at accept and per datagram.  See access.h. */
#include "serve/access.h"

#include <stdio.h>

#include <netkit/plugin.h>
#include <time.h>

#include "base/addr.h"
#include "base/cidr.h"
#include "base/log.h"
#include "serve/server.h"

#define ACCESS_LOG_MS 1000

static long long
access_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
}

/* Log this denial unless a line went out for the listener less than a
 * second ago; the line that goes out says how many were held back. */
static void
access_log(struct nk__listener *ls, const struct sockaddr *peer,
           const struct nk__acl_rule *r, unsigned long long n)
{
    struct nk__access *a = ls->access;
    long long now = access_now_ms(), last = atomic_load(&a->last_ms);
    char who[NK_ADDRSTRLEN], range[NK_CIDRSTRLEN], where[300], more[80];
    unsigned long long held, prev;

    if (last != 0 && now - last < ACCESS_LOG_MS)
        return;
    if (!atomic_compare_exchange_strong(&a->last_ms, &last, now))
        return; /* another worker logs this second */
    prev = atomic_exchange(&a->logged, n);
    held = n > prev + 1 ? n - prev - 1 : 0;
    nk__addr_format(peer, who, sizeof(who));
    nk__cidr_format(&r->cidr, range, sizeof(range));
    if (r->file != NULL)
        snprintf(where, sizeof(where), "%s:%d", r->file, r->line);
    else
        snprintf(where, sizeof(where), "--deny");
    more[0] = '\0';
    if (held > 0)
        snprintf(more, sizeof(more), "; %llu more denied, not logged", held);
    nk__log(NK_LOG_WARN, "Denied %s on [listen.%s] (deny %s, %s)%s", who,
            ls->conf->name, range, where, more);
}

int
nk__access_check(struct nk__listener *ls, const struct sockaddr *peer)
{
    const struct nk__acl_rule *r;

    if (ls->conf->acl.n == 0)
        return 1;
    r = nk__acl_find(&ls->conf->acl, peer);
    if (r == NULL || r->allow)
        return 1;
    access_log(ls, peer, r, atomic_fetch_add(&ls->access->denied, 1) + 1);
    return 0;
}

void
nk__access_report(struct nk__access *a, const struct nk__listen_conf *lc)
{
    unsigned long long n = atomic_load(&a->denied);

    if (n > 0)
        nk__log(NK_LOG_INFO, "[listen.%s] denied %llu %s%s", lc->name, n,
                lc->transport == NK_TRANSPORT_UDP ? "datagram" : "connection",
                n == 1 ? "" : "s");
}
