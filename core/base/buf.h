/*
 * buf.h -- a byte buffer with a consumed front, after nginx's ngx_buf_t
 * reduced to what netkit needs: base[start..end) holds the data, cap is the
 * allocation.  Allocated lazily (an idle connection owns no buffer);
 * consuming advances start; compaction (one memmove) happens only when more
 * room is asked for, so it runs at most once per read.
 */
#ifndef NK_CORE_BUF_H
#define NK_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct nk__buf {
    uint8_t *base;
    size_t start, end, cap;
};

static inline size_t
nk__buf_len(const struct nk__buf *b)
{
    return b->end - b->start;
}

static inline uint8_t *
nk__buf_data(const struct nk__buf *b)
{
    return b->base + b->start;
}

/* Make room for at least `n` more bytes after end.  Returns 0 or NK_ENOMEM;
 * the data keeps its bytes but may move. */
int nk__buf_reserve(struct nk__buf *b, size_t n);

/* Append n bytes (reserving as needed).  Returns 0 or NK_ENOMEM. */
int nk__buf_append(struct nk__buf *b, const void *p, size_t n);

/* Drop n bytes from the front (n <= nk__buf_len). */
void nk__buf_consume(struct nk__buf *b, size_t n);

/* Release the memory. */
void nk__buf_free(struct nk__buf *b);

#endif /* NK_CORE_BUF_H */
