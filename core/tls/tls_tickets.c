/*
 * tls_tickets.c -- the process's session ticket keys (tls.h): made on
 * first use, replaced every NK_TLS_TICKET_ROTATE_S, the one before kept
 * for another period so that its tickets still resume (and are replaced).
 */
#include <pthread.h>
#include <string.h>

#include <openssl/rand.h>

#include "tls/tls.h"
#include "tls/tls_int.h"

/* Shared by every listener and worker (a ticket names its listener by the
 * session id context, so it resumes there only), and kept across reloads. */
static struct {
    pthread_mutex_t lock;
    struct nk__tls_tkey cur, prev;
    int have_cur, have_prev;
} tkeys = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int
tkey_make(struct nk__tls_tkey *k, time_t now)
{
    k->born = now;
    return RAND_bytes(k->name, sizeof(k->name)) == 1 &&
           RAND_bytes(k->aes, sizeof(k->aes)) == 1 &&
           RAND_bytes(k->hmac, sizeof(k->hmac)) == 1;
}

int
nk__tls_tkey_get(const unsigned char *name, struct nk__tls_tkey *k, time_t now)
{
    int rc = 0;

    pthread_mutex_lock(&tkeys.lock);
    if (!tkeys.have_cur || now - tkeys.cur.born >= NK_TLS_TICKET_ROTATE_S) {
        struct nk__tls_tkey fresh;
        if (tkey_make(&fresh, now)) {
            if (tkeys.have_cur) {
                tkeys.prev = tkeys.cur;
                tkeys.have_prev = 1;
            }
            tkeys.cur = fresh;
            tkeys.have_cur = 1;
        }
    }
    if (tkeys.have_prev && now - tkeys.prev.born >= 2 * NK_TLS_TICKET_ROTATE_S)
        tkeys.have_prev = 0; /* too old to resume with */
    if (name == NULL ||
        (tkeys.have_cur && memcmp(name, tkeys.cur.name, 16) == 0)) {
        if (tkeys.have_cur) {
            *k = tkeys.cur;
            rc = 1;
        }
    } else if (tkeys.have_prev && memcmp(name, tkeys.prev.name, 16) == 0) {
        *k = tkeys.prev;
        rc = 2;
    }
    pthread_mutex_unlock(&tkeys.lock);
    return rc;
}
