/*
 * dgram.h -- a UDP socket of a listener: datagrams in batches with
 * recvmmsg, decoded one message per datagram, replies gathered and sent
 * with one sendmmsg per batch.
 *
 * Buffers hold a whole datagram (64 KiB), so nothing up to the protocol
 * maximum (65507 bytes over IPv4, 65527 over IPv6) is truncated.  A
 * datagram whose message does not fill it exactly (framed: the length field
 * disagrees with the size) is dropped and counted, never answered.
 */
#ifndef NK_CORE_DGRAM_H
#define NK_CORE_DGRAM_H

#include <sys/uio.h>

#include "base/loop.h"
#include "plugin/session.h"

#define NK_DGRAM_BATCH 16
#define NK_DGRAM_MAX   65536

struct nk__sock;
struct nk__dgram;

/* Allocate the batch buffers of a UDP socket (sk->dgram). */
int nk__dgram_new(struct nk__sock *sk);
void nk__dgram_free(struct nk__dgram *dg);

/* The loop callback of a UDP socket. */
void nk__dgram_on_io(struct nk__loop *loop, struct nk__io *io, unsigned events);

/* The host's send for a UDP session: one reply datagram to its sender. */
int nk__dgram_send(struct nk_session *s, const struct iovec *iov, int iovcnt);

#endif /* NK_CORE_DGRAM_H */
