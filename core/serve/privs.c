/* privs.c -- giving up root after binding.  See privs.h. */
#include "serve/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include <netkit/plugin.h>

#include "base/log.h"

int
nk__privileges_drop(const struct nk__settings *s, struct nk_err *err)
{
    struct passwd *pw;

    if (s->user == NULL) {
        if (geteuid() == 0)
            nk__log(NK_LOG_WARN, "Serving as root: set user in [netkit] to "
                                 "run as another user once bound");
        return 0;
    }
    if (geteuid() != 0) {
        if (geteuid() != s->uid)
            nk__log(NK_LOG_WARN,
                    "[netkit] user = %s ignored: not started as root "
                    "(running as uid %u)",
                    s->user, (unsigned)geteuid());
        return 0;
    }
    /* Groups first: once the user is not root, they cannot change. */
    pw = getpwuid(s->uid);
    if (s->group == NULL && pw != NULL) {
        if (initgroups(pw->pw_name, s->gid) < 0)
            return nk__err_run(err, "cannot set the groups of user %s: %s",
                               s->user, strerror(errno));
    } else if (setgroups(1, &s->gid) < 0) {
        return nk__err_run(err, "cannot set supplementary groups: %s",
                           strerror(errno));
    }
    if (setgid(s->gid) < 0)
        return nk__err_run(err, "cannot switch to group %u: %s",
                           (unsigned)s->gid, strerror(errno));
    if (setuid(s->uid) < 0)
        return nk__err_run(err, "cannot switch to user %s: %s", s->user,
                           strerror(errno));
    if (s->uid != 0 &&
        (setuid(0) == 0 || seteuid(0) == 0 || getuid() != s->uid ||
         geteuid() != s->uid || getgid() != s->gid || getegid() != s->gid))
        return nk__err_run(err,
                           "switched to user %s but root could be "
                           "regained: stopping",
                           s->user);
    nk__log(NK_LOG_INFO, "Running as user %s (uid %u, gid %u)", s->user,
            (unsigned)s->uid, (unsigned)s->gid);
    return 0;
}
