/*
 * sockopt.h -- the socket option table (docs/sockopts.md lists it).
 *
 * One list of X-macro rows in sockopt.def drives everything: name lookup with
 * "did you mean" suggestions, value parsing (bool, int with range,
 * "on,seconds" for SO_LINGER, string), applicability (TCP/UDP, IPv4/IPv6),
 * setsockopt, read-back with getsockopt for `-v`, and `netkit sockopts`.
 */
#ifndef NK_CORE_SOCKOPT_H
#define NK_CORE_SOCKOPT_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

enum nk__sockopt_type {
    NK_SOT_BOOL,   /* int 0/1 */
    NK_SOT_INT,    /* int in [min, max] */
    NK_SOT_LINGER, /* struct linger from "on,seconds" (or "0") */
    NK_SOT_STRING  /* text (TCP_CONGESTION, SO_BINDTODEVICE) */
};

/* applies-to bits */
#define NK_SO_TCP   0x1u
#define NK_SO_UDP   0x2u
#define NK_SO_INET  0x4u /* meaningful on AF_INET sockets */
#define NK_SO_INET6 0x8u /* meaningful on AF_INET6 sockets */
#define NK_SO_LISTENER                                                         \
    0x10u /* only on the listening socket (not re-set on                       \
             accepted sockets, e.g. SO_REUSEADDR) */
#define NK_SO_ACCEPTED                                                         \
    0x20u /* set again on each accepted socket: the                            \
             kernel does not carry it over */

struct nk__sockopt_def {
    const char *name;
    int level; /* SOL_SOCKET, IPPROTO_TCP, ... (-1: not on this system) */
    int optname;
    enum nk__sockopt_type type;
    unsigned applies; /* NK_SO_* */
    long long min, max;
    const char *help;
};

/* A parsed value, ready for setsockopt. */
struct nk__sockopt_val {
    const struct nk__sockopt_def *def;
    int ival;
    struct linger linger;
    char str[64];
};

/* Look a name up (exact, case-sensitive); NULL if unknown. */
const struct nk__sockopt_def *nk__sockopt_find(const char *name);

/*
 * Parse NAME=VALUE for a socket of `transport` (NK_TRANSPORT_TCP/UDP; both
 * bits: must fit both; 0: the transport is not known yet, so that check is
 * skipped).  A NULL value is "missing value".  out is zeroed on failure.
 * Returns 0, or -1 with `why` holding a whole message, e.g.
 *   "unknown socket option 'SO_REUSEADR' (did you mean SO_REUSEADDR?)"
 *   "socket option SO_GROUP_PRIORITY is not supported on this system"
 *   "socket option TCP_NODELAY does not apply to udp sockets"
 *   "socket option SO_RCVBUF: invalid number 'abc'"
 */
int nk__sockopt_parse(const char *name, const char *value, unsigned transport,
                      struct nk__sockopt_val *out, char *why, size_t whysz);

/* Does the option mean anything on a socket of this family? */
int nk__sockopt_applies_family(const struct nk__sockopt_def *d, int family);

/* setsockopt.  Returns 0, or -1 with why = "setsockopt SO_MARK: Operation
 * not permitted" (errno kept). */
int nk__sockopt_apply(int fd, const struct nk__sockopt_val *v, char *why,
                      size_t whysz);

/* Set every option of opts[0..n) that means something on a socket of this
 * family.  Returns 0, or -1 with why filled and *failed the option the
 * kernel refused (errno kept). */
int nk__sockopt_apply_all(int fd, int family,
                          const struct nk__sockopt_val *opts, size_t n,
                          const struct nk__sockopt_def **failed, char *why,
                          size_t whysz);

/* At -v: log each of them as read back, e.g.
 * "Sockopt SO_RCVBUF = 524288 (asked 262144) on 127.0.0.1:9999". */
void nk__sockopt_log_all(int fd, int family, const struct nk__sockopt_val *opts,
                         size_t n, const char *where);

/* The value as read back with getsockopt, as text ("524288", "1,5"). */
int nk__sockopt_readback(int fd, const struct nk__sockopt_def *d, char *buf,
                         size_t size);

/* Print the table for `netkit sockopts`. */
void nk__sockopt_print(FILE *out);

#endif /* NK_CORE_SOCKOPT_H */
