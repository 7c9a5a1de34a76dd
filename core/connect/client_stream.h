/*
 * client_stream.h -- `netkit connect --stream`: a full-duplex byte pipe
 * between standard input/output and one connected TCP socket, like nc.
 * Internal to the client (client.c opens the socket, this moves the bytes).
 */
#ifndef NK_CORE_CLIENT_STREAM_H
#define NK_CORE_CLIENT_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Bytes message mode had already moved when it handed over to the pipe
 * (see nk__client_stream): read from standard input and not yet sent, and
 * received and not yet printed; and how the pipe treats line ends. */
struct nk__client_pre {
    const uint8_t *up;
    size_t up_len;
    int up_eof; /* standard input already ended */
    const uint8_t *down;
    size_t down_len;
    int crlf; /* -C: a LF read from standard input goes as CR LF */
};

/*
 * Copy stdin to the socket `fd` (non-blocking, connected) and the socket to
 * stdout until the peer closes, half-closing the socket at end of input.
 * Binary-safe; no framing, no escaping.  `peer` names the peer in messages.
 * `idle` > 0 (seconds) ends the pipe with an error once no byte has moved in
 * either direction for that long; 0 waits for ever.  `pre` (or NULL): bytes
 * that go first, each way.  Returns 0 when the peer closed and everything it
 * sent was written, or -1 with err (status 1).  The caller closes fd.
 */
int nk__client_stream(int fd, const char *peer, double idle,
                      const struct nk__client_pre *pre, struct nk_err *err);

#endif /* NK_CORE_CLIENT_STREAM_H */
