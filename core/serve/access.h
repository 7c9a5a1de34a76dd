/*
 * access.h -- allow/deny for a listener's clients (cidr.h has the rules).
 *
 * TCP is checked when a connection is accepted: a denied one is closed at
 * once, before any plugin callback.  UDP is checked per datagram: a denied
 * datagram is dropped unanswered.  Denials are counted per listener, across
 * workers, and logged at most once a second per listener; the line says how
 * many were not logged since the last one.
 */
#ifndef NK_CORE_ACCESS_H
#define NK_CORE_ACCESS_H

#include <stdatomic.h>
#include <sys/socket.h>

#include "config/settings.h"

struct nk__listener;

/* One listener's denials, shared by every worker. */
struct nk__access {
    atomic_ullong denied; /* all denials */
    atomic_ullong logged; /* `denied` when the last line was logged */
    atomic_llong last_ms; /* CLOCK_MONOTONIC ms of that line, 0: none */
};

/* 1 if the listener serves this peer; 0 (counted, maybe logged) if not. */
int nk__access_check(struct nk__listener *ls, const struct sockaddr *peer);

/* The count at exit: "[listen.main] denied 3 connections", if any. */
void nk__access_report(struct nk__access *a, const struct nk__listen_conf *lc);

#endif /* NK_CORE_ACCESS_H */
