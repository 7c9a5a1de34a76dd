/*
 * resolve.h -- host names for host->connect, looked up off the loop.
 *
 * getaddrinfo is the resolver the rest of the system uses (/etc/hosts,
 * nsswitch, resolv.conf), but it blocks for as long as a DNS server takes.
 * So a small pool of threads (NK_RESOLVE_THREADS, started on the first
 * lookup) takes requests from one queue, calls getaddrinfo, and posts the
 * answer to the asking worker's mailbox, whose eventfd already wakes that
 * worker's loop: the loop never waits for DNS, and no new descriptor or
 * signal is needed.  getaddrinfo_a was the other candidate: it runs the
 * same getaddrinfo on glibc's own threads, but reports through a signal
 * or a thread started per answer and cannot stop a lookup in progress, so
 * the answer would still need a hand-off to the loop; c-ares would be a
 * new dependency and bypass nsswitch.
 *
 * A lookup cannot be interrupted: a cancelled connection simply ignores
 * its answer (the mail finds a stale handle), and a worker that ends
 * first is forgotten, so no answer is posted to a freed mailbox.
 */
#ifndef NK_SERVE_RESOLVE_H
#define NK_SERVE_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "plugin/session.h"

#define NK_RESOLVE_THREADS 2
/* Addresses kept from one answer, tried in turn. */
#define NK_RESOLVE_MAX 8

struct nk__server;

/* An answer: status 0 and n >= 1 addresses, or a negative NK_E* code. */
struct nk__resolved {
    int status;
    int n;
    struct {
        union nk__sockaddr a;
        socklen_t len;
    } addr[NK_RESOLVE_MAX];
};

/* Numeric host and port only, at once, without a thread: 0, NK_EAGAIN
 * (host is a name: look it up with nk__resolve_start) or NK_EINVAL. */
int nk__resolve_numeric(const char *host, const char *port,
                        struct nk__resolved *out);

/* Look host up for session sid of listener `listener` on worker srv; the
 * answer arrives as NK_MAIL_RESOLVED mail (data: struct nk__resolved).
 * Returns 0, NK_ENOMEM, or a negative code if no thread could start. */
int nk__resolve_start(struct nk__server *srv, size_t listener, uint64_t sid,
                      const char *host, const char *port);

/* Worker srv is ending: post it nothing more. */
void nk__resolve_forget(struct nk__server *srv);

/* Stop and join the threads (the end of a run); lookups in progress are
 * waited for.  A later nk__resolve_start starts them again. */
void nk__resolve_stop(void);

#endif /* NK_SERVE_RESOLVE_H */
