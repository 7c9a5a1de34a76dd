/*
 * addr.h -- addresses: resolving with getaddrinfo, printing them one way.
 *
 * Printing rule: IPv6 addresses are bracketed when a port
 * follows ("[::1]:9999"), a scope id is kept ("[fe80::1%lo]:9999"), and an
 * IPv4 peer of a dual-stack socket (::ffff:a.b.c.d) is shown as plain IPv4.
 */
#ifndef NK_CORE_ADDR_H
#define NK_CORE_ADDR_H

#include <stddef.h>
#include <sys/socket.h>
#include <netdb.h>

#include "base/err.h"

/* Enough for "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%ifname]:65535",
 * and for "unix:" and a socket path (107 bytes). */
#define NK_ADDRSTRLEN 120

/* "127.0.0.1:9999", "[::1]:9999", "unix:/run/x.sock"; "?" for an unknown
 * family. */
void nk__addr_format(const struct sockaddr *sa, char *buf, size_t size);

/* The port of an AF_INET/AF_INET6 address (host order). */
int nk__addr_port(const struct sockaddr *sa);

/*
 * Resolve `host` (a name, an IPv4 literal, an IPv6 literal with or without
 * brackets, with an optional %scope) and `port` for `socktype`
 * (SOCK_STREAM/SOCK_DGRAM) and `family` (AF_UNSPEC/AF_INET/AF_INET6).
 * `passive`: for bind (NULL host is not allowed here; use "::" or
 * "0.0.0.0").  Returns 0 with *out to freeaddrinfo(), or -1 with err:
 * "cannot resolve 'nosuch.example': Name or service not known" (status 1).
 */
int nk__addr_resolve(const char *host, int port, int family, int socktype,
                     int passive, struct addrinfo **out, struct nk_err *err);

/* Parse a port: 1..65535, or 0..65535 when allow_zero.  Returns the port or
 * -1 (not a number or out of range). */
int nk__addr_parse_port(const char *s, int allow_zero);

/* Split HOST:PORT or [V6]:PORT into host (NUL-terminated, at most size
 * bytes with the NUL) and port (0..65535).  Returns NULL or what is wrong,
 * a short phrase. */
const char *nk__addr_split(const char *where, char *host, size_t size,
                           int *port);

#endif /* NK_CORE_ADDR_H */
