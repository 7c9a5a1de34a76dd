/*
 * metrics.h -- the metrics listener: `[netkit] metrics = ADDR:PORT` serves
 * every listener's counters (counters.h) over HTTP/1.0 in the Prometheus
 * text exposition format, on the main thread's event loop.
 *
 * A deliberately small responder: GET (or HEAD) /metrics only, a request
 * head of at most 4 KiB read within 10 seconds, at most 32 clients at once
 * (a newcomer past that closes the oldest one still sending its request,
 * so slow peers cannot keep a scrape out), one response, then close.  It
 * never blocks the loop: reads and writes are non-blocking, a response
 * the socket does not take at once waits for writability; out of
 * descriptors, it stops accepting for 100 ms at a time instead of
 * spinning.
 */
#ifndef NK_CORE_METRICS_H
#define NK_CORE_METRICS_H

#include "base/err.h"

/* Clients served at once. */
#define NK_METRICS_CLIENTS_MAX 32

struct nk__server;
struct nk__metrics;

/* Bind `where` (HOST:PORT, [V6]:PORT) and log "Metrics on http://...". */
int nk__metrics_bind(const char *where, const char *file, int line,
                     struct nk__metrics **out, struct nk_err *err);

/* Serve on `loop` (the main thread's) from now on, the counters of the
 * configuration *srv serves (a reload changes it). */
struct nk__loop;
int nk__metrics_start(struct nk__metrics *m, struct nk__loop *loop,
                      struct nk__server *const *srv, struct nk_err *err);

/* Stop accepting (a shutdown began); clients in progress finish. */
void nk__metrics_close(struct nk__metrics *m);

/* Close everything and free (NULL: nothing). */
void nk__metrics_free(struct nk__metrics *m);

#endif /* NK_CORE_METRICS_H */
