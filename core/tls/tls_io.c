/*
 * tls_io.c -- one TLS connection: the handshake step, and reads and writes
 * with read(2)'s and send(2)'s contract.  See tls.h.
 */
#include "tls/tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <netkit/plugin.h>

#include "base/log.h"
#include "base/loop.h"
#include "tls/tls_int.h"

static _Thread_local char tls_io_why[160];

const char *
nk__tls_why(void)
{
    return tls_io_why[0] != '\0' ? tls_io_why : "TLS error";
}

/* Keep OpenSSL's reason for the failure that just happened, after
 * `what` ("TLS", "TLS handshake"). */
static void
tls_io_reason(const char *what, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

    snprintf(tls_io_why, sizeof(tls_io_why), "%s: %s", what,
             r != NULL ? r : fallback);
    ERR_clear_error();
}

SSL *
nk__tls_accept(struct nk__tls *t, int fd)
{
    SSL *ssl = SSL_new(t->ctx[0]);

    if (ssl == NULL)
        return NULL;
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}

void
nk__tls_conn_free(SSL *ssl)
{
    SSL_free(ssl);
}

/* The kind of handshake failure OpenSSL's reason code is. */
static enum nk__tls_fail
tls_io_kind(unsigned long e)
{
    switch (ERR_GET_REASON(e)) {
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
    case SSL_R_NO_CERTIFICATES_RETURNED:
        return NK_TLS_FAIL_CERT;
    case SSL_R_NO_APPLICATION_PROTOCOL:
        return NK_TLS_FAIL_ALPN;
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_WRONG_SSL_VERSION:
        return NK_TLS_FAIL_VERSION;
    default:
        return NK_TLS_FAIL_PROTOCOL;
    }
}

int
nk__tls_handshake(SSL *ssl, unsigned *want, const char **why,
                  enum nk__tls_fail *fail)
{
    int rc, e;
    unsigned long code;

    ERR_clear_error();
    errno = 0;
    rc = SSL_do_handshake(ssl);
    if (rc == 1)
        return 1;
    e = SSL_get_error(ssl, rc);
    if (e == SSL_ERROR_WANT_READ) {
        *want = NK_IO_READ;
        return 0;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        *want = NK_IO_WRITE;
        return 0;
    }
    code = ERR_peek_last_error();
    if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN ||
        (code == 0 && e != SSL_ERROR_SSL)) {
        *fail = NK_TLS_FAIL_CLOSED;
        snprintf(tls_io_why, sizeof(tls_io_why), "TLS handshake: %s",
                 errno != 0 ? strerror(errno) : "the peer closed");
    } else {
        *fail = tls_io_kind(code);
        tls_io_reason("TLS handshake", "failed");
        if (*fail == NK_TLS_FAIL_CERT) {
            long v = SSL_get_verify_result(ssl);
            size_t n = strlen(tls_io_why);
            if (v != X509_V_OK)
                snprintf(tls_io_why + n, sizeof(tls_io_why) - n, " (%s)",
                         X509_verify_cert_error_string(v));
        }
    }
    ERR_clear_error();
    *why = tls_io_why;
    return -1;
}

ssize_t
nk__tls_read(SSL *ssl, void *buf, size_t len, int *want_write, int *again)
{
    size_t got = 0;

    *want_write = *again = 0;
    while (got < len) {
        size_t n = 0;
        int e;

        ERR_clear_error();
        errno = 0;
        if (SSL_read_ex(ssl, (char *)buf + got, len - got, &n) == 1) {
            got += n;
            continue;
        }
        e = SSL_get_error(ssl, 0);
        if (e == SSL_ERROR_WANT_WRITE)
            *want_write = 1;
        if (got > 0) {
            /* The bytes first; what stopped the read comes again. */
            *again = e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
            ERR_clear_error();
            return (ssize_t)got;
        }
        switch (e) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            errno = EAGAIN;
            return -1;
        case SSL_ERROR_ZERO_RETURN:
            return 0; /* close_notify, or (ignored) a bare end of stream */
        case SSL_ERROR_SYSCALL:
            if (errno == 0)
                return 0;
            ERR_clear_error();
            return -1; /* errno says */
        default:
            tls_io_reason("TLS", "read failed");
            errno = EPROTO;
            return -1;
        }
    }
    return (ssize_t)got;
}

ssize_t
nk__tls_write(SSL *ssl, const void *buf, size_t len)
{
    size_t n = 0;
    int e;

    if (len == 0)
        return 0;
    ERR_clear_error();
    errno = 0;
    if (SSL_write_ex(ssl, buf, len, &n) == 1)
        return (ssize_t)n;
    e = SSL_get_error(ssl, 0);
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_SYSCALL && errno != 0) {
        ERR_clear_error();
        return -1;
    }
    tls_io_reason("TLS", "write failed");
    errno = e == SSL_ERROR_SYSCALL ? EPIPE : EPROTO;
    return -1;
}

int
nk__tls_pending(SSL *ssl)
{
    return SSL_pending(ssl);
}

void
nk__tls_close_notify(SSL *ssl)
{
    ERR_clear_error();
    if (SSL_is_init_finished(ssl))
        (void)SSL_shutdown(ssl);
    ERR_clear_error();
}

const char *
nk__tls_version(const SSL *ssl)
{
    return SSL_get_version(ssl);
}

int
nk__tls_resumed(const SSL *ssl)
{
    return SSL_session_reused(ssl);
}

const uint8_t *
nk__tls_alpn(const SSL *ssl, size_t *len)
{
    const unsigned char *p = NULL;
    unsigned n = 0;

    SSL_get0_alpn_selected(ssl, &p, &n);
    *len = n;
    return n > 0 ? p : NULL;
}

int
nk__tls_peer_subject(const SSL *ssl, char *buf, size_t size)
{
    X509 *cert = SSL_get0_peer_certificate(ssl);
    BIO *mem;
    int n;

    if (cert == NULL || size == 0)
        return -1;
    mem = BIO_new(BIO_s_mem());
    if (mem == NULL)
        return -1;
    /* RFC 2253 order and escaping: "CN=alice,O=Example" */
    X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    n = BIO_read(mem, buf, (int)size - 1);
    BIO_free(mem);
    buf[n > 0 ? n : 0] = '\0';
    return 0;
}

void
nk__tls_log_offload(SSL *ssl, const char *listener)
{
    SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
    struct nk__tls *t = SSL_CTX_get_app_data(ctx);
    int tx = 0, rx = 0;

    if (t == NULL || atomic_exchange(&t->offload_logged, 1))
        return;
#ifndef OPENSSL_NO_KTLS
    tx = BIO_get_ktls_send(SSL_get_wbio(ssl)) != 0;
    rx = BIO_get_ktls_recv(SSL_get_rbio(ssl)) != 0;
#endif
    if (tx || rx)
        nk__log(NK_LOG_INFO,
                "[listen.%s] TLS offload: kTLS in use (%s%s%s), the kernel "
                "encrypts",
                listener, tx ? "send" : "", tx && rx ? " and " : "",
                rx ? "receive" : "");
    else
        nk__log(NK_LOG_INFO,
                "[listen.%s] TLS offload: kTLS not in use (the kernel "
                "has no tls module, or not for %s with %s): OpenSSL "
                "encrypts",
                listener, SSL_get_version(ssl),
                SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
}

int
nk__tls_info(SSL *ssl, struct nk_tls_info *info)
{
    static _Thread_local char alpn[256], subject[512];
    size_t alen;
    const uint8_t *a = nk__tls_alpn(ssl, &alen);

    info->version = SSL_get_version(ssl);
    info->cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
    info->alpn = NULL;
    if (a != NULL) {
        memcpy(alpn, a, alen); /* alen < 256: a length byte */
        alpn[alen] = '\0';
        info->alpn = alpn;
    }
    info->sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    info->peer_subject =
        nk__tls_peer_subject(ssl, subject, sizeof(subject)) == 0 ? subject
                                                                 : NULL;
    info->resumed = SSL_session_reused(ssl);
    return 0;
}
