/*
 * http.c -- a small HTTP/1.1 server: the worked example of
 * docs/plugin-guide.md for partial input and the host's deadlines (plugin
 * ABI 1.2).  Built outside the netkit tree against the installed headers
 * (CMakeLists.txt or Makefile beside it).
 *
 * What it answers, on keep-alive connections (HTTP/1.1 by default,
 * HTTP/1.0 with "Connection: keep-alive"):
 *
 *   GET or HEAD any path     200, a fixed page ("page" option)
 *   POST or PUT with a body  200, the body echoed back
 *   any other method         501
 *
 * A body has a Content-Length (no chunked encoding: 400).  Three things
 * show the 1.2 API:
 *
 *   - "Expect: 100-continue": the client waits for "100 Continue" before
 *     it sends the body (curl for a second).  decode reports the head as
 *     soon as it is whole (frame->head_len) and on_head sends the 100 at
 *     once -- unless the body is over max_body, which the host refuses
 *     before on_head: 413, and the body is never sent;
 *   - malformed input (on_bad_input): 400, and 413 for a message over the
 *     listener's limit; both close;
 *   - the host's deadlines (on_timeout): a request begun and not finished
 *     in time (host->buffered(s) > 0) is answered "408 Request Timeout",
 *     an idle keep-alive connection is closed without a word, as nginx
 *     does.  netkit's --idle-timeout is the keep-alive timeout and
 *     --message-timeout the time a whole request may take.
 *
 * The codec finds where a message ends (the head's CRLF CRLF, then
 * Content-Length bytes) and hands on_message the whole message; on_message
 * parses the head again (decode keeps no state between calls).  Replies
 * are written whole in the payload, so encode adds nothing.  In the
 * connect role (netkit connect) the same codec finds responses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netkit/plugin.h>

enum { OPT_MAX_HEAD, OPT_MAX_BODY, OPT_PAGE };

static const struct nk_option http_options[] = {
    [OPT_MAX_HEAD] = {.name = "max_head",
                      .type = NK_OPT_SIZE,
                      .def = "8k",
                      .help = "longest request line and headers; a longer "
                              "head is answered 400",
                      .min = 64,
                      .max = 1024 * 1024},
    [OPT_MAX_BODY] = {.name = "max_body",
                      .type = NK_OPT_SIZE,
                      .def = "1M",
                      .help = "largest body; a larger one is answered 413",
                      .min = 0,
                      .max = 64 * 1024 * 1024},
    [OPT_PAGE] = {.name = "page",
                  .type = NK_OPT_STRING,
                  .def = "\"hello from netkit\\n\"",
                  .help = "the page GET answers"},
    {.name = NULL},
};

struct http {
    const struct nk_host *host;
    size_t max_head, max_body;
    char *page;
    size_t page_len;
};

/* ---- parsing ----------------------------------------------------------- */

/* What one head says. */
struct head {
    const char *method, *version; /* request: method; both: the version */
    size_t method_len;
    int status;        /* response (connect role): the status code */
    size_t body;       /* Content-Length, 0 if none */
    int has_length;    /* a Content-Length was given */
    int chunked;       /* Transfer-Encoding was given */
    int close, keep;   /* Connection: close / keep-alive */
    int expect_100;    /* Expect: 100-continue */
    const char *error; /* why the head is malformed, or NULL */
};

static int
lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Case-insensitive: does p[0..n) equal the NUL-terminated word w? */
static int
same(const char *p, size_t n, const char *w)
{
    size_t i;

    for (i = 0; i < n && w[i] != '\0'; i++)
        if (lower((unsigned char)p[i]) != lower((unsigned char)w[i]))
            return 0;
    return i == n && w[i] == '\0';
}

/* Does the comma-separated list p[0..n) hold the token w? */
static int
has_token(const char *p, size_t n, const char *w)
{
    size_t i = 0;

    while (i < n) {
        size_t s, e;
        while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
            i++;
        s = i;
        while (i < n && p[i] != ',')
            i++;
        e = i;
        while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t'))
            e--;
        if (e > s && same(p + s, e - s, w))
            return 1;
    }
    return 0;
}

/* Where the head's CRLF CRLF ends within buf[0..len), or 0. */
static size_t
head_end(const uint8_t *buf, size_t len)
{
    for (size_t i = 3; i < len; i++)
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' &&
            buf[i - 3] == '\r')
            return i + 1;
    return 0;
}

/* The start line: "METHOD SP target SP HTTP/1.x" for a request,
 * "HTTP/1.x SP code SP reason" for a response. */
static void
parse_start(const char *p, size_t n, int response, struct head *h)
{
    const char *sp1 = memchr(p, ' ', n), *sp2;

    if (sp1 == NULL || sp1 == p) {
        h->error = "bad start line";
        return;
    }
    sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - p));
    if (response) {
        h->version = p;
        h->status = atoi(sp1 + 1);
        if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || h->status < 100)
            h->error = "bad status line";
        return;
    }
    if (sp2 == NULL || sp2 == sp1 + 1 || (size_t)(p + n - (sp2 + 1)) != 8 ||
        memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
        (sp2[8] != '0' && sp2[8] != '1')) {
        h->error = "bad request line";
        return;
    }
    for (const char *m = p; m < sp1; m++)
        if (*m < 'A' || *m > 'Z') {
            h->error = "bad method";
            return;
        }
    h->method = p;
    h->method_len = (size_t)(sp1 - p);
    h->version = sp2 + 1;
}

/* One "Name: value" line. */
static void
parse_field(const char *p, size_t n, struct head *h)
{
    const char *colon = memchr(p, ':', n), *v, *end = p + n;
    size_t vn;

    if (colon == NULL || colon == p || colon[-1] == ' ' || colon[-1] == '\t') {
        h->error = "bad header line";
        return;
    }
    for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
        ;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    vn = (size_t)(end - v);
    if (same(p, (size_t)(colon - p), "content-length")) {
        size_t len = 0;
        if (vn == 0 || vn > 15) {
            h->error = vn == 0 ? "empty Content-Length" : "body too large";
            return;
        }
        for (size_t i = 0; i < vn; i++) {
            if (v[i] < '0' || v[i] > '9') {
                h->error = "bad Content-Length";
                return;
            }
            len = len * 10 + (size_t)(v[i] - '0');
        }
        if (h->has_length && h->body != len)
            h->error = "conflicting Content-Length";
        h->body = len;
        h->has_length = 1;
    } else if (same(p, (size_t)(colon - p), "transfer-encoding")) {
        h->chunked = 1;
    } else if (same(p, (size_t)(colon - p), "connection")) {
        h->close |= has_token(v, vn, "close");
        h->keep |= has_token(v, vn, "keep-alive");
    } else if (same(p, (size_t)(colon - p), "expect")) {
        h->expect_100 = same(v, vn, "100-continue");
    }
}

/* Parse the head buf[0..n) (CRLF CRLF included). */
static void
parse_head(const uint8_t *buf, size_t n, int response, struct head *h)
{
    const char *p = (const char *)buf, *end = p + n - 2; /* the last CRLF */
    int first = 1;

    memset(h, 0, sizeof(*h));
    while (p < end && h->error == NULL) {
        const char *eol = p;
        while (eol + 1 < end + 2 && !(eol[0] == '\r' && eol[1] == '\n'))
            eol++;
        if (first)
            parse_start(p, (size_t)(eol - p), response, h);
        else
            parse_field(p, (size_t)(eol - p), h);
        first = 0;
        p = eol + 2;
    }
    if (h->error == NULL && h->chunked)
        h->error = "Transfer-Encoding is not supported";
    if (h->error == NULL && response && h->status < 200)
        h->body = 0; /* 1xx: no body */
}

/* ---- the codec --------------------------------------------------------- */

static long
http_decode(void *inst, const uint8_t *buf, size_t len, struct nk_frame *f)
{
    const struct http *ht = inst;
    size_t hlen = head_end(buf, len > ht->max_head ? ht->max_head : len);
    struct head h;

    if (hlen == 0) {
        if (len >= ht->max_head) {
            f->why = "head too long";
            return NK_EPROTO;
        }
        return NK_ENEEDMORE;
    }
    parse_head(buf, hlen, ht->host == NULL, &h);
    if (h.error != NULL) {
        f->why = h.error;
        return strcmp(h.error, "body too large") == 0 ? NK_EFRAMETOOBIG
                                                      : NK_EPROTO;
    }
    if (h.body > ht->max_body) {
        f->why = "body too large";
        return NK_EFRAMETOOBIG; /* 413, before any 100 Continue */
    }
    if (len < hlen + h.body) {
        /* The head is whole: on_head may answer before the body. */
        f->need = hlen + h.body;
        f->head_len = hlen;
        return NK_ENEEDMORE;
    }
    f->payload = buf;
    f->payload_len = hlen + h.body;
    return (long)(hlen + h.body);
}

/* Replies (and, connect role, requests) are whole in the payload. */
static int
http_encode(void *inst, size_t n, struct nk_wrap *w)
{
    (void)inst, (void)n, (void)w;
    return 0;
}

/* ---- answers ----------------------------------------------------------- */

/* Send a response: status line, headers, then body[0..n) (or only its
 * length, for HEAD). */
static int
respond(const struct http *ht, struct nk_session *s, const char *status,
        const char *type, const void *body, size_t n, int send_body, int close)
{
    char head[256];
    struct iovec iov[2];

    iov[0].iov_base = head;
    iov[0].iov_len = (size_t)snprintf(
        head, sizeof(head),
        "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
        status, type, n, close ? "Connection: close\r\n" : "");
    iov[1].iov_base = (void *)body;
    iov[1].iov_len = send_body ? n : 0;
    return ht->host->send(s, iov, 2);
}

/* The head is whole and its body is still to come. */
static void
http_head(void *inst, struct nk_session *s, const uint8_t *p, size_t n)
{
    const struct http *ht = inst;
    struct head h;
    static const char go[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct iovec iov = {(void *)go, sizeof(go) - 1};

    parse_head(p, n, 0, &h);
    if (h.error == NULL && h.expect_100 && h.version[7] == '1')
        ht->host->send(s, &iov, 1);
}

static int
http_message(void *inst, struct nk_session *s, const uint8_t *p, size_t n)
{
    const struct http *ht = inst;
    size_t hlen = head_end(p, n);
    struct head h;
    int close, rc;

    parse_head(p, hlen, 0, &h);
    close = h.close || (h.version[7] == '0' && !h.keep);
    if (same(h.method, h.method_len, "GET") ||
        same(h.method, h.method_len, "HEAD"))
        rc = respond(ht, s, "200 OK", "text/plain", ht->page, ht->page_len,
                     h.method_len == 3, close);
    else if (same(h.method, h.method_len, "POST") ||
             same(h.method, h.method_len, "PUT"))
        rc = respond(ht, s, "200 OK", "application/octet-stream", p + hlen,
                     h.body, 1, close);
    else
        rc = respond(ht, s, "501 Not Implemented", "text/plain", "", 0, 1,
                     close = 1);
    return rc < 0 ? rc : close ? NK_ECLOSE : 0;
}

/* Malformed (400) or too large (413); the host closes after it. */
static void
http_bad_input(void *inst, struct nk_session *s, int err, const char *why)
{
    const struct http *ht = inst;
    int big = err == NK_EFRAMETOOBIG;
    const char *text = why != NULL ? why : nk_strerror(err);
    char body[128];
    int n = snprintf(body, sizeof(body), "%.120s\n", text);

    respond(ht, s, big ? "413 Content Too Large" : "400 Bad Request",
            "text/plain", body, n > 0 ? (size_t)n : 0, 1, 1);
}

/* The host's idle or message deadline: 408 for a request begun, silence
 * for an idle keep-alive connection.  The host closes after either. */
static void
http_timeout(void *inst, struct nk_session *s, int kind)
{
    const struct http *ht = inst;
    static const char body[] = "request not received in time\n";

    if (kind != NK_TIMEOUT_WRITE && ht->host->buffered(s) > 0)
        respond(ht, s, "408 Request Timeout", "text/plain", body,
                sizeof(body) - 1, 1, 1);
}

/* ---- the instance ------------------------------------------------------ */

static void
http_destroy(void *inst)
{
    struct http *ht = inst;

    free(ht->page);
    free(ht);
}

static int
http_create(struct nk_setup *su)
{
    struct http *ht = calloc(1, sizeof(*ht));
    const struct nk_value *page = &su->opts[OPT_PAGE];

    if (ht == NULL || (ht->page = malloc(page->len + 1)) == NULL) {
        free(ht);
        return NK_ENOMEM;
    }
    memcpy(ht->page, page->str, page->len + 1);
    ht->page_len = page->len;
    /* Serving, decode finds requests; connecting, responses (host NULL
     * tells decode which: a client instance needs no host services). */
    ht->host = su->role == NK_ROLE_SERVE ? su->host : NULL;
    ht->max_head = (size_t)su->opts[OPT_MAX_HEAD].num;
    ht->max_body = (size_t)su->opts[OPT_MAX_BODY].num;
    su->max_message = ht->max_head + ht->max_body;
    su->inst = ht;
    return 0;
}

static const struct nk_plugin http_plugin =
    NK_PLUGIN_INIT(.name = "http", .version = "1.0.0",
                   .summary = "HTTP/1.1: a page, an echo, 100-continue, 408",
                   .transports = NK_TRANSPORT_TCP, .options = http_options,
                   .create = http_create, .destroy = http_destroy,
                   .decode = http_decode, .encode = http_encode,
                   .on_message = http_message, .on_bad_input = http_bad_input,
                   .on_head = http_head, .on_timeout = http_timeout);

NK_PLUGIN_DEFINE(http_plugin)
