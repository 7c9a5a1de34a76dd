/*
 * client.h -- `netkit connect`: the client side of any plugin's protocol.
 *
 * The client never re-implements a protocol: it frames each outgoing
 * message with the plugin's `encode` and finds each reply with its `decode`.
 * Modes:
 *   - message mode (default): each line of standard input, without its
 *     newline, is one message; every message the server sends (replies,
 *     banners, pushes) is printed on its own line as it comes, escaped
 *     when stdout is a terminal;
 *   - -m TEXT -n N: send TEXT N times, print what comes back;
 *   - --stream (raw only): a full-duplex byte pipe like nc, never escaped;
 *     raw over TCP is one too when standard input is a binary file.
 * Log lines ("[*] Connect to HOST:PORT") go to stderr, messages to stdout.
 */
#ifndef NK_CORE_CLIENT_H
#define NK_CORE_CLIENT_H

#include "base/err.h"
#include "config/settings.h"

/* Run the client.  Returns 0, or -1 with err (status 1 run-time: refused,
 * timeout, unknown host; status 2: usage or configuration). */
int nk__client_run(struct nk__settings *s, struct nk_err *err);

#endif /* NK_CORE_CLIENT_H */
