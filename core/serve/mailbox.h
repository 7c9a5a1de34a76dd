/*
 * mailbox.h -- work posted to a worker by other threads: a plugin's post,
 * or a send or close for a session that worker owns.  Workers never touch
 * each other's connections; they leave mail, and the owner acts on it in
 * its own loop (an eventfd wakes it).
 *
 * Mail from one thread to another arrives in the order it was put.  The
 * bytes waiting in one mailbox are bounded (NK_MAILBOX_MAX): past that,
 * put fails with NK_EAGAIN rather than let a stalled worker grow without
 * end.
 */
#ifndef NK_SERVE_MAILBOX_H
#define NK_SERVE_MAILBOX_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define NK_MAILBOX_MAX (16u << 20)

enum nk__mail_kind {
    NK_MAIL_POST,
    NK_MAIL_SEND,
    NK_MAIL_CLOSE,
    NK_MAIL_PAUSE,    /* pause_read */
    NK_MAIL_RESUME,   /* resume_read */
    NK_MAIL_SHUTDOWN, /* shutdown_write */
    NK_MAIL_RESOLVED, /* a name lookup's answer (resolve.h) */
    NK_MAIL_HANDOVER  /* a reload's on_reload (handover.h) */
};

struct nk__mail {
    struct nk__mail *next;
    enum nk__mail_kind kind;
    size_t listener; /* index of the listener in the worker */
    uint64_t sid;    /* all but POST: the session */
    size_t len;
    uint8_t data[]; /* POST: the message; SEND: the payload */
};

struct nk__mailbox {
    pthread_mutex_t mu;
    struct nk__mail *head, *tail;
    size_t bytes;
    int efd; /* eventfd, readable while mail waits */
};

/* Returns 0 or a negative NK_E* code. */
int nk__mailbox_init(struct nk__mailbox *mb);
/* Free what is still waiting, and the eventfd. */
void nk__mailbox_fini(struct nk__mailbox *mb);

/* A piece of mail with room for len bytes of data (NULL: no memory). */
struct nk__mail *nk__mail_new(enum nk__mail_kind kind, size_t listener,
                              uint64_t sid, size_t len);

/* Hand m to the mailbox's owner (it owns m afterwards, whatever the
 * result).  Returns 0, or NK_EAGAIN over NK_MAILBOX_MAX. */
int nk__mailbox_put(struct nk__mailbox *mb, struct nk__mail *m);

/* Everything waiting, oldest first; the caller frees each with nk__free. */
struct nk__mail *nk__mailbox_take(struct nk__mailbox *mb);

#endif /* NK_SERVE_MAILBOX_H */
