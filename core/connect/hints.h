/*
 * hints.h -- pointers for nc and ncat habits, and for a reply that looks
 * like another protocol than the one the client speaks.
 *
 * Each hint is a short phrase the caller puts in parentheses after its own
 * message, so an error stays one `netkit:` line.
 */
#ifndef NK_CORE_HINTS_H
#define NK_CORE_HINTS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/*
 * What nc's or ncat's meaning of option `opt` (a short letter) is called
 * here, when netkit refused it or it means something else: for `connect`
 * (connect != 0) or `serve`.  NULL when there is nothing to say.
 */
const char *nk__hint_nc_option(int connect, int opt);

/*
 * `-p ARG` for a plugin name that is a number: nc's -p is a port.  Fills
 * buf with the phrase and returns it, or NULL when ARG is not a number.
 */
const char *nk__hint_port_as_plugin(int connect, const char *arg, char *buf,
                                    size_t size);

/*
 * A phrase saying which client options the first bytes a server sent
 * suggest, when they do not decode with `proto`: a length field in front
 * (-p framed), text lines (-p line), or NULL.  `n` may be 0 (no byte
 * came): then the hint is about what the server may be waiting for, or
 * (`closed`) what made it close.
 */
const char *nk__hint_reply(const char *proto, const uint8_t *p, size_t n,
                           int closed);

/* For the first message a raw session prints: a phrase when it starts with
 * a length field of exactly the rest (a framed server), or NULL. */
const char *nk__hint_first(const char *proto, const uint8_t *p, size_t n);

/* Append " (HINT)" to err's message when hint is not NULL. */
void nk__hint_add(struct nk_err *err, const char *hint);

#endif /* NK_CORE_HINTS_H */
