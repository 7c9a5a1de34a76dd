/* mailbox.c -- cross-worker mail.  See mailbox.h. */
#include "serve/mailbox.h"

#include <sys/eventfd.h>
#include <errno.h>
#include <unistd.h>

#include <netkit/error.h>

#include "base/alloc.h"

int
nk__mailbox_init(struct nk__mailbox *mb)
{
    mb->head = mb->tail = NULL;
    mb->bytes = 0;
    mb->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (mb->efd < 0)
        return -errno;
    pthread_mutex_init(&mb->mu, NULL);
    return 0;
}

static void
mail_free_list(struct nk__mail *m)
{
    while (m != NULL) {
        struct nk__mail *next = m->next;
        nk__free(m);
        m = next;
    }
}

void
nk__mailbox_fini(struct nk__mailbox *mb)
{
    if (mb->efd < 0)
        return;
    mail_free_list(mb->head);
    mb->head = mb->tail = NULL;
    close(mb->efd);
    mb->efd = -1;
    pthread_mutex_destroy(&mb->mu);
}

struct nk__mail *
nk__mail_new(enum nk__mail_kind kind, size_t listener, uint64_t sid, size_t len)
{
    struct nk__mail *m = nk__malloc(sizeof(*m) + len);

    if (m != NULL)
        *m = (struct nk__mail){
            .kind = kind, .listener = listener, .sid = sid, .len = len};
    return m;
}

int
nk__mailbox_put(struct nk__mailbox *mb, struct nk__mail *m)
{
    size_t size = sizeof(*m) + m->len;
    int wake;

    pthread_mutex_lock(&mb->mu);
    if (mb->bytes + size > NK_MAILBOX_MAX) {
        pthread_mutex_unlock(&mb->mu);
        nk__free(m);
        return NK_EAGAIN;
    }
    m->next = NULL;
    wake = mb->head == NULL;
    if (mb->tail != NULL)
        mb->tail->next = m;
    else
        mb->head = m;
    mb->tail = m;
    mb->bytes += size;
    pthread_mutex_unlock(&mb->mu);
    if (wake) {
        /* Only the first piece wakes the owner: it takes the whole list. */
        uint64_t one = 1;
        ssize_t n = write(mb->efd, &one, sizeof(one));
        (void)n; /* fails only if the counter would overflow */
    }
    return 0;
}

struct nk__mail *
nk__mailbox_take(struct nk__mailbox *mb)
{
    struct nk__mail *m;
    uint64_t v;
    ssize_t n = read(mb->efd, &v, sizeof(v));

    (void)n; /* EAGAIN: a wake-up already consumed; the list says */
    pthread_mutex_lock(&mb->mu);
    m = mb->head;
    mb->head = mb->tail = NULL;
    mb->bytes = 0;
    pthread_mutex_unlock(&mb->mu);
    return m;
}
