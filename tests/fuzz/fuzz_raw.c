/*
 * fuzz_raw.c -- the raw plugin: any prefix and exit word (NUL bytes
 * included), any chunk, over TCP and UDP.
 *
 * Input: byte 0 bit 0 chooses UDP, byte 1 the prefix's length and byte 2
 * the exit word's (each mod 32), taken from the bytes that follow; the rest
 * is one chunk.
 */
#include "fuzz_plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_opt over[2];
    size_t np, nx, off = 3;
    unsigned transport;

    if (size < 3)
        return 0;
    transport = (data[0] & 1) ? NK_TRANSPORT_UDP : NK_TRANSPORT_TCP;
    np = data[1] % 32;
    nx = data[2] % 32;
    if (size < off + np + nx)
        return 0;
    over[0] = (struct fz_opt){"prefix", (const char *)data + off, np};
    over[1] = (struct fz_opt){"exit_word", (const char *)data + off + np, nx};
    off += np + nx;
    FZ_CHECK(fz_create(over, 2, transport) == 0);
    if (transport == NK_TRANSPORT_UDP) {
        fz_serve_datagram(data + off, size - off);
    } else if (size > off) {
        /* The whole chunk is one message: all of it is consumed. */
        FZ_CHECK(fz_serve_stream(data + off, size - off, transport) ==
                 size - off);
    }
    fz_destroy();
    return 0;
}
