/*
 * test_kit_rules.c -- the case table tests/fixtures/rules.cases against
 * the test kit, with the rules fixture compiled in.
 * tests/integration/test_rules.py runs the same table against netkit
 * serve, so the kit and the host agree on every ABI 1.2 rule it holds:
 * pause/resume, watermarks and on_writable, half-close, over-size input,
 * a cancelled connect, the host's deadlines (on_timeout) and the
 * services destroy may not use.
 *
 * The kit's clock is fake: a step that waits (expect, log, closed) moves
 * it 10 ms at a time, up to a minute, until what it waits for happened;
 * the host's deadlines are fired by the timeout step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include <netkit/testkit.h>

#include "rules.c"

#define RULES_WAIT_MS 60000

struct rcase {
    char name[64];
    char **steps;
    size_t n;
};

static struct rcase *rcases;
static size_t nrcases;

static char report_path[64];

/* Read the table: one struct rcase per "case" line. */
static void
load_cases(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[512];

    if (f == NULL) {
        perror(path);
        exit(1);
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t n = strcspn(line, "\n");
        struct rcase *c;

        line[n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        if (strncmp(line, "case ", 5) == 0) {
            rcases = realloc(rcases, (nrcases + 1) * sizeof(*rcases));
            c = &rcases[nrcases++];
            memset(c, 0, sizeof(*c));
            snprintf(c->name, sizeof(c->name), "%.60s", line + 5);
            continue;
        }
        if (nrcases == 0) {
            fprintf(stderr, "%s: a step before the first case\n", path);
            exit(1);
        }
        c = &rcases[nrcases - 1];
        c->steps = realloc(c->steps, (c->n + 1) * sizeof(*c->steps));
        c->steps[c->n++] = strdup(line);
    }
    fclose(f);
}

/* TEXT with \n and \0 escapes; its length. */
static size_t
unescape(const char *in, char *out)
{
    size_t n = 0;

    for (; *in != '\0'; in++) {
        if (in[0] == '\\' && in[1] == 'n')
            out[n++] = '\n', in++;
        else if (in[0] == '\\' && in[1] == '0')
            out[n++] = '\0', in++;
        else
            out[n++] = *in;
    }
    return n;
}

/* Move the fake clock until cond holds, or a minute has passed. */
#define WAIT_FOR(k, cond)                                                      \
    for (uint64_t waited_ = 0; !(cond) && waited_ < RULES_WAIT_MS;             \
         waited_ += 10) {                                                      \
        nkt_advance((k), 10);                                                  \
        nkt_pump(k);                                                           \
    }

static int
logged(const struct nkt *k, const char *text)
{
    for (size_t i = 0; i < nkt_log_count(k); i++)
        if (strstr(nkt_log_line(k, i)->text, text) != NULL)
            return 1;
    return 0;
}

static void
run_case(void **state)
{
    const struct rcase *c = *state;
    const char *opts[] = {NULL, NULL};
    char opt[96], buf[512];
    struct nkt *k;
    struct nk_session *s;

    snprintf(opt, sizeof(opt), "report=%s", report_path);
    opts[0] = opt;
    remove(report_path);
    k = nkt_start(nk_plugin_entry(), opts);
    s = nkt_open(k);
    for (size_t i = 0; i < c->n; i++) {
        const char *st = c->steps[i], *arg = strchr(st, ' ');
        size_t n;

        arg = arg != NULL ? arg + 1 : "";
#define IS(w)                                                                  \
    (strncmp(st, w, strlen(w)) == 0 &&                                         \
     (st[strlen(w)] == ' ' || st[strlen(w)] == '\0'))
        if (IS("serve")) {
            continue; /* the host's settings: the kit fires deadlines */
        } else if (IS("send")) {
            n = unescape(arg, buf);
            buf[n++] = '\n';
            nkt_feed(s, buf, n);
        } else if (IS("sendraw")) {
            nkt_feed(s, buf, unescape(arg, buf));
        } else if (IS("sendlong") || IS("sendlongline")) {
            size_t len = (size_t)atol(arg);
            char *x = malloc(len + 1);
            memset(x, 'x', len);
            x[len] = '\n';
            nkt_feed(s, x, len + IS("sendlongline"));
            free(x);
        } else if (IS("expect")) {
            WAIT_FOR(k, nkt_sent_count(s) > s->checked);
            nkt_expect_sent(s, arg);
        } else if (IS("expect-flood")) {
            char f[1000];
            memset(f, 'f', sizeof(f));
            for (long j = atol(arg); j > 0; j--) {
                WAIT_FOR(k, nkt_sent_count(s) > s->checked);
                nkt_expect_sent_bytes(s, f, sizeof(f));
            }
        } else if (IS("stall")) {
            nkt_set_queued(s, 1);
        } else if (IS("read")) {
            nkt_drain(s);
        } else if (IS("eof")) {
            nkt_peer_eof(s);
        } else if (IS("timeout")) {
            nkt_timeout(s, strcmp(arg, "idle") == 0      ? NK_TIMEOUT_IDLE
                           : strcmp(arg, "message") == 0 ? NK_TIMEOUT_MESSAGE
                                                         : NK_TIMEOUT_WRITE);
        } else if (IS("log")) {
            WAIT_FOR(k, logged(k, arg));
            if (!logged(k, arg))
                fail_msg("%s: no log line holds '%s'", c->name, arg);
        } else if (IS("closed")) {
            WAIT_FOR(k, nkt_closed(s));
            nkt_expect_closed(s);
            nkt_expect_no_more(s);
        } else if (IS("gone-without")) {
            WAIT_FOR(k, nkt_closed(s));
            nkt_expect_closed(s);
            for (const struct nkt_msg *m; (m = nkt_sent(s, s->checked));
                 s->checked++)
                if (m->payload_len == strlen(arg) &&
                    memcmp(m->payload, arg, m->payload_len) == 0)
                    fail_msg("%s: '%s' was written", c->name, arg);
        } else if (IS("stop")) {
            nkt_free(k);
            k = NULL;
        } else if (IS("report")) {
            FILE *f = fopen(report_path, "r");
            size_t got = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
            buf[got] = '\0';
            if (f != NULL)
                fclose(f);
            if (strstr(buf, arg) == NULL)
                fail_msg("%s: the report is '%s', not '%s'", c->name, buf, arg);
        } else {
            fail_msg("%s: unknown step '%s'", c->name, st);
        }
#undef IS
    }
    if (k != NULL)
        nkt_free(k);
    remove(report_path);
}

int
main(void)
{
    struct CMUnitTest *tests;
    int rc;

    snprintf(report_path, sizeof(report_path), "/tmp/nk-rules-%ld.report",
             (long)getpid());
    load_cases(NK_TEST_SRCDIR "/fixtures/rules.cases");
    tests = calloc(nrcases, sizeof(*tests));
    for (size_t i = 0; i < nrcases; i++) {
        tests[i].name = rcases[i].name;
        tests[i].test_func = run_case;
        tests[i].initial_state = &rcases[i];
    }
    rc = _cmocka_run_group_tests("kit_rules", tests, nrcases, NULL, NULL);
    for (size_t i = 0; i < nrcases; i++) {
        for (size_t j = 0; j < rcases[i].n; j++)
            free(rcases[i].steps[j]);
        free(rcases[i].steps);
    }
    free(rcases);
    free(tests);
    return rc;
}
