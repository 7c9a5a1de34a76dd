/*
 * probe.c -- a line plugin that uses every host service of ABI 1.1, for the
 * test kit's own tests (test_kit.c).  Each line is a command:
 *
 *   echo TEXT     answer TEXT
 *   close         answer "bye", close, and try to send once more
 *   tick MS       a session timer: "tick N" every MS ms
 *   once MS       an instance timer: logs "once fired" after MS ms
 *   stop          stop this session's tick timer
 *   post TEXT     post TEXT to every worker: each sends it to its sessions
 *   to SID TEXT   send_to session SID; answers "rc=N"
 *   kill SID      close_to session SID; answers "rc=N"
 *   stream N      send N parts, pausing while output is queued (on_drain)
 *   dial PORT     connect to 127.0.0.1:PORT; on_connect says hello
 *   id            answer the session's handle
 *
 * A line starting with '!' is malformed (NK_EPROTO, why "bang"), answered
 * "-ERR bang" by on_bad_input.  Option greeting (default "hi\t", quoted) is
 * sent on open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netkit/plugin.h>

#define PROBE_SESSIONS 64

enum { OPT_GREETING, OPT_PARTS };

static const struct nk_option probe_options[] = {
    [OPT_GREETING] = {.name = "greeting",
                      .type = NK_OPT_STRING,
                      .def = "\"hi\\t\"",
                      .help = "sent on open"},
    [OPT_PARTS] = {.name = "mode",
                   .type = NK_OPT_ENUM,
                   .def = "plain",
                   .help = "unused",
                   .choices = "plain|fancy"},
    {.name = NULL},
};

struct probe_sess {
    nk_sid sid;
    nk_timer_id tick;
    unsigned ticks;
    unsigned parts_left;
};

struct probe {
    const struct nk_host *host;
    struct nk_ctx *ctx;
    int worker;
    char greeting[64];
    size_t greeting_len;
    struct nk_session *sess[PROBE_SESSIONS];
    int in_message; /* on_message is running */
    unsigned closes, bad_closes, drains;
    long mode;
};

static void
probe_destroy(void *inst)
{
    free(inst);
}

static int
probe_create(struct nk_setup *su)
{
    struct probe *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NK_ENOMEM;
    if (su->opts[OPT_GREETING].len >= sizeof(p->greeting)) {
        snprintf(su->err, sizeof(su->err), "greeting too long");
        free(p);
        return NK_EINVAL;
    }
    p->host = su->host;
    p->ctx = su->ctx;
    p->worker = su->worker;
    memcpy(p->greeting, su->opts[OPT_GREETING].str, su->opts[OPT_GREETING].len);
    p->greeting_len = su->opts[OPT_GREETING].len;
    p->mode = (long)su->opts[OPT_PARTS].num;
    su->max_message = 256;
    su->inst = p;
    return 0;
}

static long
probe_decode(void *inst, const uint8_t *buf, size_t len, struct nk_frame *f)
{
    const uint8_t *nl = memchr(buf, '\n', len);

    (void)inst;
    if (buf[0] == '!') {
        f->why = "bang";
        return NK_EPROTO;
    }
    if (nl == NULL)
        return NK_ENEEDMORE;
    f->payload = buf;
    f->payload_len = (size_t)(nl - buf);
    return (long)(nl - buf) + 1;
}

static int
probe_encode(void *inst, size_t n, struct nk_wrap *w)
{
    (void)inst, (void)n;
    w->tail[0] = '\n';
    w->tail_len = 1;
    return 0;
}

static int
probe_say(struct probe *p, struct nk_session *s, const char *text)
{
    struct iovec iov = {(void *)text, strlen(text)};

    return p->host->send(s, &iov, 1);
}

static int
probe_open(void *inst, struct nk_session *s)
{
    struct probe *p = inst;
    struct probe_sess *ps = calloc(1, sizeof(*ps));
    struct iovec iov = {p->greeting, p->greeting_len};

    if (ps == NULL)
        return NK_ENOMEM;
    ps->sid = p->host->session_id(s);
    p->host->set_data(s, ps);
    for (int i = 0; i < PROBE_SESSIONS; i++) {
        if (p->sess[i] == NULL) {
            p->sess[i] = s;
            break;
        }
    }
    return p->host->send(s, &iov, 1);
}

static void
probe_close(void *inst, struct nk_session *s)
{
    struct probe *p = inst;

    if (p->in_message)
        p->bad_closes++; /* the host broke the no-re-entry rule */
    p->closes++;
    for (int i = 0; i < PROBE_SESSIONS; i++)
        if (p->sess[i] == s)
            p->sess[i] = NULL;
    free(p->host->get_data(s));
}

static void
probe_tick(void *inst, struct nk_session *s, void *arg)
{
    struct probe *p = inst;
    struct probe_sess *ps = arg;
    char buf[32];

    snprintf(buf, sizeof(buf), "tick %u", ++ps->ticks);
    probe_say(p, s, buf);
}

static void
probe_once(void *inst, struct nk_session *s, void *arg)
{
    struct probe *p = inst;

    (void)arg;
    p->host->log(s, NK_LOG_INFO, "once fired at %llu",
                 (unsigned long long)p->host->now_ms(p->ctx));
}

static void
probe_more(struct probe *p, struct nk_session *s)
{
    struct probe_sess *ps = p->host->get_data(s);

    while (ps->parts_left > 0 && p->host->queued(s) == 0) {
        char buf[32];

        snprintf(buf, sizeof(buf), "part %u", ps->parts_left--);
        probe_say(p, s, buf);
    }
}

static void
probe_drain(void *inst, struct nk_session *s)
{
    struct probe *p = inst;

    p->drains++;
    probe_more(p, s);
}

static void
probe_post(void *inst, const void *data, size_t len)
{
    struct probe *p = inst;
    struct iovec iov = {(void *)data, len};

    for (int i = 0; i < PROBE_SESSIONS; i++)
        if (p->sess[i] != NULL)
            p->host->send(p->sess[i], &iov, 1);
}

static void
probe_connected(void *inst, struct nk_session *s, int status)
{
    struct probe *p = inst;
    struct probe_sess *ps = p->host->get_data(s);

    if (status < 0) {
        p->host->log(s, NK_LOG_WARN, "dial %s failed: %s",
                     p->host->peer_name(s), nk_strerror(status));
        free(ps); /* no on_close follows a failed connect */
        return;
    }
    ps->sid = p->host->session_id(s);
    for (int i = 0; i < PROBE_SESSIONS; i++) {
        if (p->sess[i] == NULL) {
            p->sess[i] = s;
            break;
        }
    }
    probe_say(p, s, "hello upstream");
}

static void
probe_bad(void *inst, struct nk_session *s, int err, const char *why)
{
    struct probe *p = inst;
    char buf[64];

    snprintf(buf, sizeof(buf), "-ERR %s", why != NULL ? why : nk_err_name(err));
    probe_say(p, s, buf);
}

static int
probe_command(struct probe *p, struct nk_session *s, const char *cmd)
{
    struct probe_sess *ps = p->host->get_data(s);
    char buf[96];
    unsigned long long n = 0;
    int rc;

    if (strncmp(cmd, "echo ", 5) == 0)
        return probe_say(p, s, cmd + 5);
    if (strcmp(cmd, "close") == 0) {
        probe_say(p, s, "bye");
        p->host->close(s);
        rc = probe_say(p, s, "after");
        return rc == NK_EPIPE ? 0 : -1;
    }
    if (sscanf(cmd, "tick %llu", &n) == 1) {
        ps->tick = p->host->timer_start(p->ctx, s, n, n, probe_tick, ps);
        return ps->tick != 0 ? 0 : -1;
    }
    if (sscanf(cmd, "once %llu", &n) == 1)
        return p->host->timer_start(p->ctx, NULL, n, 0, probe_once, NULL) != 0
                   ? 0
                   : -1;
    if (strcmp(cmd, "stop") == 0) {
        snprintf(buf, sizeof(buf), "rc=%d",
                 p->host->timer_stop(p->ctx, ps->tick));
        return probe_say(p, s, buf);
    }
    if (strncmp(cmd, "post ", 5) == 0)
        return p->host->post(p->ctx, NK_WORKER_ALL, cmd + 5, strlen(cmd + 5));
    if (sscanf(cmd, "to %llu %n", &n, &rc) == 1) {
        struct iovec iov = {(void *)(cmd + rc), strlen(cmd + rc)};

        snprintf(buf, sizeof(buf), "rc=%d",
                 p->host->send_to(p->ctx, (nk_sid)n, &iov, 1));
        return probe_say(p, s, buf);
    }
    if (sscanf(cmd, "kill %llu", &n) == 1) {
        snprintf(buf, sizeof(buf), "rc=%d",
                 p->host->close_to(p->ctx, (nk_sid)n));
        return probe_say(p, s, buf);
    }
    if (sscanf(cmd, "stream %llu", &n) == 1) {
        ps->parts_left = (unsigned)n;
        probe_more(p, s);
        return 0;
    }
    if (sscanf(cmd, "dial %llu", &n) == 1) {
        struct probe_sess *up = calloc(1, sizeof(*up));
        char port[16];
        nk_sid sid = 0;

        snprintf(port, sizeof(port), "%llu", n);
        rc = up != NULL ? p->host->connect(p->ctx, "127.0.0.1", port, up, &sid)
                        : NK_ENOMEM;
        if (rc < 0)
            free(up);
        snprintf(buf, sizeof(buf), "rc=%d sid=%llu", rc,
                 (unsigned long long)sid);
        return probe_say(p, s, buf);
    }
    if (strcmp(cmd, "id") == 0) {
        snprintf(buf, sizeof(buf), "%llu",
                 (unsigned long long)p->host->session_id(s));
        return probe_say(p, s, buf);
    }
    return NK_EPROTO;
}

static int
probe_message(void *inst, struct nk_session *s, const uint8_t *m, size_t n)
{
    struct probe *p = inst;
    char cmd[256];
    int rc;

    if (n >= sizeof(cmd))
        return NK_EPROTO;
    memcpy(cmd, m, n);
    cmd[n] = '\0';
    p->in_message = 1;
    rc = probe_command(p, s, cmd);
    p->in_message = 0;
    return rc;
}

static const struct nk_plugin probe_plugin =
    NK_PLUGIN_INIT(.name = "probe", .version = "1.0",
                   .summary = "every ABI 1.1 service",
                   .transports = NK_TRANSPORT_TCP | NK_TRANSPORT_UDP,
                   .options = probe_options, .create = probe_create,
                   .destroy = probe_destroy, .decode = probe_decode,
                   .encode = probe_encode, .on_open = probe_open,
                   .on_message = probe_message, .on_close = probe_close,
                   .on_bad_input = probe_bad, .on_drain = probe_drain,
                   .on_post = probe_post, .on_connect = probe_connected);

NK_PLUGIN_DEFINE(probe_plugin)
