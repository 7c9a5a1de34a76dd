/*
 * activation.h -- systemd socket activation (sd_listen_fds(3)'s protocol).
 *
 * systemd (or systemd-socket-activate) binds the sockets, starts netkit
 * with them open from descriptor 3 on, and says so in the environment:
 * LISTEN_PID (this process), LISTEN_FDS (how many) and LISTEN_FDNAMES
 * (colon-separated names, a socket unit's FileDescriptorName=).  A
 * descriptor named NAME serves [listen.NAME] instead of a bind; a listener
 * without one binds as usual.  A descriptor must fit its listener: a
 * listening stream socket for tcp, a datagram socket for udp, of the
 * listener's family -- anything else stops netkit with a message.  A
 * descriptor no listener names is logged and closed.
 */
#ifndef NK_CORE_ACTIVATION_H
#define NK_CORE_ACTIVATION_H

#include <sys/types.h>

#include "base/err.h"
#include "config/settings.h"
#include "serve/listen.h"

#define NK_ACTIVATION_FIRST_FD 3

struct nk__activation_fd {
    int fd;
    char *name; /* "unknown" when LISTEN_FDNAMES gives none */
    int used;
};

struct nk__activation {
    struct nk__activation_fd *fds;
    size_t n;
};

/*
 * Parse the three variables' values (NULL: unset) for process `self`.
 * Descriptors for another process, or none, leave out->n 0.  Returns 0, or
 * -1 with err for malformed values (status 2).
 */
int nk__activation_parse(const char *pid, const char *fds, const char *names,
                         pid_t self, struct nk__activation *out,
                         struct nk_err *err);
void nk__activation_free(struct nk__activation *a);

/* Read (and unset) the environment for this process.  Call once, before
 * any listener binds. */
int nk__activation_init(struct nk_err *err);

/*
 * If descriptors named lc->name were inherited, check them and use them as
 * the listener's addresses: *addrs and *fds (naddrs * nworkers entries;
 * every worker after the first gets a dup) are replaced.  Returns 1 when
 * adopted, 0 when there is none (bind as usual), -1 with err.
 */
int nk__activation_adopt(const struct nk__listen_conf *lc, int nworkers,
                         struct nk__bindaddr **addrs, size_t *naddrs, int **fds,
                         struct nk_err *err);

/* After every listener: log and close the descriptors none took. */
void nk__activation_done(void);

#endif /* NK_CORE_ACTIVATION_H */
