/*
 * flow.h -- a TCP session's flow control and half-close (plugin ABI 1.2):
 * pause_read / resume_read, output watermarks and on_writable,
 * shutdown_write and on_eof.
 *
 * A paused session is simply not read: its descriptor loses EPOLLIN, so
 * the kernel's receive buffer fills, the advertised window closes and the
 * peer's writes block -- back-pressure reaches the sender without netkit
 * buffering or dropping a byte.  The watermarks are how a plugin learns
 * that a session's output is backing up, to pause whatever feeds it.
 */
#ifndef NK_SERVE_FLOW_H
#define NK_SERVE_FLOW_H

#include <stddef.h>

#include "serve/mailbox.h"

struct nk__conn;

/* A new connection: the listener's watermarks. */
void nk__flow_init(struct nk__conn *c);

/* The plugin manages its own flow (it has on_writable): the host does not
 * stop reading a session whose own output is over its high watermark. */
int nk__flow_self(const struct nk__conn *c);

/* Half-close allowed (NK_PLUGIN_HALF_CLOSE with on_eof). */
int nk__flow_half_close(const struct nk__conn *c);

/* The output queue is q bytes now: cross a watermark, and owe
 * on_writable if the state changed. */
void nk__flow_output(struct nk__conn *c, size_t q);

/* From the loop: tell on_writable the current state if it changed. */
void nk__flow_tell(struct nk__conn *c);

/* pause_read (on 1) / resume_read (on 0) on this worker. */
void nk__flow_pause(struct nk__conn *c, int on);

/* shutdown_write on this worker: 0 or NK_EPIPE. */
int nk__flow_shutdown(struct nk__conn *c);

/* Set the watermarks: 0 or NK_EINVAL. */
int nk__flow_marks(struct nk__conn *c, size_t high, size_t low);

/* Mail for a session of this worker: PAUSE, RESUME, SHUTDOWN, RESOLVED. */
void nk__flow_on_mail(struct nk__conn *c, const struct nk__mail *m);

#endif /* NK_SERVE_FLOW_H */
