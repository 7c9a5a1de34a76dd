/*
 * tls_int.h -- what tls.c (the contexts) and tls_io.c (the connections)
 * share; nothing else includes it.
 */
#ifndef NK_CORE_TLS_INT_H
#define NK_CORE_TLS_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

#include "config/settings.h"

struct nk__tls {
    SSL_CTX **ctx; /* one per certificate; [0] the default */
    size_t nctx;
    unsigned char *alpn; /* tls_alpn in the wire form, or NULL */
    size_t alpn_len;
    unsigned char sid_ctx[16];
    const struct nk__listen_conf *conf;
    atomic_int offload_logged; /* nk__tls_log_offload said it */
};

/* A session ticket key: its name (in every ticket it made), AES-256 and
 * HMAC-SHA256 keys, and when it was made. */
struct nk__tls_tkey {
    unsigned char name[16], aes[32], hmac[32];
    time_t born;
};

/* The current ticket key at time `now` (made, or rotated, as needed) into
 * *k when name is NULL; else the key of that name.  1: the current one,
 * 2: the previous one (resume, and issue a new ticket), 0: none. */
int nk__tls_tkey_get(const unsigned char *name, struct nk__tls_tkey *k,
                     time_t now);

#endif /* NK_CORE_TLS_INT_H */
