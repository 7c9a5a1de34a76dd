/*
 * unixaddr.c -- AF_UNIX addresses.  See unixaddr.h.
 */
#include "base/unixaddr.h"

#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define UNIX_PREFIX "unix:"

int
nk__unix_is(const char *s)
{
    return s != NULL && strncmp(s, UNIX_PREFIX, strlen(UNIX_PREFIX)) == 0;
}

const char *
nk__unix_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_un *un = (struct sockaddr_un *)ss;
    const char *name = s + strlen(UNIX_PREFIX);
    size_t n = strlen(name);

    memset(ss, 0, sizeof(*ss));
    un->sun_family = AF_UNIX;
    if (n == 0 || (name[0] == '@' && n == 1))
        return "expected unix:/PATH or unix:@NAME";
    if (n >= sizeof(un->sun_path))
        return "longer than a unix socket address holds (107 bytes)";
    if (name[0] == '@') {
        /* Abstract: a NUL first, then the name, no NUL after it. */
        memcpy(un->sun_path + 1, name + 1, n - 1);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
        return NULL;
    }
    memcpy(un->sun_path, name, n);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return NULL;
}

const char *
nk__unix_path(const struct sockaddr *sa)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)sa;

    if (sa->sa_family != AF_UNIX || un->sun_path[0] == '\0')
        return NULL;
    return un->sun_path;
}

void
nk__unix_format(const struct sockaddr *sa, char *buf, size_t size)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
    size_t max = sizeof(un->sun_path) - 1;

    /* The length is not known here: an abstract name ends at its first
     * NUL (netkit's own never hold one), an unnamed peer is all NULs. */
    if (un->sun_path[0] != '\0')
        snprintf(buf, size, UNIX_PREFIX "%.*s", (int)max, un->sun_path);
    else if (un->sun_path[1] != '\0')
        snprintf(buf, size, UNIX_PREFIX "@%.*s", (int)max - 1,
                 un->sun_path + 1);
    else
        snprintf(buf, size, UNIX_PREFIX);
}

const char *
nk__unix_clear_stale(const char *path, int socktype)
{
    struct sockaddr_un un;
    struct stat st;
    int fd, rc, saved;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? NULL : strerror(errno);
    if (!S_ISSOCK(st.st_mode))
        return "the path exists and is not a socket";
    fd = socket(AF_UNIX, socktype | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return strerror(errno);
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
    rc = connect(fd, (struct sockaddr *)&un, sizeof(un));
    saved = errno;
    close(fd);
    if (rc == 0)
        return "in use: a process listens on it";
    if (saved != ECONNREFUSED)
        return strerror(saved);
    /* Nobody listens: left by a process that died.  Remove it. */
    if (unlink(path) < 0 && errno != ENOENT)
        return strerror(errno);
    return NULL;
}

/* The socket files bound, with the inode each got, so that the one removed
 * at exit is ours. */
#define UNIX_CREATED_MAX 64

static struct {
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    dev_t dev;
    ino_t ino;
} unix_created[UNIX_CREATED_MAX];
static size_t unix_ncreated;
static pthread_mutex_t unix_lock = PTHREAD_MUTEX_INITIALIZER;

void
nk__unix_created(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return;
    pthread_mutex_lock(&unix_lock);
    for (size_t i = 0; i < unix_ncreated; i++)
        if (strcmp(unix_created[i].path, path) == 0) {
            unix_created[i].dev = st.st_dev;
            unix_created[i].ino = st.st_ino;
            pthread_mutex_unlock(&unix_lock);
            return;
        }
    if (unix_ncreated < UNIX_CREATED_MAX) {
        snprintf(unix_created[unix_ncreated].path, sizeof(unix_created[0].path),
                 "%s", path);
        unix_created[unix_ncreated].dev = st.st_dev;
        unix_created[unix_ncreated].ino = st.st_ino;
        unix_ncreated++;
    }
    pthread_mutex_unlock(&unix_lock);
}

void
nk__unix_remove_all(void)
{
    pthread_mutex_lock(&unix_lock);
    for (size_t i = 0; i < unix_ncreated; i++) {
        struct stat st;

        if (lstat(unix_created[i].path, &st) == 0 && S_ISSOCK(st.st_mode) &&
            st.st_dev == unix_created[i].dev &&
            st.st_ino == unix_created[i].ino)
            unlink(unix_created[i].path);
    }
    unix_ncreated = 0;
    pthread_mutex_unlock(&unix_lock);
}
