/*
 * fuzz_framed.c -- the framed plugin's decoder at every length width (1, 2,
 * 4, 8) and both byte orders, over TCP and UDP.
 *
 * Input: byte 0 chooses the framing (bits 0-1: width 1/2/4/8, bit 2: big
 * endian, bit 3: UDP), byte 1 max_frame (its value, in bytes: small limits
 * reach the refusal path); the rest is the stream (TCP) or one datagram.
 * Each message decoded is also encoded again and decoded back to the same
 * payload length.
 */
#include "fuzz_plugin.h"

static void
roundtrip(size_t payload_len)
{
    uint8_t buf[NK_HDR_MAX * 2 + 64];
    struct nk_wrap w;
    struct nk_frame f;
    long rc;

    if (payload_len > 64)
        payload_len = 64;
    memset(&w, 0, sizeof(w));
    if (fz.p->encode(fz.inst, payload_len, &w) != 0)
        return;
    memcpy(buf, w.head, w.head_len);
    memset(buf + w.head_len, 'p', payload_len);
    memcpy(buf + w.head_len + payload_len, w.tail, w.tail_len);
    memset(&f, 0, sizeof(f));
    rc = fz.p->decode(fz.inst, buf, w.head_len + payload_len + w.tail_len, &f);
    FZ_CHECK(rc == (long)(w.head_len + payload_len + w.tail_len));
    FZ_CHECK(f.payload_len == payload_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const widths[] = {"1", "2", "4", "8"};
    char max_frame[8];
    struct fz_opt over[3];
    unsigned transport;

    if (size < 2)
        return 0;
    transport = (data[0] & 8) ? NK_TRANSPORT_UDP : NK_TRANSPORT_TCP;
    snprintf(max_frame, sizeof(max_frame), "%u", data[1]);
    over[0] = (struct fz_opt){"length_bytes", widths[data[0] & 3], 1};
    over[1] = (struct fz_opt){"byte_order", (data[0] & 4) ? "big" : "little",
                              (data[0] & 4) ? 3 : 6};
    over[2] = (struct fz_opt){"max_frame", max_frame, strlen(max_frame)};
    FZ_CHECK(fz_create(over, 3, transport) == 0);
    if (transport == NK_TRANSPORT_UDP)
        fz_serve_datagram(data + 2, size - 2);
    else
        (void)fz_serve_stream(data + 2, size - 2, transport);
    roundtrip(size);
    fz_destroy();
    return 0;
}
