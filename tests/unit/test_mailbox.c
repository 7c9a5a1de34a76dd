/*
 * test_mailbox.c -- cross-worker mail (core/serve/mailbox.c): order kept
 * from one thread, nothing lost between two, the eventfd readable exactly
 * while mail waits, and the byte limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <string.h>

#include "base/alloc.h"
#include "serve/mailbox.h"

#include <netkit/error.h>

static int
readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, 0) == 1;
}

static void
test_mailbox_order(void **state)
{
    struct nk__mailbox mb;
    struct nk__mail *m;
    int i = 0;

    (void)state;
    assert_int_equal(nk__mailbox_init(&mb), 0);
    assert_false(readable(mb.efd));
    for (uint64_t k = 0; k < 10; k++)
        assert_int_equal(
            nk__mailbox_put(&mb, nk__mail_new(NK_MAIL_SEND, 0, k, 0)), 0);
    assert_true(readable(mb.efd));
    for (m = nk__mailbox_take(&mb); m != NULL; i++) {
        struct nk__mail *next = m->next;
        assert_int_equal(m->sid, (uint64_t)i);
        nk__free(m);
        m = next;
    }
    assert_int_equal(i, 10);
    assert_false(readable(mb.efd));
    assert_null(nk__mailbox_take(&mb));
    nk__mailbox_fini(&mb);
}

static void
test_mailbox_limit(void **state)
{
    struct nk__mailbox mb;
    struct nk__mail *m;

    (void)state;
    assert_int_equal(nk__mailbox_init(&mb), 0);
    m = nk__mail_new(NK_MAIL_POST, 0, 0, NK_MAILBOX_MAX / 2);
    assert_int_equal(nk__mailbox_put(&mb, m), 0);
    m = nk__mail_new(NK_MAIL_POST, 0, 0, NK_MAILBOX_MAX / 2);
    assert_int_equal(nk__mailbox_put(&mb, m), NK_EAGAIN); /* freed */
    nk__mailbox_fini(&mb);                                /* frees what waits */
}

#define SENDERS 4
#define EACH    20000

static void *
sender(void *arg)
{
    struct nk__mailbox *mb = arg;

    for (int i = 0; i < EACH; i++) {
        struct nk__mail *m;
        while ((m = nk__mail_new(NK_MAIL_SEND, 0, (uint64_t)i, 0)) == NULL)
            ;
        nk__mailbox_put(mb, m);
    }
    return NULL;
}

/* Four threads post while one takes: everything arrives, and each
 * sender's mail in its order (the per-sender counters only grow). */
static void
test_mailbox_threads(void **state)
{
    struct nk__mailbox mb;
    pthread_t t[SENDERS];
    long got = 0;

    (void)state;
    assert_int_equal(nk__mailbox_init(&mb), 0);
    for (int i = 0; i < SENDERS; i++)
        pthread_create(&t[i], NULL, sender, &mb);
    while (got < (long)SENDERS * EACH) {
        struct pollfd p = {.fd = mb.efd, .events = POLLIN};
        struct nk__mail *m;
        assert_int_equal(poll(&p, 1, 10000), 1);
        for (m = nk__mailbox_take(&mb); m != NULL; got++) {
            struct nk__mail *next = m->next;
            nk__free(m);
            m = next;
        }
    }
    for (int i = 0; i < SENDERS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(got, (long)SENDERS * EACH);
    assert_null(nk__mailbox_take(&mb));
    nk__mailbox_fini(&mb);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mailbox_order),
        cmocka_unit_test(test_mailbox_limit),
        cmocka_unit_test(test_mailbox_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
