/*
 * keepopts.h -- the socket options of a listening socket that a reload
 * keeps: the new configuration's options are set on the running socket
 * (setsockopt), so a change needs no new bind -- which would fail beside
 * the running socket (EADDRINUSE), or with SO_REUSEPORT share the port and
 * reset what waits in the old socket's accept queue when it closes.
 *
 * An option no longer asked for goes back to the kernel's default, read
 * from a fresh socket.  What a bound socket cannot change (IPV6_V6ONLY),
 * and a buffer size, which cannot go back to the kernel's self-tuning once
 * set, keep their running value until a restart, with a warning.
 */
#ifndef NK_CORE_KEEPOPTS_H
#define NK_CORE_KEEPOPTS_H

#include <stddef.h>

#include "base/err.h"
#include "config/settings.h"
#include "config/sockopt.h"

/* One change to make on each kept socket. */
struct nk__keepopt {
    struct nk__sockopt_val val; /* the value to set (def only: revert) */
    int revert;                 /* set the kernel's default instead */
};

/*
 * What turns a socket set up with old[0..nold) into one set up with
 * new[0..nnew), for listener lc: *out (nk__free it, *n entries, maybe 0).
 * Warns of what waits for a restart.  -1 only for a failed allocation.
 */
int nk__keepopts_plan(const struct nk__listen_conf *lc,
                      const struct nk__sockopt_val *old, size_t nold,
                      const struct nk__sockopt_val *new, size_t nnew,
                      struct nk__keepopt **out, size_t *n, struct nk_err *err);

/* Make the changes on one kept socket of the given family.  -1 with err
 * naming the option and the address the kernel refused it on. */
int nk__keepopts_apply(const struct nk__listen_conf *lc, int fd, int family,
                       const struct nk__keepopt *ch, size_t n,
                       struct nk_err *err);

/* Log each change made (once, for all the listener's sockets). */
void nk__keepopts_log(const struct nk__listen_conf *lc,
                      const struct nk__keepopt *ch, size_t n);

#endif /* NK_CORE_KEEPOPTS_H */
