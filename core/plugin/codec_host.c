/* codec_host.c -- the host table of codec-only callers.  See codec_host.h. */
#include "plugin/codec_host.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "base/log.h"

static int
codec_send(struct nk_session *sess, const struct iovec *iov, int iovcnt)
{
    (void)sess, (void)iov, (void)iovcnt;
    return NK_ENOTSUP;
}

static void
codec_close(struct nk_session *sess)
{
    (void)sess;
}

static void codec_log(struct nk_session *sess, enum nk_log_level level,
                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
codec_log(struct nk_session *sess, enum nk_log_level level, const char *fmt,
          ...)
{
    char msg[900];
    va_list ap;

    (void)sess;
    if (!nk__log_enabled((int)level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    nk__log((int)level, "%s", msg);
}

static const char *
codec_peer_name(struct nk_session *sess)
{
    (void)sess;
    return "-";
}

static void *
codec_get_data(struct nk_session *sess)
{
    (void)sess;
    return NULL;
}

static void
codec_set_data(struct nk_session *sess, void *data)
{
    (void)sess, (void)data;
}

static nk_sid
codec_session_id(struct nk_session *sess)
{
    (void)sess;
    return 0;
}

static int
codec_send_to(struct nk_ctx *ctx, nk_sid sid, const struct iovec *iov,
              int iovcnt)
{
    (void)ctx, (void)sid, (void)iov, (void)iovcnt;
    return NK_ENOTSUP;
}

static int
codec_close_to(struct nk_ctx *ctx, nk_sid sid)
{
    (void)ctx, (void)sid;
    return NK_ENOTSUP;
}

static size_t
codec_queued(struct nk_session *sess)
{
    (void)sess;
    return 0;
}

static nk_timer_id
codec_timer_start(struct nk_ctx *ctx, struct nk_session *sess,
                  uint64_t delay_ms, uint64_t repeat_ms, nk_timer_fn fn,
                  void *arg)
{
    (void)ctx, (void)sess, (void)delay_ms, (void)repeat_ms, (void)fn, (void)arg;
    return 0;
}

static int
codec_timer_stop(struct nk_ctx *ctx, nk_timer_id id)
{
    (void)ctx, (void)id;
    return NK_ENOENT;
}

static int
codec_post(struct nk_ctx *ctx, int worker, const void *data, size_t len)
{
    (void)ctx, (void)worker, (void)data, (void)len;
    return NK_ENOTSUP;
}

static int
codec_connect(struct nk_ctx *ctx, const char *host, const char *port,
              void *data, nk_sid *sid)
{
    (void)ctx, (void)host, (void)port, (void)data, (void)sid;
    return NK_ENOTSUP;
}

static uint64_t
codec_now_ms(struct nk_ctx *ctx)
{
    struct timespec ts;

    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const struct nk_host nk__codec_host = {
    .size = sizeof(struct nk_host),
    .send = codec_send,
    .close = codec_close,
    .log = codec_log,
    .peer_name = codec_peer_name,
    .get_data = codec_get_data,
    .set_data = codec_set_data,
    .session_id = codec_session_id,
    .send_to = codec_send_to,
    .close_to = codec_close_to,
    .queued = codec_queued,
    .timer_start = codec_timer_start,
    .timer_stop = codec_timer_stop,
    .post = codec_post,
    .connect = codec_connect,
    .now_ms = codec_now_ms,
};
