/*
 * client_tls.h -- `netkit connect --tls`: the handshake on the connected
 * socket (after the PROXY header, if any), then a thread that carries the
 * bytes between the TLS connection and a socket pair, so the rest of the
 * client reads and writes plain bytes on a descriptor as before.
 */
#ifndef NK_CORE_CLIENT_TLS_H
#define NK_CORE_CLIENT_TLS_H

#include "base/err.h"
#include "config/settings.h"

/* The handshake with the server on *fd (non-blocking, connected), within
 * timeout_ms, verifying its certificate and name unless --insecure; then
 * *fd is replaced by the plain end of the socket pair.  0, or -1 with err
 * (the descriptor is the caller's to close either way). */
int nk__client_tls(const struct nk__settings *s, const char *peer,
                   int timeout_ms, int *fd, struct nk_err *err);

/* Stop the carrying thread and free what nk__client_tls made. */
void nk__client_tls_end(void);

#endif /* NK_CORE_CLIENT_TLS_H */
