/* fdlimit.c -- the descriptor limit against what serving needs.  See
 * fdlimit.h. */
#include "serve/fdlimit.h"

#include <sys/resource.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "base/log.h"

/* Past this limit, counting by probing each number costs too much; the
 * limit is then large enough for the check not to matter. */
#define FDLIMIT_PROBE_MAX 65536

/* Descriptors open below `limit`; -1 if it cannot tell. */
static long long
fdlimit_in_use(long long limit)
{
    DIR *d = opendir("/proc/self/fd");
    long long n = 0;
    struct dirent *e;

    if (d == NULL && errno == EMFILE)
        return limit; /* not even one left to look with */
    if (d != NULL) {
        int self = dirfd(d);
        while ((e = readdir(d)) != NULL) {
            char *end;
            long fd = strtol(e->d_name, &end, 10);
            if (*end == '\0' && end != e->d_name && fd != self && fd < limit)
                n++;
        }
        closedir(d);
        return n;
    }
    if (limit > FDLIMIT_PROBE_MAX)
        return -1;
    for (int fd = 0; fd < limit; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            n++;
    return n;
}

int
nk__fdlimit_check(long long conns, int more, struct nk_err *err)
{
    struct rlimit rl;
    long long limit, used, left;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return 0;
    limit = (long long)rl.rlim_cur;
    if ((used = fdlimit_in_use(limit)) < 0)
        return 0;
    used += more;
    left = limit - used;
    if (left < 1)
        return nk__err_run(err,
                           "the descriptor limit (ulimit -n) is %lld, and "
                           "the listening sockets, event loops and workers "
                           "take %lld: none is left for a connection; raise "
                           "it to at least %lld (%lld for max_conns)",
                           limit, used, used + 1, used + conns);
    if (left < conns)
        nk__log(
            NK_LOG_WARN,
            "The descriptor limit (ulimit -n) is %lld: %lld left "
            "for connections, fewer than max_conns allows (%lld): "
            "connections past them are shed. Raise it to %lld (LimitNOFILE= "
            "under systemd), or lower max_conns",
            limit, left, conns, used + conns);
    return 0;
}
