/*
 * contract.h -- checking what a plugin returns, the way a kernel checks a
 * system call's arguments: every offset inside its buffer, every length
 * within its limit, every return value within its contract.  A broken
 * contract costs the connection (or the datagram, or start-up), never the
 * process, and never puts a byte from outside the buffer on the wire.
 */
#ifndef NK_PLUGIN_CONTRACT_H
#define NK_PLUGIN_CONTRACT_H

#include <stddef.h>
#include <stdint.h>

#include <netkit/plugin.h>

/*
 * Check decode's answer rc for buf[0..len) with frame f.  stream: TCP (0
 * bytes is no message there).  Returns NULL when the answer keeps the
 * contract, else the rule it broke, for the log:
 *   - a message longer than its input;
 *   - 0 bytes on a stream;
 *   - a payload outside the message, or NULL with a length;
 *   - NK_ENEEDMORE with a need no larger than what it already has, or
 *     with a head (1.2) longer than its input.
 * Whether a size is allowed (max_message) is the caller's call: too big is
 * the peer's fault, not the plugin's -- except a need that the codec
 * cannot reach with the bytes given (checked here too).
 */
const char *nk__decode_check(long rc, const uint8_t *buf, size_t len,
                             const struct nk_frame *f, int stream,
                             size_t max_message);

/* Check create's answer: NULL, or the broken rule ("returned 1"). */
const char *nk__create_check(int rc, char *msg, size_t size);

/* The bytes of an encoded head and tail (w's arrays or its _ext). */
const uint8_t *nk__wrap_head(const struct nk_wrap *w);
const uint8_t *nk__wrap_tail(const struct nk_wrap *w);

#endif /* NK_PLUGIN_CONTRACT_H */
