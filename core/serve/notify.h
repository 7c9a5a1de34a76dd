/*
 * notify.h -- telling systemd how the service is doing (sd_notify(3)).
 *
 * Under Type=notify systemd sets NOTIFY_SOCKET, the path of a datagram
 * socket ('@' first: an abstract name); each state is one datagram of
 * NAME=VALUE lines: READY=1 when netkit serves, STOPPING=1 when it begins
 * to shut down, STATUS=... for `systemctl status`.  Without NOTIFY_SOCKET
 * nothing is sent.
 *
 * The protocol is implemented here rather than linking libsystemd: it is
 * thirty lines against a documented, stable format, and netkit keeps no
 * dependency beyond inih and libc.
 */
#ifndef NK_CORE_NOTIFY_H
#define NK_CORE_NOTIFY_H

/* Send one state message ("READY=1\nSTATUS=Serving 2 listeners").
 * Returns 1 sent, 0 no NOTIFY_SOCKET, -1 failed (errno set). */
int nk__notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* NK_CORE_NOTIFY_H */
