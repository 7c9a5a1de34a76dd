/*
 * test_kit_tls.c -- the test kit's tls_info (ABI 1.2), with the tlsinfo
 * fixture (tests/fixtures/tlsinfo.c) that test_tls.py runs against the
 * real host: NK_ENOENT for a session not over TLS, the handshake's outcome
 * as nkt_set_tls gave it otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <netkit/testkit.h>

#include "tlsinfo.c"

static void
test_kit_tls_absent(void **state)
{
    struct nkt *k = nkt_start(nk_plugin_entry(), NULL);
    struct nk_session *s = nkt_open(k);

    (void)state;
    assert_int_equal(nkt_feed_str(s, "who\n"), 1);
    nkt_expect_sent(s, "no tls (no such file or directory)"); /* NK_ENOENT */
    nkt_free(k);
}

static void
test_kit_tls_settled(void **state)
{
    static const struct nk_tls_info info = {
        .size = sizeof(info),
        .version = "TLSv1.3",
        .cipher = "TLS_AES_128_GCM_SHA256",
        .alpn = "x-nk",
        .sni = "localhost",
        .peer_subject = "CN=alice",
        .resumed = 1,
    };
    struct nkt *k = nkt_start(nk_plugin_entry(), NULL);
    struct nk_session *s = nkt_open(k);

    (void)state;
    nkt_set_tls(s, &info);
    assert_int_equal(nkt_feed_str(s, "who\n"), 1);
    nkt_expect_sent(s, "TLSv1.3 alpn=x-nk sni=localhost subject=CN=alice "
                       "resumed=1");
    nkt_free(k);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kit_tls_absent),
        cmocka_unit_test(test_kit_tls_settled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
