/*
 * client_listen.h -- `netkit connect --listen [HOST:]PORT`: nc -l PORT.
 * Take one TCP connection and pipe it as --stream does: its bytes to
 * standard output exactly, standard input to it.
 */
#ifndef NK_CORE_CLIENT_LISTEN_H
#define NK_CORE_CLIENT_LISTEN_H

#include "base/err.h"
#include "config/settings.h"

/* Listen, accept one connection, pipe it, close.  Returns 0 when the peer
 * closed and its bytes were written, or -1 with err. */
int nk__client_listen(const struct nk__settings *s, struct nk_err *err);

#endif /* NK_CORE_CLIENT_LISTEN_H */
