/*
 * client_tls.c -- `netkit connect --tls`.  See client_tls.h.
 *
 * The server's certificate is verified against the system's CAs (or
 * --tls-ca) and against the name connected to (HOST, or --tls-sni), as a
 * browser or curl does; --insecure skips both.  SNI carries the name unless
 * it is an IP address (RFC 6066 allows host names only).
 */
#include "connect/client_tls.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "base/alloc.h"
#include "base/log.h"
#include "tls/tls.h"

#define CLIENT_TLS_BUF (16 * 1024)

/* The one TLS connection of the run, and the thread that carries it. */
static struct {
    SSL_CTX *ctx;
    SSL *ssl;
    int net;   /* the TCP socket to the server */
    int plain; /* our end of the socket pair */
    int stop;  /* eventfd: nk__client_tls_end asks the thread to end */
    int running;
    pthread_t thread;
    char peer[64];
} ct = {.net = -1, .plain = -1, .stop = -1};

static int64_t
ct_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *
ct_reason(void)
{
    return nk__tls_reason("TLS error");
}

/* The client's context: verification, client certificate, ALPN. */
static int
ct_context(const struct nk__settings *s, struct nk_err *err)
{
    const struct nk__tls_conf *t = &s->cli.tls;

    ct.ctx = SSL_CTX_new(TLS_client_method());
    if (ct.ctx == NULL)
        return nk__err_run(err, "TLS: %s", ct_reason());
    SSL_CTX_set_min_proto_version(ct.ctx, TLS1_2_VERSION);
    SSL_CTX_set_default_passwd_cb(ct.ctx, nk__tls_no_passphrase);
    SSL_CTX_set_mode(ct.ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ct.ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (!s->tls_insecure) {
        SSL_CTX_set_verify(ct.ctx, SSL_VERIFY_PEER, NULL);
        if (t->ca != NULL
                ? SSL_CTX_load_verify_locations(ct.ctx, t->ca, NULL) != 1
                : SSL_CTX_set_default_verify_paths(ct.ctx) != 1)
            return nk__err_set(err,
                               "--tls-ca %s: %s (expected PEM CA "
                               "certificates)",
                               t->ca != NULL ? t->ca : "(system)", ct_reason());
    }
    if (t->certs.n > 1 || t->certs.n != t->keys.n)
        return nk__err_set(err, "give --tls-cert and --tls-key together, once "
                                "each");
    if (t->certs.n == 1) {
        const char *cert = t->certs.items[0].val, *key = t->keys.items[0].val;
        struct stat st;

        if (stat(key, &st) == 0 && (st.st_mode & (S_IWGRP | S_IROTH | S_IWOTH)))
            return nk__err_set(err,
                               "--tls-key %s: refused, readable or writable "
                               "by others, or writable by its group (mode "
                               "%04o): chmod 600 %s",
                               key, (unsigned)st.st_mode & 07777, key);
        if (SSL_CTX_use_certificate_chain_file(ct.ctx, cert) != 1)
            return nk__err_set(err, "--tls-cert %s: %s", cert, ct_reason());
        if (SSL_CTX_use_PrivateKey_file(ct.ctx, key, SSL_FILETYPE_PEM) != 1)
            return nk__err_set(err, "--tls-key %s: %s", key, ct_reason());
        if (SSL_CTX_check_private_key(ct.ctx) != 1) {
            ERR_clear_error();
            return nk__err_set(err, "--tls-key %s does not match --tls-cert %s",
                               key, cert);
        }
    }
    if (t->alpn != NULL) {
        unsigned char wire[512];
        const char *why;
        long n = nk__tls_alpn_wire(t->alpn, wire, sizeof(wire), &why);
        if (n < 0)
            return nk__err_set(err,
                               "--tls-alpn '%s': %s (expected names of 1 to "
                               "255 bytes, comma-separated)",
                               t->alpn, why);
        SSL_CTX_set_alpn_protos(ct.ctx, wire, (unsigned)n);
    }
    return 0;
}

/* The handshake, waiting with poll until the deadline. */
static int
ct_handshake(const char *peer, const char *name, int timeout_ms,
             struct nk_err *err)
{
    int64_t deadline = ct_now_ms() + timeout_ms;

    for (;;) {
        int rc, e;
        struct pollfd p = {.fd = ct.net};
        int64_t left;

        ERR_clear_error();
        errno = 0;
        rc = SSL_connect(ct.ssl);
        if (rc == 1)
            return 0;
        e = SSL_get_error(ct.ssl, rc);
        if (e == SSL_ERROR_WANT_READ)
            p.events = POLLIN;
        else if (e == SSL_ERROR_WANT_WRITE)
            p.events = POLLOUT;
        else {
            long v = SSL_get_verify_result(ct.ssl);
            if (v != X509_V_OK)
                return nk__err_run(err,
                                   "TLS handshake with %s: the server's "
                                   "certificate for %s is not trusted: %s "
                                   "(--tls-ca FILE names its CA; --insecure "
                                   "skips the check)",
                                   peer, name,
                                   X509_verify_cert_error_string(v));
            if (e == SSL_ERROR_SYSCALL || ERR_peek_last_error() == 0)
                return nk__err_run(err, "TLS handshake with %s: %s", peer,
                                   errno != 0 ? strerror(errno)
                                              : "the server closed");
            return nk__err_run(err, "TLS handshake with %s: %s", peer,
                               ct_reason());
        }
        left = deadline - ct_now_ms();
        if (left <= 0 || (rc = poll(&p, 1, (int)left)) == 0)
            return nk__err_run(err, "TLS handshake with %s: timed out", peer);
        if (rc < 0 && errno != EINTR)
            return nk__err_run(err, "poll: %s", strerror(errno));
    }
}

/* ---- the carrying thread ------------------------------------------------ */

/* Plain bytes from the client to the server (up) and back (down). */
struct ct_dir {
    uint8_t buf[CLIENT_TLS_BUF];
    size_t off, len;
    int eof;
};

/* Move what can move without waiting; *net_ev and *plain_ev get what to
 * wait for next.  Returns 0 to go on, 1 when both directions have ended,
 * -1 on a TLS or socket error (logged). */
static int
ct_pump_once(struct ct_dir *up, struct ct_dir *down, int *closed, short *net_ev,
             short *plain_ev)
{
    int moved = 1;

    *net_ev = *plain_ev = 0;
    while (moved) {
        size_t n;
        ssize_t r;
        int e;

        moved = 0;
        if (!up->eof && up->len == 0) {
            r = read(ct.plain, up->buf, sizeof(up->buf));
            if (r > 0) {
                up->off = 0;
                up->len = (size_t)r;
                moved = 1;
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                up->eof = moved = 1;
            }
        }
        if (up->len > 0) {
            ERR_clear_error();
            if (SSL_write_ex(ct.ssl, up->buf + up->off, up->len, &n) == 1) {
                up->off += n;
                up->len -= n;
                moved = 1;
            } else if ((e = SSL_get_error(ct.ssl, 0)) == SSL_ERROR_WANT_WRITE) {
                *net_ev |= POLLOUT;
            } else if (e == SSL_ERROR_WANT_READ) {
                *net_ev |= POLLIN;
            } else {
                nk__log(NK_LOG_WARN, "TLS to %s: %s", ct.peer,
                        e == SSL_ERROR_SYSCALL && errno != 0 ? strerror(errno)
                                                             : ct_reason());
                return -1;
            }
        }
        if (up->eof && up->len == 0 && !*closed) {
            /* End of the client's input: close_notify, the TLS half-close
             * (the server reads the end, and may still answer). */
            ERR_clear_error();
            (void)SSL_shutdown(ct.ssl);
            ERR_clear_error();
            *closed = 1;
        }
        if (!down->eof && down->len == 0) {
            ERR_clear_error();
            errno = 0;
            if (SSL_read_ex(ct.ssl, down->buf, sizeof(down->buf), &n) == 1) {
                down->off = 0;
                down->len = n;
                moved = 1;
            } else if ((e = SSL_get_error(ct.ssl, 0)) == SSL_ERROR_WANT_READ) {
                *net_ev |= POLLIN;
            } else if (e == SSL_ERROR_WANT_WRITE) {
                *net_ev |= POLLOUT;
            } else {
                if (e != SSL_ERROR_ZERO_RETURN &&
                    !(e == SSL_ERROR_SYSCALL &&
                      (errno == 0 || errno == ECONNRESET)))
                    nk__log(NK_LOG_WARN, "TLS from %s: %s", ct.peer,
                            e == SSL_ERROR_SYSCALL ? strerror(errno)
                                                   : ct_reason());
                ERR_clear_error();
                down->eof = moved = 1;
                shutdown(ct.plain, SHUT_WR); /* the client reads the end */
            }
        }
        if (down->len > 0) {
            r = write(ct.plain, down->buf + down->off, down->len);
            if (r > 0) {
                down->off += (size_t)r;
                down->len -= (size_t)r;
                moved = 1;
            } else if (r < 0 && errno == EAGAIN) {
                *plain_ev |= POLLOUT;
            } else if (r < 0 && errno != EINTR) {
                down->len = 0; /* the client is gone */
                down->eof = 1;
            }
        }
    }
    if (!up->eof && up->len == 0)
        *plain_ev |= POLLIN;
    return up->eof && up->len == 0 && down->eof && down->len == 0;
}

static void *
ct_thread(void *arg)
{
    struct ct_dir *d = nk__calloc(2, sizeof(*d));
    int closed = 0;

    (void)arg;
    if (d == NULL) {
        nk__log(NK_LOG_ERROR, "TLS: out of memory");
        shutdown(ct.plain, SHUT_RDWR);
        return NULL;
    }
    for (;;) {
        short net_ev, plain_ev;
        int rc = ct_pump_once(&d[0], &d[1], &closed, &net_ev, &plain_ev);
        struct pollfd p[3] = {{.fd = ct.net, .events = net_ev},
                              {.fd = ct.plain, .events = plain_ev},
                              {.fd = ct.stop, .events = POLLIN}};

        if (rc != 0)
            break;
        if (poll(p, 3, -1) < 0 && errno != EINTR)
            break;
        if (p[2].revents != 0)
            break;
    }
    if (!closed) {
        ERR_clear_error();
        (void)SSL_shutdown(ct.ssl);
    }
    ERR_clear_error();
    shutdown(ct.plain, SHUT_RDWR);
    nk__free(d);
    return NULL;
}

/* ---- the hook ----------------------------------------------------------- */

int
nk__client_tls(const struct nk__settings *s, const char *peer, int timeout_ms,
               int *fd, struct nk_err *err)
{
    const char *name = s->tls_sni != NULL ? s->tls_sni : s->host;
    unsigned char ip[16];
    int is_ip =
        inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    int sp[2];
    const unsigned char *alpn = NULL;
    unsigned alen = 0;

    snprintf(ct.peer, sizeof(ct.peer), "%s", peer);
    if (ct_context(s, err) < 0)
        return -1;
    ct.ssl = SSL_new(ct.ctx);
    if (ct.ssl == NULL || SSL_set_fd(ct.ssl, *fd) != 1)
        return nk__err_run(err, "TLS: %s", ct_reason());
    if (!is_ip && SSL_set_tlsext_host_name(ct.ssl, name) != 1)
        return nk__err_set(err, "--tls-sni %s: %s", name, ct_reason());
    if (!s->tls_insecure &&
        (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ct.ssl), name)
               : SSL_set1_host(ct.ssl, name)) != 1)
        return nk__err_set(err, "--tls-sni %s: not a host name", name);
    ct.net = *fd;
    if (ct_handshake(peer, name, timeout_ms, err) < 0)
        return -1;
    SSL_get0_alpn_selected(ct.ssl, &alpn, &alen);
    nk__log(NK_LOG_INFO, "TLS with %s: %s, %s%s%.*s, %s", peer,
            SSL_get_version(ct.ssl),
            SSL_CIPHER_get_name(SSL_get_current_cipher(ct.ssl)),
            alen > 0 ? ", ALPN " : "", (int)alen, (const char *)alpn,
            s->tls_insecure ? "server not verified (--insecure)"
                            : "server certificate verified");
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) <
            0 ||
        (ct.stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return nk__err_run(err, "socketpair: %s", strerror(errno));
    ct.plain = sp[1];
    if (pthread_create(&ct.thread, NULL, ct_thread, NULL) != 0) {
        close(sp[0]);
        return nk__err_run(err, "cannot start the TLS thread");
    }
    ct.running = 1;
    *fd = sp[0]; /* the client closes it; ct.net is ours now */
    return 0;
}

void
nk__client_tls_end(void)
{
    if (ct.running) {
        uint64_t one = 1;
        if (write(ct.stop, &one, sizeof(one)) < 0)
            (void)0; /* the thread ends when the client's end closes too */
        pthread_join(ct.thread, NULL);
        ct.running = 0;
        if (ct.net >= 0)
            close(ct.net);
    }
    SSL_free(ct.ssl);
    SSL_CTX_free(ct.ctx);
    ct.ssl = NULL;
    ct.ctx = NULL;
    if (ct.plain >= 0)
        close(ct.plain);
    if (ct.stop >= 0)
        close(ct.stop);
    ct.net = ct.plain = ct.stop = -1;
}
