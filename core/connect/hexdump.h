/*
 * hexdump.h -- `netkit connect -x`: every byte sent and received, in hex,
 * on stderr, one line per 16 bytes:
 *
 *     > 00000000  68 65 6c 6c 6f 0a                                |hello.|
 *     < 00000000  3e 53 65 72 76 65 72 20  65 63 68 6f 20 3a 20 68  |>Server
 * echo : h|
 *
 * `>` is a byte sent, `<` a byte received; the offset counts each
 * direction's bytes from the start of the connection.
 */
#ifndef NK_CORE_HEXDUMP_H
#define NK_CORE_HEXDUMP_H

#include <stddef.h>
#include <stdint.h>

/* Turn the dump on (it is off until then). */
void nk__hexdump_enable(void);

/* Dump n bytes that were sent (`>`) or received (`<`), when on. */
void nk__hexdump_sent(const uint8_t *p, size_t n);
void nk__hexdump_received(const uint8_t *p, size_t n);

#endif /* NK_CORE_HEXDUMP_H */
