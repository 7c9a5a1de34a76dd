/*
 * tls_int.h -- what tls.c (the contexts) and tls_io.c (the connections)
 * share; nothing else includes it.
 */
#ifndef NK_CORE_TLS_INT_H
#define NK_CORE_TLS_INT_H

#include <stdatomic.h>
#include <stddef.h>

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

#endif /* NK_CORE_TLS_INT_H */
