/*
 * deadline.h -- what happens when one of the host's own deadlines fires
 * (idle, message, write): the plugin's on_timeout chooses an answer or a
 * silent close, then the host closes.
 */
#ifndef NK_SERVE_DEADLINE_H
#define NK_SERVE_DEADLINE_H

struct nk__conn;

/* Deadline `kind` (NK_TIMEOUT_*) fired for c: call on_timeout once per
 * session if the plugin has it, then close c -- at once, or once what
 * on_timeout sent is written (IDLE, MESSAGE).  Returns 1 when c is still
 * open, writing that answer, else 0.  `why` is the close's log reason. */
int nk__deadline_fire(struct nk__conn *c, int kind, const char *why);

#endif /* NK_SERVE_DEADLINE_H */
