/* err.c -- start-up error context.  See err.h. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int err_vset(struct nk_err *err, const char *file, int line, int status,
                    const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

/* An error is one line: a control byte quoted from the user's text (an
 * argument, a value, a path) is shown as '?', as `ls -q` does. */
static void
err_one_line(char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

static int
err_vset(struct nk_err *err, const char *file, int line, int status,
         const char *fmt, va_list ap)
{
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    err_one_line(err->msg);
    err->file = file;
    err->line = line;
    err->status = status;
    return -1;
}

int
nk__err_set(struct nk_err *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_vset(err, NULL, 0, 2, fmt, ap);
    va_end(ap);
    return -1;
}

int
nk__err_at(struct nk_err *err, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_vset(err, file, line, 2, fmt, ap);
    va_end(ap);
    return -1;
}

int
nk__err_run(struct nk_err *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_vset(err, NULL, 0, 1, fmt, ap);
    va_end(ap);
    return -1;
}

void
nk__err_format(const struct nk_err *err, char *buf, unsigned size)
{
    if (err->file != NULL && err->line > 0)
        snprintf(buf, size, "%s:%d: %s", err->file, err->line, err->msg);
    else if (err->file != NULL)
        snprintf(buf, size, "%s: %s", err->file, err->msg);
    else
        snprintf(buf, size, "%s", err->msg);
    if (size > 0)
        err_one_line(buf);
}

void
nk__err_prefix(struct nk_err *err, const char *fmt, ...)
{
    char prefix[200];
    size_t p, n = strlen(err->msg);
    va_list ap;
    int len;

    va_start(ap, fmt);
    len = vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    p = (size_t)len < sizeof(prefix) ? (size_t)len : sizeof(prefix) - 1;
    if (p + n >= sizeof(err->msg))
        n = sizeof(err->msg) - p - 1; /* the end of the message gives way */
    memmove(err->msg + p, err->msg, n);
    memcpy(err->msg, prefix, p);
    err->msg[p + n] = '\0';
}
