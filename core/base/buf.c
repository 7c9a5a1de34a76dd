/* buf.c -- byte buffers.  See buf.h. */
#include "base/buf.h"

#include <string.h>

#include <netkit/error.h>

#include "base/alloc.h"

#define BUF_MIN 4096

int
nk__buf_reserve(struct nk__buf *b, size_t n)
{
    size_t len = b->end - b->start, cap;
    uint8_t *p;

    if (b->cap - b->end >= n)
        return 0;
    /* Compact first: enough room may be sitting before start. */
    if (b->start > 0) {
        memmove(b->base, b->base + b->start, len);
        b->start = 0;
        b->end = len;
        if (b->cap - len >= n)
            return 0;
    }
    if (n > SIZE_MAX / 2 - len)
        return NK_ENOMEM;
    cap = b->cap ? b->cap : BUF_MIN;
    while (cap - len < n)
        cap *= 2;
    p = nk__realloc(b->base, cap);
    if (p == NULL)
        return NK_ENOMEM;
    b->base = p;
    b->cap = cap;
    return 0;
}

int
nk__buf_append(struct nk__buf *b, const void *p, size_t n)
{
    int rc = nk__buf_reserve(b, n);

    if (rc < 0)
        return rc;
    if (n > 0)
        memcpy(b->base + b->end, p, n);
    b->end += n;
    return 0;
}

void
nk__buf_consume(struct nk__buf *b, size_t n)
{
    b->start += n;
    if (b->start >= b->end)
        b->start = b->end = 0;
}

void
nk__buf_free(struct nk__buf *b)
{
    nk__free(b->base);
    *b = (struct nk__buf){0};
}
