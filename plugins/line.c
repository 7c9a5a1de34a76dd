/*
 * line.c -- the line echo plugin: newline-delimited messages, each answered
 * with one line, prefix + line.  This is the framing of most text protocols
 * (SMTP, IRC, Redis's inline commands) and what `nc` sends.
 *
 * The codec.  A message is the bytes up to the first "\n"; that "\n", and
 * one "\r" just before it, are the line's terminator and not its payload, so
 * "hello\n" and "hello\r\n" are the same line.  A "\r" anywhere else is a
 * byte of the line.  An empty line is a message.  encode gives every
 * message sent the tail "\n" (eol=crlf: "\r\n") and no head, so a reply is
 * framed by the same codec as the request, and `netkit connect -p line`
 * wraps its messages and finds where each reply ends with these functions.
 * encode sees only a length: a payload that itself holds a "\n" goes out as
 * several lines.  TCP lines never hold one, and create refuses a prefix
 * with a newline, so every TCP reply of this server is exactly one line.
 *
 * Limits.  max_line bounds a line without its terminator (default 64k, the
 * line limit of Go's bufio.Scanner and of Python's asyncio readline, so any
 * line a common line-reading client produces fits; at most 1M).  A line
 * has no length header, so decode asks for more (need 0) while no "\n" has
 * come, and the host refuses the connection once more bytes are buffered
 * than a line and its "\r\n" can take (max_message = max_line + 2), before
 * buffering further.  A whole line over max_line that arrives with its
 * "\n" is refused by decode itself (NK_EFRAMETOOBIG).  decode keeps no
 * state, so every read rescans the partial line with memchr; max_line also
 * bounds that work.  `netkit connect -p line` holds replies to the same
 * max_line, so a reply of prefix + a line near the limit needs a larger
 * -O max_line there.
 *
 * UDP.  A datagram is one message, never split: one trailing "\n" or
 * "\r\n" is removed when present (`nc -u` sends one; a datagram without it
 * is a line all the same), and a "\n" inside it stays in the payload.  It is
 * answered with one datagram, prefix + payload + "\n": one reply per
 * datagram, so a datagram of many short lines cannot make the server send
 * many datagrams to a forged source address.  A datagram over max_line is
 * dropped.  There is no exit word over UDP.
 *
 * Defaults.  prefix "echo : ", as framed, so the line and framed echoes
 * answer a message with the same payload; eol lf, what nc and Unix tools
 * read (crlf is there for clients of CRLF protocols; both are accepted);
 * exit_word "exit", as raw: a TCP line equal to it closes the connection
 * without a reply, which ends an nc session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netkit/plugin.h>

enum { OPT_PREFIX, OPT_MAX_LINE, OPT_EOL, OPT_EXIT_WORD };

static const struct nk_option line_options[] = {
    [OPT_PREFIX] = {.name = "prefix",
                    .type = NK_OPT_STRING,
                    .def = "echo : ",
                    .help = "bytes put in front of every reply line (no "
                            "newline)"},
    [OPT_MAX_LINE] = {.name = "max_line",
                      .type = NK_OPT_SIZE,
                      .def = "64k",
                      .help = "longest line accepted, without its \\n or "
                              "\\r\\n; a longer one closes the connection "
                              "(UDP: drops the datagram)",
                      .min = 1,
                      .max = 1LL << 20},
    [OPT_EOL] = {.name = "eol",
                 .type = NK_OPT_ENUM,
                 .def = "lf",
                 .help = "what ends every line sent: \\n (lf) or \\r\\n "
                         "(crlf); both are accepted",
                 .choices = "lf|crlf"},
    [OPT_EXIT_WORD] = {.name = "exit_word",
                       .type = NK_OPT_STRING,
                       .def = "exit",
                       .help = "a line equal to this closes the connection "
                               "(TCP; empty: never)"},
    {.name = NULL},
};

struct line {
    const struct nk_host *host;
    unsigned transport;
    char *prefix;
    size_t prefix_len;
    char *exit_word;
    size_t exit_len;
    size_t max_line; /* bytes of a line, terminator excluded */
    int crlf;        /* replies end with "\r\n" rather than "\n" */
};

static char *
line_dup(const struct nk_value *v)
{
    char *s = malloc(v->len + 1);

    if (s != NULL)
        memcpy(s, v->str, v->len + 1);
    return s;
}

static void
line_destroy(void *inst)
{
    struct line *l = inst;

    if (l == NULL)
        return;
    free(l->prefix);
    free(l->exit_word);
    free(l);
}

static int
line_create(struct nk_setup *su)
{
    const struct nk_value *o = su->opts;
    struct line *l;

    /* A newline in the prefix would make every reply two lines; one in the
     * exit word could never match a line. */
    if (memchr(o[OPT_PREFIX].str, '\n', o[OPT_PREFIX].len) != NULL) {
        snprintf(su->err, sizeof(su->err),
                 "prefix must not hold a newline (a reply is one line)");
        return NK_EINVAL;
    }
    if (memchr(o[OPT_EXIT_WORD].str, '\n', o[OPT_EXIT_WORD].len) != NULL) {
        snprintf(su->err, sizeof(su->err),
                 "exit_word must not hold a newline (no line does)");
        return NK_EINVAL;
    }
    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NK_ENOMEM;
    l->host = su->host;
    l->transport = su->transport;
    l->prefix = line_dup(&o[OPT_PREFIX]);
    l->prefix_len = o[OPT_PREFIX].len;
    l->exit_word = line_dup(&o[OPT_EXIT_WORD]);
    l->exit_len = o[OPT_EXIT_WORD].len;
    if (l->prefix == NULL || l->exit_word == NULL) {
        line_destroy(l);
        return NK_ENOMEM;
    }
    l->max_line = (size_t)o[OPT_MAX_LINE].num;
    l->crlf = o[OPT_EOL].num == 1;
    /* The longest message: a line of max_line bytes and its "\r\n".  The
     * host refuses a partial line once more than this is buffered. */
    su->max_message = l->max_line + 2;
    su->inst = l;
    return 0;
}

/* A datagram is one line, with or without its terminator. */
static long
line_decode_dgram(const struct line *l, const uint8_t *buf, size_t len,
                  struct nk_frame *f)
{
    size_t n = len;

    if (n > 0 && buf[n - 1] == '\n') {
        n--;
        if (n > 0 && buf[n - 1] == '\r')
            n--;
    }
    if (n > l->max_line)
        return NK_EFRAMETOOBIG;
    f->payload = buf;
    f->payload_len = n;
    return (long)len;
}

static long
line_decode(void *inst, const uint8_t *buf, size_t len, struct nk_frame *f)
{
    const struct line *l = inst;
    const uint8_t *nl;
    size_t n;

    f->need = 0;
    if (l->transport == NK_TRANSPORT_UDP)
        return line_decode_dgram(l, buf, len, f);
    /* A line that fits ends within its first max_line + 2 bytes; looking
     * no further bounds the rescan of a partial line. */
    nl = memchr(buf, '\n', len < l->max_line + 2 ? len : l->max_line + 2);
    if (nl == NULL)
        return NK_ENEEDMORE; /* the host refuses past max_message */
    n = (size_t)(nl - buf);
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    if (n > l->max_line)
        return NK_EFRAMETOOBIG;
    f->payload = buf;
    f->payload_len = n;
    return (long)(nl - buf) + 1;
}

/* No head; the tail is the line's terminator. */
static int
line_encode(void *inst, size_t payload_len, struct nk_wrap *w)
{
    const struct line *l = inst;

    (void)payload_len;
    if (l->crlf) {
        memcpy(w->tail, "\r\n", 2);
        w->tail_len = 2;
    } else {
        w->tail[0] = '\n';
        w->tail_len = 1;
    }
    return 0;
}

static int
line_message(void *inst, struct nk_session *s, const uint8_t *p, size_t n)
{
    struct line *l = inst;
    struct iovec iov[2] = {
        {l->prefix, l->prefix_len},
        {(void *)p, n},
    };

    if (l->transport == NK_TRANSPORT_TCP && l->exit_len > 0 &&
        n == l->exit_len && memcmp(p, l->exit_word, n) == 0)
        return NK_ECLOSE;
    return l->host->send(s, iov, 2);
}

static const struct nk_plugin line_plugin =
    NK_PLUGIN_INIT(.name = "line", .version = "1.0.0",
                   .summary = "line echo: 'echo : ' + each line; 'exit' closes",
                   .transports = NK_TRANSPORT_TCP | NK_TRANSPORT_UDP,
                   .options = line_options, .create = line_create,
                   .destroy = line_destroy, .decode = line_decode,
                   .encode = line_encode, .on_message = line_message);

NK_PLUGIN_DEFINE(line_plugin)
