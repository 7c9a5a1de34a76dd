/*
 * session.h -- the core's side of the plugin API's opaque struct nk_session.
 *
 * A TCP connection embeds one session for its whole life; a UDP socket uses
 * one per datagram, valid during on_message.  Either way the session knows
 * its listener (and so the plugin instance) and its peer, formatted lazily.
 */
#ifndef NK_CORE_SESSION_H
#define NK_CORE_SESSION_H

#include <sys/socket.h>

#include <netkit/plugin.h>

#include "addr.h"

struct nk__listener;

struct nk_session {
    struct nk__listener *ls;
    unsigned transport; /* NK_TRANSPORT_TCP or NK_TRANSPORT_UDP */
    void *data;         /* the plugin's per-session pointer */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char peer[NK_ADDRSTRLEN]; /* "" until first asked for */
};

/* The peer as text (formatted on first use). */
const char *nk__session_peer(struct nk_session *s);

/* The host services table handed to every plugin instance (host.c). */
extern const struct nk_host nk__host;

#endif /* NK_CORE_SESSION_H */
