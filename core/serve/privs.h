/*
 * privs.h -- giving up root once the sockets are bound.
 *
 * [netkit] user = NAME (and group = NAME, else the user's own group):
 * after every listener is bound, and before the first connection, netkit
 * sets its supplementary groups, then its group, then its user, and checks
 * that root cannot be taken back.  Started as another user than root,
 * `user` is ignored with a warning (as nginx does); serving as root without
 * `user` logs a warning.
 */
#ifndef NK_CORE_PRIVS_H
#define NK_CORE_PRIVS_H

#include "base/err.h"
#include "config/settings.h"

/* Returns 0, or -1 with err (status 1) when a switch fails. */
int nk__privileges_drop(const struct nk__settings *s, struct nk_err *err);

#endif /* NK_CORE_PRIVS_H */
