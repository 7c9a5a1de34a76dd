/*
 * netkit/error.h -- error codes shared by the host and plugins.
 *
 * Every netkit function that can fail returns an int (or long): 0 means
 * success, a positive value is a count or a size, and a negative value is one
 * of the NK_E* codes below.  Codes that mirror an errno value are exactly
 * -errno, so `nk_strerror(-errno)` reads as the system's message.  Codes that
 * are not errno values live in a reserved range below -4000, like libuv's
 * UV_EOF.
 *
 * When a function which takes a callback returns an error, the callback will
 * never be called.
 */
#ifndef NETKIT_ERROR_H
#define NETKIT_ERROR_H

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

/* XX(name, value, message).  One list; the enum and both lookups below are
 * generated from it, so they can never disagree. */
#define NK_ERRNO_MAP(XX)                                                       \
    XX(EAGAIN, -EAGAIN, "resource temporarily unavailable")                    \
    XX(EINVAL, -EINVAL, "invalid argument")                                    \
    XX(ENOMEM, -ENOMEM, "out of memory")                                       \
    XX(EMSGSIZE, -EMSGSIZE, "message too long")                                \
    XX(EPROTO, -EPROTO, "protocol error")                                      \
    XX(ENOENT, -ENOENT, "no such file or directory")                           \
    XX(ENOTSUP, -ENOTSUP, "operation not supported")                           \
    XX(EPIPE, -EPIPE, "broken pipe")                                           \
    XX(ECONNRESET, -ECONNRESET, "connection reset by peer")                    \
    XX(ETIMEDOUT, -ETIMEDOUT, "timed out")                                     \
    XX(EOF, -4001, "end of file")                                              \
    XX(ENEEDMORE, -4002, "need more input")                                    \
    XX(EFRAMETOOBIG, -4003, "frame larger than the allowed maximum")           \
    XX(ECLOSE, -4004, "close requested")                                       \
    XX(ECANCELED, -ECANCELED, "operation canceled")                            \
    XX(ENOHOST, -4005, "host name not found")

enum nk_errno {
#define NK__ERRNO_ENUM(name, value, msg) NK_##name = (value),
    NK_ERRNO_MAP(NK__ERRNO_ENUM)
#undef NK__ERRNO_ENUM
};

/*
 * nk_strerror(err) returns a static message for an NK_E* code (or for any
 * -errno value, through strerror).  nk_err_name(err) returns "NK_EAGAIN"-style
 * names for the codes in the map and "NK_E?" otherwise.  Both are header-only
 * so that plugins link against nothing.
 */
#include <string.h>

static inline const char *
nk_strerror(int err)
{
    switch (err) {
#define NK__ERRNO_MSG(name, value, msg)                                        \
    case (value):                                                              \
        return msg;
        NK_ERRNO_MAP(NK__ERRNO_MSG)
#undef NK__ERRNO_MSG
    default:
        return err < 0 && err > -4000 ? strerror(-err) : "unknown error";
    }
}

static inline const char *
nk_err_name(int err)
{
    switch (err) {
#define NK__ERRNO_NAME(name, value, msg)                                       \
    case (value):                                                              \
        return "NK_" #name;
        NK_ERRNO_MAP(NK__ERRNO_NAME)
#undef NK__ERRNO_NAME
    default:
        return "NK_E?";
    }
}

#ifdef __cplusplus
}
#endif

#endif /* NETKIT_ERROR_H */
