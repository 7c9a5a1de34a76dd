/*
 * session.h -- the core's side of the plugin API's opaque struct nk_session.
 *
 * A TCP connection embeds one session for its whole life; a UDP socket uses
 * one per datagram, valid during on_message.  Either way the session knows
 * its listener (and so the plugin instance) and its peer address, which is
 * formatted as text only when a log line or the plugin asks for it.
 */
#ifndef NK_CORE_SESSION_H
#define NK_CORE_SESSION_H

#include <sys/socket.h>
#include <netinet/in.h>

#include <netkit/plugin.h>

#include "base/addr.h"

struct nk__listener;

/* An IPv4 or IPv6 address: 28 bytes, not sockaddr_storage's 128, since
 * every connection carries one. */
union nk__sockaddr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

struct nk_session {
    struct nk__listener *ls;
    nk_sid sid; /* TCP: the handle (worker in the top byte); UDP: 0 */
    void *data; /* the plugin's per-session pointer */
    char *peer; /* host->peer_name's text, made on first use */
    union nk__sockaddr addr;
    socklen_t addrlen;
    unsigned transport; /* NK_TRANSPORT_TCP or NK_TRANSPORT_UDP */
};

/* The host's side of a plugin instance: one listener in one worker. */
struct nk_ctx {
    struct nk__listener *ls;
};

/* A session handle's worker (top byte) and its handle-table part. */
#define NK_SID_WORKER(sid) ((int)((sid) >> 56))
#define NK_SID_MAKE(w, h)  ((uint64_t)(w) << 56 | (h))
#define NK_SID_HANDLE(sid) ((sid) & ~((uint64_t)0xff << 56))

/* Set the session's peer address (at most sizeof(union nk__sockaddr)). */
void nk__session_set_addr(struct nk_session *s, const struct sockaddr *sa,
                          socklen_t len);

/* Format the peer into buf (for log lines; allocates nothing). */
void nk__session_format(const struct nk_session *s, char *buf, size_t size);

/* The peer as text that lives as long as the session (host->peer_name). */
const char *nk__session_peer(struct nk_session *s);

/* Release what the session allocated (its peer text). */
void nk__session_fini(struct nk_session *s);

/* The host services table handed to every plugin instance (host.c). */
extern const struct nk_host nk__host;

#endif /* NK_CORE_SESSION_H */
