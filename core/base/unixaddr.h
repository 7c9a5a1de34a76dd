/*
 * unixaddr.h -- AF_UNIX addresses as netkit writes them: "unix:/path" (a
 * socket file; a relative path is taken as it is) and "unix:@name" (Linux's
 * abstract namespace: no file, gone with the last socket).
 */
#ifndef NK_CORE_UNIXADDR_H
#define NK_CORE_UNIXADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Does s name a unix socket ("unix:...")? */
int nk__unix_is(const char *s);

/*
 * Parse "unix:/path" or "unix:@name" into *ss and *len.  Returns NULL, or
 * what is wrong (a short phrase: empty, too long).
 */
const char *nk__unix_parse(const char *s, struct sockaddr_storage *ss,
                           socklen_t *len);

/* The file of a path address, or NULL (abstract or unnamed). */
const char *nk__unix_path(const struct sockaddr *sa);

/* "unix:/path", "unix:@name", or "unix:" (an unnamed peer) into buf. */
void nk__unix_format(const struct sockaddr *sa, char *buf, size_t size);

/*
 * Before binding a path: a socket file nobody listens on any more (a
 * process that died without removing it) is removed; one that answers is
 * in use, and anything else is not ours to remove.  Returns NULL when the
 * path is free (now), or why not.
 */
const char *nk__unix_clear_stale(const char *path, int socktype);

/* Record a socket file this process bound (netkit serve), to be removed
 * by nk__unix_remove_all. */
void nk__unix_created(const char *path);

/* Remove every recorded socket file that is still the one bound (not one
 * another process has bound there since). */
void nk__unix_remove_all(void);

#endif /* NK_CORE_UNIXADDR_H */
