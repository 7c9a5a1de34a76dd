/*
 * pubsub.c -- publish/subscribe over text lines: the worked example of
 * docs/plugin-guide.md for sessions across workers, timers, back-pressure
 * and error answers.  Built outside the netkit tree against the installed
 * headers (CMakeLists.txt or Makefile beside it).
 *
 * Protocol: one command a line ("\n" ends it; a "\r" before it is dropped).
 *
 *   SUB topic         +OK           subscribe to topic
 *   UNSUB topic       +OK           unsubscribe
 *   PUB topic text    +OK           every subscriber of topic, on every
 *                                   worker, gets "MSG topic text"
 *   ID                +OK sid       this session's handle
 *   TELL sid text     +OK           session sid gets "FROM mysid text"
 *   PING              +PONG
 *   QUIT              +OK bye       and the server closes
 *
 * A wrong command is answered "-ERR why" and the session goes on.  A line
 * longer than max_line, or one holding a NUL byte, is answered "-ERR why"
 * and closes the session (on_bad_input).
 *
 * Threads: each worker has an instance of its own, which knows only the
 * sessions of its worker.  PUB posts the message to every instance
 * (NK_WORKER_ALL), and each hands it to its own subscribers, so the
 * messages of one publisher reach every subscriber in the order sent.
 *
 * Timers: a session that sends nothing for idle_ms is told "-ERR idle" and
 * closed (a session timer); every stats_ms each instance logs its counters
 * (an instance timer).
 *
 * Back-pressure (ABI 1.2): a subscriber with more than max_queued bytes
 * waiting holds the publishers that feed it (pause_read, across workers by
 * handle) until its queue has drained (on_drain: resume_read), so a burst
 * reaches every subscriber that reads, whole.  One that stays behind for
 * slow_ms lets them go: from then on its messages are skipped while more
 * than max_queued waits, counted as dropped, and once its queue has
 * drained it is told "DROPPED n".  With slow_ms=0 a subscriber behind is
 * skipped at once (the 1.1 behaviour).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netkit/plugin.h>

enum { OPT_MAX_LINE, OPT_MAX_QUEUED, OPT_SLOW_MS, OPT_IDLE_MS, OPT_STATS_MS };

static const struct nk_option pubsub_options[] = {
    [OPT_MAX_LINE] = {.name = "max_line",
                      .type = NK_OPT_SIZE,
                      .def = "1k",
                      .help = "longest line, newline included; a longer one "
                              "is answered -ERR and closes",
                      .min = 16,
                      .max = 65536},
    [OPT_MAX_QUEUED] = {.name = "max_queued",
                        .type = NK_OPT_SIZE,
                        .def = "64k",
                        .help = "bytes waiting for a subscriber past which "
                                "it holds its publishers back",
                        .min = 0,
                        .max = 16 * 1024 * 1024},
    [OPT_SLOW_MS] = {.name = "slow_ms",
                     .type = NK_OPT_INT,
                     .def = "1000",
                     .help = "how long a subscriber may hold publishers "
                             "back; then its messages are dropped (0: drop "
                             "at once)",
                     .min = 0,
                     .max = 86400000},
    [OPT_IDLE_MS] = {.name = "idle_ms",
                     .type = NK_OPT_INT,
                     .def = "0",
                     .help = "close a session silent this long (0: never)",
                     .min = 0,
                     .max = 86400000},
    [OPT_STATS_MS] = {.name = "stats_ms",
                      .type = NK_OPT_INT,
                      .def = "0",
                      .help = "log each worker's counters this often "
                              "(0: never)",
                      .min = 0,
                      .max = 86400000},
    {.name = NULL},
};

#define TOPIC_MAX 64 /* bytes in a topic's name */
#define SUBS_MAX  32 /* subscriptions of one session */
#define NBUCKETS  64 /* the topic table's hash buckets */
#define HELD_MAX  16 /* publishers one subscriber holds back at once */

/* One subscription, on its topic's list and on its client's. */
struct sub {
    struct topic *topic;
    struct client *client;
    struct sub *tprev, *tnext; /* the topic's subscribers */
    struct sub *cnext;         /* the client's subscriptions */
};

struct topic {
    struct topic *next; /* in its bucket */
    struct sub *subs;
    size_t len;
    char name[TOPIC_MAX];
};

/* A session of this worker (its get_data). */
struct client {
    struct nk_session *s;
    struct sub *subs;
    int nsubs;
    uint64_t last_seen;   /* now_ms of its last command */
    unsigned long missed; /* dropped since its last DROPPED notice */
    /* Back-pressure.  As a subscriber: the publishers it holds back
     * (handle and worker), since when it is behind (0: it is not), and
     * whether it was behind too long.  As a publisher: how many
     * subscribers hold it (paused while > 0). */
    struct held {
        nk_sid sid;
        int worker;
    } held[HELD_MAX];
    int nheld;
    uint64_t behind_since;
    int slow, slow_timer;
    unsigned holds;
    struct client *prev, *next; /* the instance's sessions */
};

/* One per worker: its callbacks all run on that worker's thread. */
struct pubsub {
    const struct nk_host *host;
    struct nk_ctx *ctx;
    int worker;
    size_t max_line, max_queued;
    uint64_t idle_ms, slow_ms;
    char *postbuf; /* a PUB as posted: "sid worker topic text" */
    struct client *all;
    struct topic *buckets[NBUCKETS];
    unsigned long clients;
    unsigned long long published, delivered, dropped;
};

/* ---- topics ------------------------------------------------------------ */

/* Where topic `name` is, or would be inserted: *slot is NULL if absent. */
static struct topic **
topic_slot(struct pubsub *ps, const char *name, size_t len)
{
    unsigned h = 5381;
    struct topic **t;

    for (size_t i = 0; i < len; i++)
        h = h * 33 + (unsigned char)name[i];
    t = &ps->buckets[h % NBUCKETS];
    while (*t != NULL &&
           ((*t)->len != len || memcmp((*t)->name, name, len) != 0))
        t = &(*t)->next;
    return t;
}

/* Subscribe c to a topic; NULL, or why not. */
static const char *
subscribe(struct pubsub *ps, struct client *c, const char *name, size_t len)
{
    struct topic **slot = topic_slot(ps, name, len), *t = *slot;
    struct sub *sb;

    for (sb = c->subs; t != NULL && sb != NULL; sb = sb->cnext)
        if (sb->topic == t)
            return NULL; /* already subscribed */
    if (c->nsubs >= SUBS_MAX)
        return "too many subscriptions";
    sb = calloc(1, sizeof(*sb));
    if (sb != NULL && t == NULL) {
        t = calloc(1, sizeof(*t));
        if (t == NULL) {
            free(sb);
            return "out of memory";
        }
        memcpy(t->name, name, len);
        t->len = len;
        *slot = t;
    }
    if (sb == NULL)
        return "out of memory";
    *sb = (struct sub){
        .topic = t, .client = c, .tnext = t->subs, .cnext = c->subs};
    if (t->subs != NULL)
        t->subs->tprev = sb;
    t->subs = sb;
    c->subs = sb;
    c->nsubs++;
    return NULL;
}

/* Remove *slot, a link of its client's list, from both lists; a topic
 * goes with its last subscriber. */
static void
unsubscribe(struct pubsub *ps, struct sub **slot)
{
    struct sub *sb = *slot;
    struct topic *t = sb->topic;

    *slot = sb->cnext;
    sb->client->nsubs--;
    if (sb->tprev != NULL)
        sb->tprev->tnext = sb->tnext;
    else
        t->subs = sb->tnext;
    if (sb->tnext != NULL)
        sb->tnext->tprev = sb->tprev;
    free(sb);
    if (t->subs == NULL) {
        *topic_slot(ps, t->name, t->len) = t->next;
        free(t);
    }
}

/* ---- the codec: lines -------------------------------------------------- */

static long
pubsub_decode(void *inst, const uint8_t *buf, size_t len, struct nk_frame *f)
{
    const struct pubsub *ps = inst;
    const uint8_t *nl =
        memchr(buf, '\n', len < ps->max_line ? len : ps->max_line);

    if (nl == NULL) {
        if (len < ps->max_line)
            return NK_ENEEDMORE; /* f->need stays 0: length unknown */
        f->why = "line too long";
        return NK_EFRAMETOOBIG;
    }
    f->payload = buf;
    f->payload_len = (size_t)(nl - buf);
    if (memchr(buf, '\0', f->payload_len) != NULL) {
        f->why = "NUL byte in line";
        return NK_EPROTO;
    }
    if (f->payload_len > 0 && buf[f->payload_len - 1] == '\r')
        f->payload_len--;
    return (long)(nl - buf) + 1;
}

static int
pubsub_encode(void *inst, size_t payload_len, struct nk_wrap *w)
{
    (void)inst, (void)payload_len;
    w->tail[0] = '\n';
    w->tail_len = 1;
    return 0;
}

/* ---- serving ----------------------------------------------------------- */

/* Send the line a + b. */
static int
reply(const struct pubsub *ps, struct nk_session *s, const char *a,
      const char *b)
{
    struct iovec iov[2] = {{(void *)a, strlen(a)}, {(void *)b, strlen(b)}};

    return ps->host->send(s, iov, 2);
}

/* The next word of [*p, end), and *p moved past it and one space. */
static size_t
word(const char **p, const char *end)
{
    const char *w = *p, *sp = memchr(w, ' ', (size_t)(end - w));

    *p = sp != NULL ? sp + 1 : end;
    return (size_t)((sp != NULL ? sp : end) - w);
}

/* Ask publisher h's worker to count one hold more (+) or less (-). */
static void
hold_post(struct pubsub *ps, const struct held *h, char sign)
{
    char msg[32];
    int n =
        snprintf(msg, sizeof(msg), "%c%llu", sign, (unsigned long long)h->sid);

    /* A release that cannot be posted must not keep the publisher paused
     * for ever: resume it directly (its count is then off, not stuck). */
    if (ps->host->post(ps->ctx, h->worker, msg, (size_t)n) < 0 && sign == '-')
        ps->host->resume_read(ps->ctx, h->sid);
}

/* Let go of the publishers c holds back. */
static void
release(struct pubsub *ps, struct client *c)
{
    for (int i = 0; i < c->nheld; i++)
        hold_post(ps, &c->held[i], '-');
    c->nheld = 0;
    c->behind_since = 0;
}

/* A session timer: it dies with its session, so c is alive when it fires. */
static void
idle_check(void *inst, struct nk_session *s, void *arg)
{
    struct pubsub *ps = inst;
    struct client *c = arg;
    uint64_t idle = ps->host->now_ms(ps->ctx) - c->last_seen;

    /* Active meanwhile: look again when the rest of idle_ms is up. */
    if (idle < ps->idle_ms &&
        ps->host->timer_start(ps->ctx, s, ps->idle_ms - idle, 0, idle_check,
                              c) != 0)
        return;
    reply(ps, s, "-ERR ", "idle");
    ps->host->close(s);
}

/* An instance timer (s is NULL). */
static void
stats_tick(void *inst, struct nk_session *s, void *arg)
{
    const struct pubsub *ps = inst;

    (void)s, (void)arg;
    ps->host->log(NULL, NK_LOG_INFO,
                  "pubsub: worker %d: %lu clients, %llu published, "
                  "%llu delivered, %llu dropped",
                  ps->worker, ps->clients, ps->published, ps->delivered,
                  ps->dropped);
}

static int
pubsub_open(void *inst, struct nk_session *s)
{
    struct pubsub *ps = inst;
    struct client *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NK_ENOMEM;
    c->s = s;
    c->last_seen = ps->host->now_ms(ps->ctx);
    if (ps->idle_ms > 0 &&
        ps->host->timer_start(ps->ctx, s, ps->idle_ms, 0, idle_check, c) == 0) {
        free(c);
        return NK_ENOMEM;
    }
    ps->host->set_data(s, c);
    c->next = ps->all;
    if (ps->all != NULL)
        ps->all->prev = c;
    ps->all = c;
    ps->clients++;
    return 0;
}

/* Its timers are stopped already; its data is ours to free. */
static void
pubsub_close(void *inst, struct nk_session *s)
{
    struct pubsub *ps = inst;
    struct client *c = ps->host->get_data(s);

    while (c->subs != NULL)
        unsubscribe(ps, &c->subs);
    release(ps, c);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        ps->all = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    free(c);
    ps->clients--;
}

/* Tell the sender of PUB or TELL how it went. */
static int
reply_rc(const struct pubsub *ps, struct nk_session *s, int rc)
{
    if (rc == NK_ENOENT)
        return reply(ps, s, "-ERR ", "no such session");
    if (rc == NK_EAGAIN)
        return reply(ps, s, "-ERR ", "busy: some workers missed it");
    return reply(ps, s, rc < 0 ? "-ERR " : "+OK",
                 rc < 0 ? nk_strerror(rc) : "");
}

static int
pubsub_message(void *inst, struct nk_session *s, const uint8_t *p, size_t n)
{
    struct pubsub *ps = inst;
    struct client *c = ps->host->get_data(s);
    const char *cmd = (const char *)p, *end = cmd + n, *arg, *text = cmd;
    size_t cmdlen = word(&text, end), arglen;
    char num[24];

    arg = text;
    arglen = word(&text, end);
    c->last_seen = ps->host->now_ms(ps->ctx);
#define IS(w) (cmdlen == sizeof(w) - 1 && memcmp(cmd, w, cmdlen) == 0)
    if (IS("PING"))
        return reply(ps, s, "+PONG", "");
    if (IS("QUIT")) {
        reply(ps, s, "+OK bye", "");
        return NK_ECLOSE;
    }
    if (IS("ID")) {
        snprintf(num, sizeof(num), "%llu",
                 (unsigned long long)ps->host->session_id(s));
        return reply(ps, s, "+OK ", num);
    }
    if (IS("TELL")) {
        /* send_to reaches a session of any worker by its handle. */
        char from[40];
        struct iovec iov[2] = {{from, 0}, {(void *)text, (size_t)(end - text)}};
        unsigned long long sid;

        if (arglen == 0 || arglen >= sizeof(num))
            return reply(ps, s, "-ERR ", "usage: TELL sid text");
        memcpy(num, arg, arglen);
        num[arglen] = '\0';
        sid = strtoull(num, NULL, 10);
        iov[0].iov_len =
            (size_t)snprintf(from, sizeof(from), "FROM %llu ",
                             (unsigned long long)ps->host->session_id(s));
        return reply_rc(ps, s, ps->host->send_to(ps->ctx, sid, iov, 2));
    }
    if (!IS("SUB") && !IS("UNSUB") && !IS("PUB"))
        return reply(ps, s, "-ERR ", "unknown command");
    if (arglen == 0 || arglen > TOPIC_MAX)
        return reply(ps, s, "-ERR ", "a topic is 1 to 64 bytes");
    if (IS("SUB")) {
        const char *why = subscribe(ps, c, arg, arglen);
        return reply(ps, s, why != NULL ? "-ERR " : "+OK", why ? why : "");
    }
    if (IS("UNSUB")) {
        for (struct sub **sb = &c->subs; *sb != NULL; sb = &(*sb)->cnext)
            if ((*sb)->topic->len == arglen &&
                memcmp((*sb)->topic->name, arg, arglen) == 0) {
                unsubscribe(ps, sb);
                return reply(ps, s, "+OK", "");
            }
        return reply(ps, s, "-ERR ", "not subscribed");
    }
    /* PUB: "sid worker topic text" goes to every worker's instance, this
     * one too; the publisher's handle and worker are for back-pressure. */
    ps->published++;
    arglen = (size_t)snprintf(ps->postbuf, 32, "%llu %d ",
                              (unsigned long long)ps->host->session_id(s),
                              ps->worker);
    memcpy(ps->postbuf + arglen, arg, (size_t)(end - arg));
    arglen += (size_t)(end - arg);
    return reply_rc(
        ps, s, ps->host->post(ps->ctx, NK_WORKER_ALL, ps->postbuf, arglen));
#undef IS
}

/* A session timer: c has been behind since behind_since; after slow_ms
 * it is a slow reader, whose messages are dropped, and holds no one. */
static void
slow_check(void *inst, struct nk_session *s, void *arg)
{
    struct pubsub *ps = inst;
    struct client *c = arg;
    uint64_t behind = ps->host->now_ms(ps->ctx) - c->behind_since;

    c->slow_timer = 0;
    if (c->behind_since == 0)
        return; /* caught up meanwhile */
    if (behind < ps->slow_ms &&
        ps->host->timer_start(ps->ctx, s, ps->slow_ms - behind, 0, slow_check,
                              c) != 0) {
        c->slow_timer = 1; /* behind again since: the rest of slow_ms */
        return;
    }
    c->slow = 1;
    release(ps, c);
}

/* c is more than max_queued behind: hold publisher h back until c has
 * caught up, for slow_ms at most.  Holds are counted on the publisher's
 * worker (pubsub_post), so it goes on only once no subscriber holds it:
 * pause_read itself is one bit, not a count. */
static void
hold(struct pubsub *ps, struct client *c, const struct held *h)
{
    int i;

    for (i = 0; i < c->nheld && c->held[i].sid != h->sid; i++)
        ;
    if (i == c->nheld && c->nheld < HELD_MAX) {
        c->held[c->nheld++] = *h;
        hold_post(ps, h, '+');
    }
    if (c->behind_since == 0)
        c->behind_since = ps->host->now_ms(ps->ctx);
    if (!c->slow_timer) {
        c->slow_timer = ps->host->timer_start(ps->ctx, c->s, ps->slow_ms, 0,
                                              slow_check, c) != 0;
        if (!c->slow_timer) { /* no timer: do not hold anyone for ever */
            c->slow = 1;
            release(ps, c);
        }
    }
}

/* A hold ("+sid") or release ("-sid") of a publisher of this worker. */
static void
count_hold(struct pubsub *ps, const char *msg, size_t len)
{
    char num[24];
    nk_sid sid;
    struct client *c;

    if (len < 2 || len - 1 >= sizeof(num))
        return;
    memcpy(num, msg + 1, len - 1);
    num[len - 1] = '\0';
    sid = strtoull(num, NULL, 10);
    for (c = ps->all; c != NULL && ps->host->session_id(c->s) != sid;
         c = c->next)
        ;
    if (c == NULL)
        return; /* the publisher has left */
    if (msg[0] == '+' && c->holds++ == 0)
        ps->host->pause_read(ps->ctx, sid);
    else if (msg[0] == '-' && c->holds > 0 && --c->holds == 0)
        ps->host->resume_read(ps->ctx, sid);
}

/* A PUB's "sid worker topic text", on every worker: deliver to this
 * one's subscribers, holding the publisher back for those behind and
 * skipping those too slow.  Or a hold count of one of its publishers. */
static void
pubsub_post(void *inst, const void *data, size_t len)
{
    struct pubsub *ps = inst;
    const char *end = (const char *)data + len, *name = data, *text;
    struct held pub;
    size_t namelen;
    struct topic *t;
    struct iovec iov[2] = {{(void *)"MSG ", 4}, {NULL, 0}};

    if (len > 0 && (name[0] == '+' || name[0] == '-')) {
        count_hold(ps, data, len);
        return;
    }
    pub.sid = strtoull(name, NULL, 10); /* digits, then a space */
    word(&name, end);
    pub.worker = atoi(name);
    word(&name, end);
    text = name;
    namelen = word(&text, end);
    t = *topic_slot(ps, name, namelen);
    iov[1].iov_base = (void *)name;
    iov[1].iov_len = (size_t)(end - name);
    for (struct sub *sb = t != NULL ? t->subs : NULL; sb; sb = sb->tnext) {
        struct client *c = sb->client;
        int behind = ps->host->queued(c->s) > ps->max_queued;

        if (behind && (ps->slow_ms == 0 || c->slow)) {
            c->missed++;
            ps->dropped++;
            continue;
        }
        if (behind)
            hold(ps, c, &pub);
        if (ps->host->send(c->s, iov, 2) == 0)
            ps->delivered++;
    }
}

/* The socket took everything queued for s: say what it missed. */
static void
pubsub_drain(void *inst, struct nk_session *s)
{
    struct pubsub *ps = inst;
    struct client *c = ps->host->get_data(s);
    char num[24];

    /* Caught up: the publishers it held go on, and it is not slow. */
    release(ps, c);
    c->slow = 0;
    if (c->missed == 0)
        return;
    snprintf(num, sizeof(num), "%lu", c->missed);
    if (reply(ps, s, "DROPPED ", num) == 0)
        c->missed = 0;
}

/* A line too long, or a NUL byte: answer, and the host closes. */
static void
pubsub_bad_input(void *inst, struct nk_session *s, int err, const char *why)
{
    reply(inst, s, "-ERR ", why != NULL ? why : nk_strerror(err));
}

static void
pubsub_destroy(void *inst)
{
    struct pubsub *ps = inst;

    /* Every session has had its on_close, so the topic table is empty. */
    free(ps->postbuf);
    free(ps);
}

static int
pubsub_create(struct nk_setup *su)
{
    struct pubsub *ps = calloc(1, sizeof(*ps));
    uint64_t stats_ms = (uint64_t)su->opts[OPT_STATS_MS].num;

    if (ps == NULL)
        return NK_ENOMEM;
    ps->host = su->host;
    ps->ctx = su->ctx;
    ps->worker = su->worker;
    ps->max_line = (size_t)su->opts[OPT_MAX_LINE].num;
    ps->max_queued = (size_t)su->opts[OPT_MAX_QUEUED].num;
    ps->slow_ms = (uint64_t)su->opts[OPT_SLOW_MS].num;
    ps->idle_ms = (uint64_t)su->opts[OPT_IDLE_MS].num;
    su->max_message = ps->max_line;
    ps->postbuf = malloc(ps->max_line + 32);
    if (ps->postbuf == NULL) {
        free(ps);
        return NK_ENOMEM;
    }
    /* `netkit connect` uses the codec only: no ctx, so no timers. */
    if (su->role == NK_ROLE_SERVE && stats_ms > 0 &&
        ps->host->timer_start(ps->ctx, NULL, stats_ms, stats_ms, stats_tick,
                              NULL) == 0) {
        free(ps->postbuf);
        free(ps);
        return NK_ENOMEM;
    }
    su->inst = ps;
    return 0;
}

static const struct nk_plugin pubsub_plugin =
    NK_PLUGIN_INIT(.name = "pubsub", .version = "1.0.0",
                   .summary = "publish/subscribe over lines, across workers",
                   .transports = NK_TRANSPORT_TCP, .options = pubsub_options,
                   .create = pubsub_create, .destroy = pubsub_destroy,
                   .decode = pubsub_decode, .encode = pubsub_encode,
                   .on_open = pubsub_open, .on_message = pubsub_message,
                   .on_close = pubsub_close, .on_bad_input = pubsub_bad_input,
                   .on_drain = pubsub_drain, .on_post = pubsub_post);

NK_PLUGIN_DEFINE(pubsub_plugin)
