/*
 * target.h -- where `netkit connect` goes, as nc users write it: HOST PORT,
 * HOST:PORT, [V6]:PORT, or a bare PORT (localhost); a PORT may be a service
 * name from /etc/services (http, echo); or unix:/PATH, unix:@NAME.
 */
#ifndef NK_CORE_TARGET_H
#define NK_CORE_TARGET_H

#include "base/err.h"

/*
 * The port a PORT argument names: 1..65535, or a service name looked up
 * with getservbyname for `udp` or tcp.  Returns it, or -1.
 */
int nk__target_port(const char *arg, int udp);

/*
 * Parse connect's 1 or 2 positional arguments into *host and *port (the
 * port as a number, for nk__free); a unix socket ("unix:/path",
 * "unix:@name") is *host alone, *port NULL.  Returns 0, or -1 with err
 * (status 2).
 */
int nk__target_parse(int argc, char **argv, int udp, char **host, char **port,
                     struct nk_err *err);

#endif /* NK_CORE_TARGET_H */
