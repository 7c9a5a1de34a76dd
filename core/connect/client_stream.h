/*
 * client_stream.h -- `netkit connect --stream`: a full-duplex byte pipe
 * between standard input/output and one connected TCP socket, like nc.
 * Internal to the client (client.c opens the socket, this moves the bytes).
 */
#ifndef NK_CORE_CLIENT_STREAM_H
#define NK_CORE_CLIENT_STREAM_H

#include "base/err.h"

/*
 * Copy stdin to the socket `fd` (non-blocking, connected) and the socket to
 * stdout until the peer closes, half-closing the socket at end of input.
 * Binary-safe; no framing, no escaping.  `peer` names the peer in messages.
 * `idle` > 0 (seconds) ends the pipe with an error once no byte has moved in
 * either direction for that long; 0 waits for ever.  Returns 0 when the peer
 * closed and everything it sent was written, or -1 with err (status 1).  The
 * caller closes fd.
 */
int nk__client_stream(int fd, const char *peer, double idle,
                      struct nk_err *err);

#endif /* NK_CORE_CLIENT_STREAM_H */
