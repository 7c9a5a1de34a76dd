/*
 * dgram.h -- a UDP socket of a listener: datagrams in batches with
 * recvmmsg, decoded one message per datagram, replies gathered and sent
 * with one sendmmsg per batch.
 *
 * Buffers hold a whole datagram (64 KiB), so nothing up to the protocol
 * maximum (65507 bytes over IPv4, 65527 over IPv6) is truncated.  A
 * datagram whose message does not fill it exactly (framed: the length field
 * disagrees with the size) is dropped and counted, never answered.
 *
 * A UDP echo must not become a reflector (a forged source address turns it
 * against a third party, or against another echo: a loop without end).  So
 * a datagram is not answered when
 *   - its source port is below 1024 (echo, chargen, DNS, NTP...), unless
 *     the listener sets udp_allow_low_ports;
 *   - its source port is the port of one of this process's UDP listeners
 *     (on any address: two netkits on one port would answer each other);
 *   - its source address is over udp_rate datagrams a second (a token
 *     bucket per address, with a burst of half a second's worth, at least
 *     8), kept in a fixed table of DGRAM_SLOTS buckets per socket and
 *     worker; a new address takes over the slot of another, so memory never
 *     grows;
 *   - its payload is, or ends with, the payload last sent to that source
 *     address and port, 8 times in a row: a peer that echoes us (a plain
 *     echo, or one that adds a prefix).  Then that source is muted for
 *     NK_DGRAM_MUTE_MS.
 * Each case, and a reply over the protocol maximum, is counted and logged
 * at most once a second per socket and case, with how many went unlogged.
 */
#ifndef NK_CORE_DGRAM_H
#define NK_CORE_DGRAM_H

#include <sys/uio.h>

#include "base/loop.h"
#include "plugin/session.h"

#define NK_DGRAM_BATCH 16
#define NK_DGRAM_MAX   65536
#define NK_DGRAM_MUTE_MS                                                       \
    10000 /* a source caught echoing is ignored so long                        \
           */

/* What a UDP socket counted (nk__dgram_stats_add sums them). */
struct nk__dgram_stats {
    unsigned long long answered;  /* handed to the plugin */
    unsigned long long malformed; /* not exactly one message */
    unsigned long long low_port;  /* source port below 1024 */
    unsigned long long own_port;  /* source port of one of our listeners */
    unsigned long long rate;      /* over udp_rate */
    unsigned long long loop;      /* echoed our last reply, or muted */
    unsigned long long oversize;  /* replies over the protocol maximum */
};

struct nk__sock;
struct nk__dgram;

/* Allocate the batch buffers of a UDP socket (sk->dgram). */
int nk__dgram_new(struct nk__sock *sk);
void nk__dgram_free(struct nk__dgram *dg);

/* The loop callback of a UDP socket. */
void nk__dgram_on_io(struct nk__loop *loop, struct nk__io *io, unsigned events);

/* Add dg's counters to *st; safe from another thread (relaxed atomics). */
void nk__dgram_stats_add(const struct nk__dgram *dg,
                         struct nk__dgram_stats *st);

/* Log one line of counters for [listen.NAME], after `what: `. */
void nk__dgram_stats_log(const char *what, const char *name,
                         const struct nk__dgram_stats *st);

/* The host's send for a UDP session: one reply datagram to its sender. */
int nk__dgram_send(struct nk_session *s, const struct iovec *iov, int iovcnt);

#endif /* NK_CORE_DGRAM_H */
