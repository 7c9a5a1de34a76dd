/*
 * fdlimit.h -- is the descriptor limit (RLIMIT_NOFILE, ulimit -n) enough
 * to serve?  Checked once everything but the connections is open, before
 * "Ready": with none left for a connection, refuse to start (as Redis
 * does); with fewer than max_conns allows, warn (as nginx does about
 * worker_connections).  Both say what limit would do.
 */
#ifndef NK_SERVE_FDLIMIT_H
#define NK_SERVE_FDLIMIT_H

#include "base/err.h"

/* `conns`: the connections the configuration may hold at once (max_conns
 * of every TCP listener, the metrics clients); `more`: descriptors still
 * to be opened before serving.  Returns 0 (perhaps after a warning) or -1
 * with err (status 1). */
int nk__fdlimit_check(long long conns, int more, struct nk_err *err);

#endif /* NK_SERVE_FDLIMIT_H */
