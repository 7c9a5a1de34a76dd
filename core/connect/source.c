/*
 * source.c -- bind the client's end before connecting.  See source.h.
 */
#include "connect/source.h"

#include <sys/socket.h>
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "base/addr.h"

int
nk__client_bind_source(int fd, int family, int socktype, const char *source,
                       int port, struct nk_err *err)
{
    const char *host = source != NULL       ? source
                       : family == AF_INET6 ? "::"
                                            : "0.0.0.0";
    struct addrinfo *res;
    struct nk_err quiet = {.status = 1};
    char where[NK_ADDRSTRLEN];
    int one = 1, rc;

    /* Another family than the server address's: not an error yet, the
     * server may have an address of the source's family. */
    if (nk__addr_resolve(host, port, family, socktype, 1, &res, &quiet) < 0)
        return 1;
    nk__addr_format(res->ai_addr, where, sizeof(where));
    /* A fixed source port is reused from one run to the next (nc does the
     * same): its last connection may still be in TIME_WAIT. */
    if (port != 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    rc = bind(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc < 0)
        return nk__err_run(err, "bind the source %s: %s", where,
                           strerror(errno));
    return 0;
}
