/*
 * err.h -- start-up error context: a message and where it comes from.
 *
 * Every fallible start-up function (CLI, config, plugin loading, opening
 * listeners) takes a `struct nk_err *` as its last argument, fills it with
 * nk__err_set() or nk__err_at() and returns a negative code.  Only main.c
 * prints it -- "netkit: FILE:LINE: MSG" or "netkit: MSG" -- and picks the exit
 * status from `status` (2 usage/config, 1 run-time).
 */
#ifndef NK_CORE_ERR_H
#define NK_CORE_ERR_H

struct nk_err {
    char msg[512];
    const char *file; /* config file, or NULL */
    int line;         /* line in file, or 0 */
    int status;       /* exit status main should use: 2 usage/config, 1 run */
};

/* Set msg (printf-style, no trailing newline), clear file/line, status 2.
 * Returns -1 so callers can `return nk__err_set(...)`. */
int nk__err_set(struct nk_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Like nk__err_set with a location (file may be NULL). */
int nk__err_at(struct nk_err *err, const char *file, int line, const char *fmt,
               ...) __attribute__((format(printf, 4, 5)));

/* Like nk__err_set, status 1: a run-time failure (bind, connect, ...). */
int nk__err_run(struct nk_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Put printf-style text in front of the message ("-H x: " + msg),
 * keeping file, line and status. */
void nk__err_prefix(struct nk_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Format the one line main prints, without "netkit: " and newline. */
void nk__err_format(const struct nk_err *err, char *buf, unsigned size);

#endif /* NK_CORE_ERR_H */
