/*
 * listen.h -- turning a listener's hosts into bound sockets.
 *
 * `host` values are resolved with getaddrinfo and every resolved address is
 * bound.  No host means localhost: 127.0.0.1 and ::1 (never all interfaces
 * unless asked with "::" or "0.0.0.0"); an address of that default whose
 * family the machine lacks is skipped with a warning.  "::" is made
 * dual-stack (IPV6_V6ONLY=0) unless the user set IPV6_V6ONLY.
 */
#ifndef NK_CORE_LISTEN_H
#define NK_CORE_LISTEN_H

#include <sys/socket.h>

#include "base/err.h"
#include "base/loop.h"
#include "config/settings.h"
#include "config/sockopt.h"

struct nk__bindaddr {
    struct sockaddr_storage ss;
    socklen_t len;
    int implicit; /* from the default localhost: may be skipped */
};

/* Is the address 0.0.0.0 or ::? */
int nk__listen_is_wildcard(const struct nk__bindaddr *a);

/*
 * Would address a of listener la and address b of lb take the same
 * datagrams or connections?  Same transport and port, and the same address,
 * or a wildcard of the other's family, or a dual-stack :: (IPV6_V6ONLY not
 * set) against any IPv4 address.  Port 0 never overlaps (each picks its
 * own).
 */
int nk__listen_overlap(const struct nk__listen_conf *la,
                       const struct nk__bindaddr *a,
                       const struct nk__listen_conf *lb,
                       const struct nk__bindaddr *b);

/* Resolve every host of lc (port lc->port) into *out (nk__free it). */
int nk__listen_resolve(const struct nk__listen_conf *lc,
                       struct nk__bindaddr **out, size_t *n,
                       struct nk_err *err);

/*
 * Parse lc's socket options, adding netkit's defaults: SO_REUSEADDR=1 and
 * (TCP) TCP_NODELAY=1, unless the user set them.  *accept gets the subset
 * to set again on each accepted socket.  Both arrays are nk__free'd.
 */
int nk__listen_sockopts(const struct nk__listen_conf *lc,
                        struct nk__sockopt_val **opts, size_t *nopts,
                        struct nk__sockopt_val **accept, size_t *naccept,
                        struct nk_err *err);

/* socket + options + bind (+ listen for TCP).  Returns the descriptor, or
 * -1 with err ("bind [::1]:9999: Address already in use", status 1) and
 * errno set.  `log_opts`: log each option's read-back value at -v. */
int nk__listen_socket(const struct nk__listen_conf *lc,
                      const struct nk__bindaddr *a,
                      const struct nk__sockopt_val *opts, size_t nopts,
                      int reuseport, int log_opts, struct nk_err *err);

/* The accept_timer callback of a worker: accept again after a pause for
 * want of descriptors. */
void nk__listen_on_resume(struct nk__loop *loop, struct nk__timer *t);

/* The loop callback of a listening TCP socket. */
void nk__listen_on_accept(struct nk__loop *loop, struct nk__io *io,
                          unsigned events);

#endif /* NK_CORE_LISTEN_H */
