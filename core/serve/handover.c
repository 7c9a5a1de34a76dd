/* handover.c -- plugin state across a reload.  See handover.h. */
#include "serve/handover.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "plugin/loader.h"
#include "serve/server.h"

enum { HO_PENDING, HO_TAKEN, HO_DONE, HO_CANCELLED };

/* Shared by the main thread and the worker: the last to let go frees it
 * (the main thread may give up before the mail is read). */
struct ho_req {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state, refs;
    void *new_inst;
};

static void
ho_unref(struct ho_req *r)
{
    int last;

    pthread_mutex_lock(&r->mu);
    last = --r->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (last) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        nk__free(r);
    }
}

int
nk__handover(struct nk__server *old, size_t old_listener, void *new_inst)
{
    struct ho_req *r = nk__calloc(1, sizeof(*r));
    struct nk__mail *m;
    pthread_condattr_t ca;
    struct timespec until;
    int rc = -1;

    if (r == NULL)
        return -1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    r->state = HO_PENDING;
    r->refs = 2; /* this thread and the mail */
    r->new_inst = new_inst;
    m = nk__mail_new(NK_MAIL_HANDOVER, old_listener, 0, sizeof(r));
    if (m == NULL) {
        r->refs = 1;
        ho_unref(r);
        return -1;
    }
    memcpy(m->data, &r, sizeof(r));
    if (nk__mailbox_put(&old->mail, m) < 0) { /* m is freed */
        r->refs = 1;
        ho_unref(r);
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += NK_HANDOVER_WAIT_MS / 1000;
    until.tv_nsec += (long)(NK_HANDOVER_WAIT_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    while (r->state == HO_PENDING &&
           pthread_cond_timedwait(&r->cv, &r->mu, &until) != ETIMEDOUT)
        ;
    if (r->state == HO_PENDING)
        r->state = HO_CANCELLED; /* the worker will not run it now */
    while (r->state == HO_TAKEN) /* running: it must finish first */
        pthread_cond_wait(&r->cv, &r->mu);
    rc = r->state == HO_DONE ? 0 : -1;
    pthread_mutex_unlock(&r->mu);
    ho_unref(r);
    return rc;
}

void
nk__handover_on_mail(struct nk__listener *ls, const struct nk__mail *m)
{
    struct ho_req *r;
    int run;

    if (m->len != sizeof(r))
        return;
    memcpy(&r, m->data, sizeof(r));
    pthread_mutex_lock(&r->mu);
    run = r->state == HO_PENDING;
    if (run)
        r->state = HO_TAKEN;
    pthread_mutex_unlock(&r->mu);
    if (run && ls->created && ls->plugin->desc->on_reload != NULL)
        ls->plugin->desc->on_reload(ls->inst, r->new_inst);
    pthread_mutex_lock(&r->mu);
    if (run)
        r->state = HO_DONE;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    ho_unref(r);
}
