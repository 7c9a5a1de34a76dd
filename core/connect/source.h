/*
 * source.h -- `netkit connect -s ADDR --source-port N`: the local end of
 * the connection, bound before connect(2), as nc -s and -p do.
 */
#ifndef NK_CORE_SOURCE_H
#define NK_CORE_SOURCE_H

#include "base/err.h"

/*
 * Bind fd (of `family`, `socktype`) to `source` (NULL: any address of the
 * family) and `port` (0: any).  Returns 0, 1 when `source` has no address
 * of this family (try the server's next address), or -1 with err (status
 * 1: the address is not this machine's, the port is taken).
 */
int nk__client_bind_source(int fd, int family, int socktype, const char *source,
                           int port, struct nk_err *err);

#endif /* NK_CORE_SOURCE_H */
