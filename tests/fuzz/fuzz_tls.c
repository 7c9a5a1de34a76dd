/*
 * fuzz_tls.c -- the server side of the host's TLS layer (core/tls/): the
 * handshake step and the record reads conn.c makes, on a real socket, with
 * the peer's bytes arriving split at boundaries the input chooses.
 *
 * Input: byte 0 is the mode, bytes 1..8 the lengths of the pieces the
 * peer's bytes are delivered in (each 1..256, used in turn), the rest the
 * payload.
 *   mode bit 0 clear: a real client (OpenSSL, memory BIOs) makes a full
 *     handshake (bit 1: TLS 1.2 at most) and sends the payload as records;
 *     every piece is delivered and the server stepped before the next, so
 *     every record and handshake message is seen split.  With bit 2 one
 *     byte of the client's stream (at an offset from bytes 9-10) is
 *     flipped: the handshake or a record must fail cleanly.  Without it
 *     the server must read back exactly the payload.
 *   mode bit 0 set: the payload itself is the peer's stream (garbage, or a
 *     mutated ClientHello from the seed corpus).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/loop.h"
#include "config/settings.h"
#include "tls/tls.h"

#define FZ_CHECK(cond)                                                         \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_tls: %s:%d: %s\n", __FILE__, __LINE__,       \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

#define FZ_STEPS 2000 /* pieces delivered at most per input */

static struct nk__tls *fz_tls;
static SSL_CTX *fz_client13, *fz_client12;

/* A throw-away key and self-signed certificate, written where nk__tls_new
 * reads them like a listener's files. */
static void
fz_make_cert(const char *dir, char *cert, char *key, size_t size)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    FILE *f;

    FZ_CHECK(pk != NULL && x != NULL);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 365L * 86400);
    X509_set_pubkey(x, pk);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    FZ_CHECK(X509_sign(x, pk, EVP_sha256()) > 0);
    snprintf(cert, size, "%s/cert.pem", dir);
    snprintf(key, size, "%s/key.pem", dir);
    FZ_CHECK((f = fopen(cert, "w")) != NULL);
    PEM_write_X509(f, x);
    fclose(f);
    FZ_CHECK((f = fopen(key, "w")) != NULL);
    FZ_CHECK(fchmod(fileno(f), 0600) == 0);
    PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(pk);
}

static void
fz_init(void)
{
    static struct nk__listen_conf lc;
    char dir[] = "/tmp/fuzz_tls.XXXXXX", cert[64], key[64];
    struct nk_err err = {0};

    FZ_CHECK(mkdtemp(dir) != NULL);
    fz_make_cert(dir, cert, key, sizeof(cert));
    nk__listen_conf_init(&lc);
    lc.name = "fuzz";
    lc.tls.on = 1;
    FZ_CHECK(nk__kvlist_add(&lc.tls.certs, "tls_cert", cert, strlen(cert), NULL,
                            0) == 0);
    FZ_CHECK(nk__kvlist_add(&lc.tls.keys, "tls_key", key, strlen(key), NULL,
                            0) == 0);
    lc.tls.alpn = "h2,http/1.1";
    if (nk__tls_new(&lc, &fz_tls, &err) < 0) {
        fprintf(stderr, "fuzz_tls: %s\n", err.msg);
        abort();
    }
    unlink(cert);
    unlink(key);
    rmdir(dir);
    fz_client13 = SSL_CTX_new(TLS_client_method());
    fz_client12 = SSL_CTX_new(TLS_client_method());
    FZ_CHECK(fz_client13 != NULL && fz_client12 != NULL);
    SSL_CTX_set_max_proto_version(fz_client12, TLS1_2_VERSION);
    SSL_CTX_set_alpn_protos(fz_client13, (const unsigned char *)"\2h2", 3);
}

/* The state of one input: the server on its socket, our end of it. */
struct fz_run {
    SSL *srv;
    int peer; /* our end: what we write the server reads */
    int done, failed, stuck;
    uint8_t got[8192];
    size_t ngot;
    const uint8_t *splits;
    size_t nsplit, turn;
};

/* One step of the server, as conn.c makes it on a readable socket. */
static void
fz_step(struct fz_run *r)
{
    if (r->failed)
        return;
    if (!r->done) {
        unsigned want;
        const char *why;
        enum nk__tls_fail kind;
        int rc = nk__tls_handshake(r->srv, &want, &why, &kind);
        if (rc < 0)
            r->failed = 1;
        else if (rc > 0)
            r->done = 1;
        if (rc <= 0)
            return;
    }
    for (;;) {
        int want_write, again;
        ssize_t n = nk__tls_read(r->srv, r->got + r->ngot,
                                 sizeof(r->got) - r->ngot, &want_write, &again);
        if (n > 0) {
            r->ngot += (size_t)n;
            if (again || r->ngot == sizeof(r->got))
                continue;
            return;
        }
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0)
            r->failed = 1;
        return;
    }
}

/* Deliver len bytes to the server in the input's pieces, stepping it
 * after each. */
static void
fz_deliver(struct fz_run *r, const uint8_t *p, size_t len)
{
    while (len > 0 && r->turn < FZ_STEPS && !r->failed && !r->stuck) {
        size_t n =
            r->nsplit > 0 ? (size_t)r->splits[r->turn % r->nsplit] + 1 : len;
        if (n > len)
            n = len;
        if (write(r->peer, p, n) != (ssize_t)n) {
            r->stuck = 1; /* the server stopped reading: its socket is full */
            return;
        }
        r->turn++;
        p += n;
        len -= n;
        fz_step(r);
    }
}

/* What the server wrote, to the client's input BIO (or dropped). */
static void
fz_collect(struct fz_run *r, BIO *to)
{
    uint8_t buf[16384];
    ssize_t n;

    while ((n = read(r->peer, buf, sizeof(buf))) > 0)
        if (to != NULL)
            BIO_write(to, buf, (int)n);
}

/* Take what the client BIO holds, flipping byte `flip` of the whole
 * stream (counted across calls) if asked. */
static size_t
fz_take(BIO *from, uint8_t *buf, size_t size, size_t *sent, long flip)
{
    int n = BIO_read(from, buf, (int)size);

    if (n <= 0)
        return 0;
    if (flip >= 0 && (size_t)flip >= *sent && (size_t)flip < *sent + (size_t)n)
        buf[(size_t)flip - *sent] ^= 0x5a;
    *sent += (size_t)n;
    return (size_t)n;
}

static void
fz_with_client(struct fz_run *r, SSL_CTX *cctx, const uint8_t *payload,
               size_t plen, long flip)
{
    SSL *cl = SSL_new(cctx);
    BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
    uint8_t buf[32768];
    size_t sent = 0, n;
    int wrote = 0;

    FZ_CHECK(cl != NULL && in != NULL && out != NULL);
    SSL_set_bio(cl, in, out);
    SSL_set_connect_state(cl);
    SSL_set_tlsext_host_name(cl, "localhost");
    for (int round = 0; round < 16 && !r->failed && r->turn < FZ_STEPS;
         round++) {
        if (!SSL_is_init_finished(cl)) {
            ERR_clear_error();
            if (SSL_do_handshake(cl) <= 0 &&
                SSL_get_error(cl, 0) != SSL_ERROR_WANT_READ)
                break;
        } else if (!wrote) {
            if (plen > 0)
                FZ_CHECK(SSL_write(cl, payload, (int)plen) == (int)plen);
            wrote = 1;
        }
        while ((n = fz_take(out, buf, sizeof(buf), &sent, flip)) > 0)
            fz_deliver(r, buf, n);
        fz_collect(r, in);
        if (wrote && r->ngot >= plen)
            break;
    }
    if (flip < 0 && r->turn < FZ_STEPS && wrote && !r->stuck) {
        /* Nothing corrupted: every byte sent is read back, in order. */
        FZ_CHECK(!r->failed);
        FZ_CHECK(r->ngot == plen);
        FZ_CHECK(memcmp(r->got, payload, plen) == 0);
    }
    SSL_free(cl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    struct fz_run r = {0};
    int sp[2];
    uint8_t mode;
    const uint8_t *payload;
    size_t plen;
    long flip = -1;

    if (!inited) {
        fz_init();
        inited = 1;
    }
    if (size < 11)
        return 0;
    mode = data[0];
    r.splits = data + 1;
    r.nsplit = 8;
    payload = data + 11;
    plen = size - 11;
    if (plen > 4096)
        plen = 4096;
    if (mode & 4)
        flip = (long)(data[9] | (data[10] << 8));
    FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp) == 0);
    r.peer = sp[0];
    r.srv = nk__tls_accept(fz_tls, sp[1]);
    FZ_CHECK(r.srv != NULL);
    if (mode & 1) {
        fz_deliver(&r, payload, plen);
        fz_collect(&r, NULL);
    } else {
        fz_with_client(&r, (mode & 2) ? fz_client12 : fz_client13, payload,
                       plen, flip);
    }
    if (r.done)
        nk__tls_close_notify(r.srv);
    nk__tls_conn_free(r.srv);
    close(sp[0]);
    close(sp[1]);
    ERR_clear_error();
    return 0;
}
