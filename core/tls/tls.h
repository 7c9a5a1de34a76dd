/*
 * tls.h -- TLS (OpenSSL 3) for the host's TCP connections: a layer under
 * the byte stream, so every plugin gets it unchanged.
 *
 * A listener with a certificate owns one struct nk__tls, built with its
 * configuration (and so rebuilt, files read again, by a reload; a failed
 * rebuild leaves the old configuration serving).  It holds one OpenSSL
 * context per certificate: the first is the default, the others are picked
 * by the client's server name (SNI) when it matches their names.
 *
 * A connection holds an SSL (struct ssl_st) on its descriptor.  Everything
 * is non-blocking: nk__tls_handshake says what the socket must wait for,
 * and nk__tls_read / nk__tls_write behave like read(2) / send(2) -- a
 * count, 0 at the end of the stream, or -1 with errno (EAGAIN: try again
 * when the socket is ready; EPROTO: a TLS error, nk__tls_why says which).
 *
 * Session tickets are encrypted with keys this process makes and rotates
 * (NK_TLS_TICKET_ROTATE_S); a ticket made with the previous key still
 * resumes and is replaced.  The keys live as long as the process, so
 * sessions resume across a reload.
 */
#ifndef NK_CORE_TLS_H
#define NK_CORE_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "base/err.h"
#include "config/settings.h"

/* A certificate that expires within this many days is warned about. */
#define NK_TLS_EXPIRY_WARN_DAYS 30
/* A new ticket key this often; tickets made with the one before it still
 * resume for another period. */
#define NK_TLS_TICKET_ROTATE_S 3600

struct ssl_st;
struct nk__tls;

/* Why a handshake failed, for the counters and the log. */
enum nk__tls_fail {
    NK_TLS_FAIL_PROTOCOL, /* not TLS, a bad message, an alert */
    NK_TLS_FAIL_VERSION,  /* no version or cipher in common */
    NK_TLS_FAIL_CERT,     /* the client certificate: missing or refused */
    NK_TLS_FAIL_ALPN,     /* no application protocol in common */
    NK_TLS_FAIL_CLOSED,   /* the peer closed or reset mid-handshake */
    NK_TLS_FAIL_TIMEOUT,  /* tls_handshake_timeout passed */
    NK_TLS_FAIL_N
};

/* The counters' names of enum nk__tls_fail ("protocol", ...). */
extern const char *const nk__tls_fail_names[NK_TLS_FAIL_N];

/*
 * A listener's contexts from its tls_* settings: reads every file, checks
 * the key's permissions and that it matches its certificate, and every
 * value against OpenSSL.  Returns 0 (*out NULL when the listener has no
 * TLS), or -1 with err at the file and line of the setting at fault.
 * Logs a warning for a certificate that expires soon or has expired.
 */
int nk__tls_new(const struct nk__listen_conf *lc, struct nk__tls **out,
                struct nk_err *err);
void nk__tls_free(struct nk__tls *t);

/* serve --check: one line per certificate (subject, names, expiry). */
void nk__tls_show(FILE *out, const struct nk__tls *t);

/* ---- one connection (tls_io.c) -------------------------------------- */

/* A server-side SSL on fd, or NULL when out of memory. */
struct ssl_st *nk__tls_accept(struct nk__tls *t, int fd);
void nk__tls_conn_free(struct ssl_st *ssl);

/* Go on with the handshake: 1 done, 0 wait for the socket (*want is
 * NK_IO_READ or NK_IO_WRITE), -1 failed (*why says why, *fail the kind). */
int nk__tls_handshake(struct ssl_st *ssl, unsigned *want, const char **why,
                      enum nk__tls_fail *fail);

/* Like read(2): as many bytes as the records received hold, up to len.
 * *want_write is set when the TLS layer must write before it can read on;
 * *again when it returned bytes but stopped at the end of the stream or an
 * error already taken off the socket: call again at once to hear it (no
 * socket event would come for it). */
ssize_t nk__tls_read(struct ssl_st *ssl, void *buf, size_t len, int *want_write,
                     int *again);

/* Like send(2); the unsent rest must be offered again, the same bytes
 * first (the buffer may move). */
ssize_t nk__tls_write(struct ssl_st *ssl, const void *buf, size_t len);

/* Decrypted bytes held by the TLS layer, not yet read. */
int nk__tls_pending(struct ssl_st *ssl);

/* Say close_notify before our side of the socket is shut (best effort). */
void nk__tls_close_notify(struct ssl_st *ssl);

/* The reason of the last EPROTO from read or write, on this thread. */
const char *nk__tls_why(void);

/* OpenSSL's reason for the last failure ("key values mismatch"), or
 * fallback, with the error queue emptied; valid until the next call on
 * this thread.  For the configuration's and the client's messages. */
const char *nk__tls_reason(const char *fallback);

/* "h2,http/1.1" into ALPN's wire form (length-prefixed names) in out;
 * its length, or -1 with *why saying what is wrong. */
long nk__tls_alpn_wire(const char *list, unsigned char *out, size_t size,
                       const char **why);

/* A pem_password_cb that prompts for nothing: an encrypted key fails to
 * load, and says so. */
int nk__tls_no_passphrase(char *buf, int size, int rw, void *u);

/* What the handshake settled, for the log line: "TLSv1.3" */
const char *nk__tls_version(const struct ssl_st *ssl);
int nk__tls_resumed(const struct ssl_st *ssl);
/* The ALPN protocol chosen (not NUL-terminated), or NULL. */
const uint8_t *nk__tls_alpn(const struct ssl_st *ssl, size_t *len);
/* The verified client certificate's subject ("CN=alice,O=Example"), into
 * buf; 0, or -1 when there is none. */
int nk__tls_peer_subject(const struct ssl_st *ssl, char *buf, size_t size);
/* host->tls_info: fill info (its strings in this thread's buffers, valid
 * until the next call on this thread).  0. */
struct nk_tls_info;
int nk__tls_info(struct ssl_st *ssl, struct nk_tls_info *info);

/* Once per listener context: log whether kTLS carries this connection's
 * records (the kernel encrypts) or OpenSSL does. */
void nk__tls_log_offload(struct ssl_st *ssl, const char *listener);

#endif /* NK_CORE_TLS_H */
