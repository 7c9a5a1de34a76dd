/* keepopts.c -- socket options across a reload.  See keepopts.h. */
#include "serve/keepopts.h"

#include <sys/socket.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/alloc.h"
#include "base/log.h"

static const struct nk__sockopt_val *
keepopts_find(const struct nk__sockopt_val *v, size_t n,
              const struct nk__sockopt_def *d)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].def == d)
            return &v[i];
    return NULL;
}

static int
keepopts_same(const struct nk__sockopt_val *a, const struct nk__sockopt_val *b)
{
    switch (a->def->type) {
    case NK_SOT_LINGER:
        return a->linger.l_onoff == b->linger.l_onoff &&
               a->linger.l_linger == b->linger.l_linger;
    case NK_SOT_STRING:
        return strcmp(a->str, b->str) == 0;
    default:
        return a->ival == b->ival;
    }
}

/* Options a bound socket refuses to change (EINVAL once bound). */
static int
keepopts_bind_time(const struct nk__sockopt_def *d)
{
    return strcmp(d->name, "IPV6_V6ONLY") == 0;
}

/* Options whose default the kernel tunes itself: setting any value, the
 * default included, turns that off. */
static int
keepopts_self_tuned(const struct nk__sockopt_def *d)
{
    return strcmp(d->name, "SO_RCVBUF") == 0 ||
           strcmp(d->name, "SO_SNDBUF") == 0 ||
           strcmp(d->name, "TCP_MAXSEG") == 0;
}

int
nk__keepopts_plan(const struct nk__listen_conf *lc,
                  const struct nk__sockopt_val *old, size_t nold,
                  const struct nk__sockopt_val *new, size_t nnew,
                  struct nk__keepopt **out, size_t *n, struct nk_err *err)
{
    struct nk__keepopt *ch = nk__calloc(nold + nnew + 1, sizeof(*ch));

    *out = NULL;
    *n = 0;
    if (ch == NULL)
        return nk__err_run(err, "out of memory");
    /* Back to the defaults first: SO_DONTLINGER and SO_LINGER set one
     * option, and what is asked now must win. */
    for (size_t i = 0; i < nold; i++) {
        if (keepopts_find(new, nnew, old[i].def) != NULL)
            continue;
        if (keepopts_bind_time(old[i].def) || keepopts_self_tuned(old[i].def)) {
            nk__log(NK_LOG_WARN,
                    "Reload: [listen.%s] %s is no longer set, but its running "
                    "sockets keep the value they have until a restart",
                    lc->name, old[i].def->name);
            continue;
        }
        ch[*n].val.def = old[i].def;
        ch[*n].revert = 1;
        (*n)++;
    }
    for (size_t i = 0; i < nnew; i++) {
        const struct nk__sockopt_val *o = keepopts_find(old, nold, new[i].def);
        if (o != NULL && keepopts_same(o, &new[i]))
            continue;
        if (keepopts_bind_time(new[i].def)) {
            nk__log(NK_LOG_WARN,
                    "Reload: [listen.%s] %s takes its new value at a restart "
                    "(a bound socket cannot change it)",
                    lc->name, new[i].def->name);
            continue;
        }
        ch[*n].val = new[i];
        (*n)++;
    }
    *out = ch;
    return 0;
}

void
nk__keepopts_log(const struct nk__listen_conf *lc, const struct nk__keepopt *ch,
                 size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct nk__sockopt_val *v = &ch[i].val;
        char text[sizeof(v->str) + 16];

        if (ch[i].revert) {
            nk__log(NK_LOG_INFO,
                    "Reload: [listen.%s] %s back to the kernel's default on "
                    "its running sockets",
                    lc->name, v->def->name);
            continue;
        }
        if (v->def->type == NK_SOT_LINGER)
            snprintf(text, sizeof(text), "%d,%d", v->linger.l_onoff,
                     v->linger.l_linger);
        else if (v->def->type == NK_SOT_STRING)
            snprintf(text, sizeof(text), "%s", v->str);
        else
            snprintf(text, sizeof(text), "%d", v->ival);
        nk__log(NK_LOG_INFO,
                "Reload: [listen.%s] %s = %s set on its running sockets",
                lc->name, v->def->name, text);
    }
}

/* The kernel's default for d on a socket like fd: read from a new one. */
static int
keepopts_default(int fd, int family, const struct nk__sockopt_def *d,
                 unsigned transport, struct nk__sockopt_val *v, char *why,
                 size_t size)
{
    int type = SOCK_STREAM, fresh;
    socklen_t len = sizeof(type);
    char text[sizeof(v->str) + 16];
    int rc;

    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
    fresh = socket(family, type | SOCK_CLOEXEC, 0);
    if (fresh < 0) {
        snprintf(why, size, "socket: %s", strerror(errno));
        return -1;
    }
    rc = nk__sockopt_readback(fresh, d, text, sizeof(text));
    close(fresh);
    if (rc < 0) {
        snprintf(why, size, "getsockopt %s: %s", d->name, strerror(errno));
        return -1;
    }
    return nk__sockopt_parse(d->name, text, transport, v, why, size);
}

int
nk__keepopts_apply(const struct nk__listen_conf *lc, int fd, int family,
                   const struct nk__keepopt *ch, size_t n, struct nk_err *err)
{
    for (size_t i = 0; i < n; i++) {
        struct nk__sockopt_val v = ch[i].val;
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char why[300], where[NK_ADDRSTRLEN] = "?";

        if (!nk__sockopt_applies_family(v.def, family))
            continue;
        if ((ch[i].revert && keepopts_default(fd, family, v.def, lc->transport,
                                              &v, why, sizeof(why)) < 0) ||
            nk__sockopt_apply(fd, &v, why, sizeof(why)) < 0) {
            if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
                nk__addr_format((struct sockaddr *)&ss, where, sizeof(where));
            return nk__err_run(err, "[listen.%s]: %s (on %s)", lc->name, why,
                               where);
        }
    }
    return 0;
}
