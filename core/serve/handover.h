/*
 * handover.h -- a reload hands a plugin's state to its new instance
 * (nk_plugin.on_reload, ABI 1.2).
 *
 * The new configuration's instances are created on the main thread while
 * the old workers go on serving.  on_reload(old, new) must run where
 * neither instance runs anything else: on the old instance's worker (so
 * the old instance is between callbacks), before the new configuration's
 * workers start (so the new one has run nothing yet).  The main thread
 * posts the request to the old worker's mailbox and waits; a worker that
 * does not take it within NK_HANDOVER_WAIT_MS (stuck in a plugin) has the
 * request cancelled and never runs it, and the reload goes on without
 * that hand-over.
 */
#ifndef NK_SERVE_HANDOVER_H
#define NK_SERVE_HANDOVER_H

#include <stddef.h>

#include "serve/mailbox.h"

#define NK_HANDOVER_WAIT_MS 5000

struct nk__server;
struct nk__listener;

/* On the main thread: have worker `old` run its listener old_listener's
 * on_reload(inst, new_inst), and wait.  0 when it ran, -1 when it did not
 * (no memory, a full mailbox, or not taken in time). */
int nk__handover(struct nk__server *old, size_t old_listener, void *new_inst);

/* On the old worker: NK_MAIL_HANDOVER mail for its listener ls. */
void nk__handover_on_mail(struct nk__listener *ls, const struct nk__mail *m);

#endif /* NK_SERVE_HANDOVER_H */
