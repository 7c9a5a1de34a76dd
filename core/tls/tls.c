/*
 * tls.c -- a listener's TLS contexts: certificates, keys, client
 * verification, versions, ciphers, ALPN, SNI and session tickets.  See
 * tls.h.
 */
#include "tls/tls.h"

#include <sys/stat.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "base/alloc.h"
#include "base/log.h"
#include "config/conf.h"
#include "tls/tls_int.h"

const char *const nk__tls_fail_names[NK_TLS_FAIL_N] = {
    "protocol", "version", "cert", "alpn", "closed", "timeout"};

/* ---- session tickets ------------------------------------------------- */

/* OpenSSL's ticket callback: encrypt with the current key; decrypt with
 * the key the ticket names (the previous one: resume, and issue a new
 * ticket), or refuse it (a full handshake). */
static int
tls_ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv,
              EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    struct nk__tls_tkey k;
    OSSL_PARAM params[3];
    int which;

    (void)ssl;
    which = nk__tls_tkey_get(enc ? NULL : name, &k, time(NULL));
    if (which == 0)
        return enc ? -1 : 0;
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac,
                                                  sizeof(k.hmac));
    params[1] =
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    if (enc) {
        memcpy(name, k.name, 16);
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1 ||
            EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1 ||
            EVP_MAC_CTX_set_params(hctx, params) != 1)
            which = -1;
    } else if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) !=
                   1 ||
               EVP_MAC_CTX_set_params(hctx, params) != 1) {
        which = -1;
    }
    OPENSSL_cleanse(&k, sizeof(k));
    return which;
}

/* ---- errors ------------------------------------------------------------ */

const char *
nk__tls_reason(const char *fallback)
{
    static _Thread_local char why[160];
    unsigned long e = ERR_peek_last_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

    snprintf(why, sizeof(why), "%s", r != NULL ? r : fallback);
    ERR_clear_error();
    return why;
}

static const char *
tls_reason(void)
{
    return nk__tls_reason("unknown TLS error");
}

/* The line of key `name` in listener lc's section, for a message. */
static int
tls_line(const struct nk__listen_conf *lc, const char *name)
{
    return nk__conf_key_line(lc->key_line, name);
}

static int tls_fail(struct nk_err *err, const struct nk__listen_conf *lc,
                    int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
tls_fail(struct nk_err *err, const struct nk__listen_conf *lc, int line,
         const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return nk__err_at(err, line > 0 ? lc->file : NULL, line, "[listen.%s] %s",
                      lc->name, msg);
}

/* ---- files -------------------------------------------------------------- */

/* A file OpenSSL is to read: readable, and a regular file. */
static int
tls_check_file(const struct nk__listen_conf *lc, const char *key,
               const char *path, int line, struct stat *st, struct nk_err *err)
{
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return tls_fail(err, lc, line, "%s %s: %s", key, path, strerror(errno));
    if (fstat(fileno(f), st) < 0 || !S_ISREG(st->st_mode)) {
        fclose(f);
        return tls_fail(err, lc, line, "%s %s: not a regular file", key, path);
    }
    fclose(f);
    return 0;
}

/* A private key others can read is a key others may have copied.  Its
 * group may read it (Debian's ssl-cert convention: root:ssl-cert 0640, as
 * PostgreSQL allows), but neither write it nor let anyone else in. */
static int
tls_check_key_file(const struct nk__listen_conf *lc, const char *path, int line,
                   struct nk_err *err)
{
    struct stat st;
    unsigned mode;

    if (tls_check_file(lc, "tls_key", path, line, &st, err) < 0)
        return -1;
    mode = (unsigned)st.st_mode & 07777;
    if (mode & (S_IWGRP | S_IROTH | S_IWOTH))
        return tls_fail(
            err, lc, line, "tls_key %s: refused, %s (mode %04o): chmod 600 %s",
            path,
            (mode & (S_IROTH | S_IWOTH)) ? "readable or writable by others"
                                         : "writable by its group",
            mode, path);
    return 0;
}

int
nk__tls_no_passphrase(char *buf, int size, int rw, void *u)
{
    (void)buf, (void)size, (void)rw, (void)u;
    return -1;
}

/* Days until the certificate expires (negative: expired since). */
static int
tls_days_left(X509 *cert)
{
    int days = 0, secs = 0;

    if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)) != 1)
        return 0;
    return days;
}

static void
tls_warn_expiry(const struct nk__listen_conf *lc, const char *path, X509 *cert)
{
    int days = tls_days_left(cert);

    if (days < 0)
        nk__log(NK_LOG_WARN,
                "[listen.%s] tls_cert %s expired %d day%s ago: clients will "
                "refuse it",
                lc->name, path, -days, days == -1 ? "" : "s");
    else if (days < NK_TLS_EXPIRY_WARN_DAYS)
        nk__log(NK_LOG_WARN, "[listen.%s] tls_cert %s expires in %d day%s",
                lc->name, path, days, days == 1 ? "" : "s");
}

/* ---- ALPN -----------------------------------------------------------------
 */

long
nk__tls_alpn_wire(const char *list, unsigned char *out, size_t size,
                  const char **why)
{
    size_t o = 0;

    while (*list != '\0') {
        const char *comma = strchr(list, ',');
        size_t n = comma != NULL ? (size_t)(comma - list) : strlen(list);
        if (n == 0 || n > 255) {
            *why = n == 0 ? "an empty protocol name"
                          : "a too long protocol "
                            "name";
            return -1;
        }
        if (o + 1 + n > size) {
            *why = "too many protocol names";
            return -1;
        }
        out[o++] = (unsigned char)n;
        memcpy(out + o, list, n);
        o += n;
        list += n;
        if (*list == ',' && *++list == '\0') {
            *why = "a comma at the end";
            return -1;
        }
    }
    return (long)o;
}

/* The listener's tls_alpn into t's wire form. */
static int
tls_alpn_wire(const struct nk__listen_conf *lc, const char *list,
              struct nk__tls *t, struct nk_err *err)
{
    size_t size = strlen(list) + 1; /* the wire form is never longer */
    const char *why;
    long n;

    t->alpn = nk__malloc(size);
    if (t->alpn == NULL)
        return nk__err_run(err, "out of memory");
    n = nk__tls_alpn_wire(list, t->alpn, size, &why);
    if (n < 0)
        return tls_fail(err, lc, tls_line(lc, "tls_alpn"),
                        "tls_alpn: %s in '%s' (names are 1 to 255 bytes, "
                        "comma-separated)",
                        why, list);
    t->alpn_len = (size_t)n;
    return 0;
}

/* The server's preference first; none in common is fatal
 * (no_application_protocol), as RFC 7301 asks. */
static int
tls_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
            const unsigned char *in, unsigned int inlen, void *arg)
{
    struct nk__tls *t = arg;
    unsigned char *sel;

    (void)ssl;
    if (SSL_select_next_proto(&sel, outlen, t->alpn, (unsigned)t->alpn_len, in,
                              inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* ---- SNI ------------------------------------------------------------------
 */

/* The certificate whose names match the server name the client asked for;
 * the first (the default) when none does, or none was asked. */
static int
tls_sni_cb(SSL *ssl, int *alert, void *arg)
{
    struct nk__tls *t = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

    (void)alert;
    if (name == NULL || t->nctx < 2)
        return SSL_TLSEXT_ERR_OK;
    for (size_t i = 0; i < t->nctx; i++)
        if (X509_check_host(SSL_CTX_get0_certificate(t->ctx[i]), name, 0, 0,
                            NULL) == 1) {
            if (i > 0)
                SSL_set_SSL_CTX(ssl, t->ctx[i]);
            return SSL_TLSEXT_ERR_OK;
        }
    return SSL_TLSEXT_ERR_OK;
}

/* ---- contexts --------------------------------------------------------------
 */

/* Everything but the certificate: the same in every context of t. */
static int
tls_ctx_settings(const struct nk__listen_conf *lc, struct nk__tls *t,
                 SSL_CTX *ctx, struct nk_err *err)
{
    const struct nk__tls_conf *c = &lc->tls;
    uint64_t opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION;

#ifdef SSL_OP_ENABLE_KTLS
    opts |= SSL_OP_ENABLE_KTLS;
#endif
    SSL_CTX_set_options(ctx, opts);
    SSL_CTX_set_app_data(ctx, t);
    /* Partial writes and a buffer that moves between retries (conn.c's
     * output buffer grows); buffers freed while idle, as the host's own. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_default_passwd_cb(ctx, nk__tls_no_passphrase);
    SSL_CTX_set_min_proto_version(ctx, c->min_version == 1 ? TLS1_3_VERSION
                                                           : TLS1_2_VERSION);
    if (c->ciphers != NULL && SSL_CTX_set_cipher_list(ctx, c->ciphers) != 1)
        return tls_fail(err, lc, tls_line(lc, "tls_ciphers"),
                        "tls_ciphers '%s': %s (see openssl ciphers)",
                        c->ciphers, tls_reason());
    if (c->ciphersuites != NULL &&
        SSL_CTX_set_ciphersuites(ctx, c->ciphersuites) != 1)
        return tls_fail(err, lc, tls_line(lc, "tls_ciphersuites"),
                        "tls_ciphersuites '%s': %s (e.g. "
                        "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256)",
                        c->ciphersuites, tls_reason());
    /* Resumption by tickets only (no per-session server memory); one
     * ticket per TLS 1.3 handshake. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_timeout(ctx, 2 * NK_TLS_TICKET_ROTATE_S);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_cb);
    SSL_CTX_set_session_id_context(ctx, t->sid_ctx, sizeof(t->sid_ctx));
    if (c->verify != NK_TLS_VERIFY_NONE) {
        STACK_OF(X509_NAME) * names;
        int line = tls_line(lc, "tls_ca");
        struct stat st;

        if (tls_check_file(lc, "tls_ca", c->ca, line, &st, err) < 0)
            return -1;
        if (SSL_CTX_load_verify_locations(ctx, c->ca, NULL) != 1 ||
            (names = SSL_load_client_CA_file(c->ca)) == NULL)
            return tls_fail(err, lc, line,
                            "tls_ca %s: %s (expected PEM CA "
                            "certificates)",
                            c->ca, tls_reason());
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx,
                           SSL_VERIFY_PEER |
                               (c->verify == NK_TLS_VERIFY_REQUIRE
                                    ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                    : 0),
                           NULL);
    }
    if (t->alpn != NULL)
        SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_cb, t);
    SSL_CTX_set_tlsext_servername_callback(ctx, tls_sni_cb);
    SSL_CTX_set_tlsext_servername_arg(ctx, t);
    return 0;
}

/* Certificate i of lc (with its key) into ctx. */
static int
tls_ctx_cert(const struct nk__listen_conf *lc, size_t i, SSL_CTX *ctx,
             struct nk_err *err)
{
    const struct nk__kv *cert = &lc->tls.certs.items[i],
                        *key = &lc->tls.keys.items[i];
    struct stat st;

    if (tls_check_file(lc, "tls_cert", cert->val, cert->line, &st, err) < 0 ||
        tls_check_key_file(lc, key->val, key->line, err) < 0)
        return -1;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert->val) != 1)
        return tls_fail(err, lc, cert->line,
                        "tls_cert %s: %s (expected a PEM certificate, then its "
                        "chain)",
                        cert->val, tls_reason());
    if (SSL_CTX_use_PrivateKey_file(ctx, key->val, SSL_FILETYPE_PEM) != 1) {
        const char *why;
        if (ERR_GET_REASON(ERR_peek_last_error()) ==
            X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            return tls_fail(err, lc, key->line,
                            "tls_key %s does not match tls_cert %s: give "
                            "each certificate its own key",
                            key->val, cert->val);
        }
        why = tls_reason();
        return tls_fail(err, lc, key->line,
                        "tls_key %s: %s (expected an unencrypted PEM private "
                        "key)",
                        key->val, why);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        return tls_fail(err, lc, key->line,
                        "tls_key %s does not match tls_cert %s: give each "
                        "certificate its own key",
                        key->val, cert->val);
    }
    tls_warn_expiry(lc, cert->val, SSL_CTX_get0_certificate(ctx));
    return 0;
}

int
nk__tls_new(const struct nk__listen_conf *lc, struct nk__tls **out,
            struct nk_err *err)
{
    const struct nk__tls_conf *c = &lc->tls;
    struct nk__tls *t;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;

    *out = NULL;
    if (c->on == 0 || c->certs.n == 0 || lc->transport != NK_TRANSPORT_TCP)
        return 0;
    t = nk__calloc(1, sizeof(*t));
    if (t == NULL ||
        (t->ctx = nk__calloc(c->certs.n, sizeof(*t->ctx))) == NULL) {
        nk__free(t);
        return nk__err_run(err, "out of memory");
    }
    t->nctx = c->certs.n;
    t->conf = lc;
    /* The session id context: this listener's name, so a ticket resumes on
     * the listener that issued it only. */
    EVP_Digest(lc->name, strlen(lc->name), md, &mdlen, EVP_sha256(), NULL);
    memcpy(t->sid_ctx, md, sizeof(t->sid_ctx));
    if (c->alpn != NULL && tls_alpn_wire(lc, c->alpn, t, err) < 0)
        goto fail;
    for (size_t i = 0; i < t->nctx; i++) {
        t->ctx[i] = SSL_CTX_new(TLS_server_method());
        if (t->ctx[i] == NULL) {
            nk__err_run(err, "TLS: %s", tls_reason());
            goto fail;
        }
        if (tls_ctx_settings(lc, t, t->ctx[i], err) < 0 ||
            tls_ctx_cert(lc, i, t->ctx[i], err) < 0)
            goto fail;
    }
    *out = t;
    return 0;
fail:
    ERR_clear_error();
    nk__tls_free(t);
    return -1;
}

void
nk__tls_free(struct nk__tls *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nctx; i++)
        SSL_CTX_free(t->ctx[i]);
    nk__free(t->ctx);
    nk__free(t->alpn);
    nk__free(t);
}

/* "a.example, 127.0.0.1": the certificate's DNS and IP names, into buf. */
static void
tls_names(X509 *cert, char *buf, size_t size)
{
    GENERAL_NAMES *gens =
        X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    size_t o = 0;

    buf[0] = '\0';
    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char one[64] = "";

        if (g->type == GEN_DNS)
            snprintf(one, sizeof(one), "%.*s", ASN1_STRING_length(g->d.dNSName),
                     (const char *)ASN1_STRING_get0_data(g->d.dNSName));
        else if (g->type == GEN_IPADD &&
                 ASN1_STRING_length(g->d.iPAddress) == 4) {
            const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);
            snprintf(one, sizeof(one), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
        } else if (g->type == GEN_IPADD) {
            snprintf(one, sizeof(one), "(an IPv6 address)");
        }
        if (one[0] != '\0' && o < size)
            o +=
                (size_t)snprintf(buf + o, size - o, "%s%s", o ? ", " : "", one);
    }
    GENERAL_NAMES_free(gens);
}

void
nk__tls_show(FILE *out, const struct nk__tls *t)
{
    const struct nk__tls_conf *c = &t->conf->tls;

    for (size_t i = 0; i < t->nctx; i++) {
        X509 *cert = SSL_CTX_get0_certificate(t->ctx[i]);
        char subject[256], names[512];

        X509_NAME_oneline(X509_get_subject_name(cert), subject,
                          sizeof(subject));
        tls_names(cert, names, sizeof(names));
        fprintf(
            out, "  tls_cert %s%s: %s%s%s, key matches, expires in %d days\n",
            c->certs.items[i].val, i == 0 && t->nctx > 1 ? " (default)" : "",
            subject, names[0] ? ", names " : "", names, tls_days_left(cert));
    }
    fprintf(out, "  tls: min version %s, client certificates %s%s%s%s\n",
            c->min_version == 1 ? "1.3" : "1.2",
            c->verify == NK_TLS_VERIFY_REQUIRE    ? "required"
            : c->verify == NK_TLS_VERIFY_OPTIONAL ? "optional"
                                                  : "not asked for",
            c->alpn ? ", ALPN " : "", c->alpn ? c->alpn : "",
            c->handshake_timeout > 0 ? "" : ", no handshake deadline");
}
