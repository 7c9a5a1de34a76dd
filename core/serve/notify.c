/* notify.c -- sd_notify's protocol, without libsystemd.  See notify.h. */
#include "serve/notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
nk__notify(const char *fmt, ...)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char msg[512];
    size_t plen;
    socklen_t len;
    va_list ap;
    ssize_t n;
    int fd, saved;

    if (path == NULL || (path[0] != '/' && path[0] != '@'))
        return 0; /* unset, or a form this file does not know (vsock) */
    plen = strlen(path);
    if (plen < 2 || plen > sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sun.sun_path, path, plen);
    if (sun.sun_path[0] == '@')
        sun.sun_path[0] = '\0'; /* abstract: no terminating NUL counts */
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun,
               len);
    saved = errno;
    close(fd);
    errno = saved;
    return n < 0 ? -1 : 1;
}
