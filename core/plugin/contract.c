/* contract.c -- checking what a plugin returns.  See contract.h. */
#include "plugin/contract.h"

#include <stdio.h>

const char *
nk__decode_check(long rc, const uint8_t *buf, size_t len,
                 const struct nk_frame *f, int stream, size_t max_message)
{
    (void)max_message;
    if (rc == NK_ENEEDMORE)
        return f->need != 0 && f->need <= len
                   ? "asked for more bytes than the message has"
               : f->head_len > len ? "a head longer than its input"
                                   : NULL;
    if (rc < 0)
        return NULL; /* malformed input: the peer's fault */
    if ((size_t)rc > len)
        return "returned a message longer than its input";
    if (rc == 0 && stream)
        return "returned an empty message on a stream";
    if (f->payload_len == 0)
        return NULL;
    /* Written so that nothing overflows: payload in [buf, buf + rc]. */
    if (f->payload == NULL || (uintptr_t)f->payload < (uintptr_t)buf ||
        (uintptr_t)f->payload - (uintptr_t)buf > (size_t)rc ||
        f->payload_len > (size_t)rc - ((uintptr_t)f->payload - (uintptr_t)buf))
        return "payload outside the message";
    return NULL;
}

const char *
nk__create_check(int rc, char *msg, size_t size)
{
    if (rc <= 0)
        return NULL;
    snprintf(msg, size, "create returned %d (0 or a negative code expected)",
             rc);
    return msg;
}

const uint8_t *
nk__wrap_head(const struct nk_wrap *w)
{
    return w->head_ext != NULL ? w->head_ext : w->head;
}

const uint8_t *
nk__wrap_tail(const struct nk_wrap *w)
{
    return w->tail_ext != NULL ? w->tail_ext : w->tail;
}
