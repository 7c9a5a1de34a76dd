/*
 * fuzz_value.c -- the value parsers every option goes through (value.c).
 *
 * Input: byte 0 picks the parser, the rest is the text (NUL-terminated
 * here; for nk__unquote and nk__parse_option NULs may be inside).
 * Invariants: a refusal is a short phrase on one line; an accepted number
 * is in its range; an unquoted value is no longer than its source and is
 * NUL-terminated.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "config/value.h"

#include "fuzz_check.h"

static void
check_phrase(const char *why)
{
    if (why == NULL)
        return;
    FZ_CHECK(why[0] != '\0');
    FZ_CHECK(strlen(why) < 192);
    FZ_CHECK(strchr(why, '\n') == NULL);
}

static const struct nk_option opts[] = {
    {.name = "s", .type = NK_OPT_STRING, .def = ""},
    {.name = "i", .type = NK_OPT_INT, .def = "0", .min = -5, .max = 70000},
    {.name = "z", .type = NK_OPT_SIZE, .def = "0", .min = 0, .max = 1LL << 30},
    {.name = "b", .type = NK_OPT_BOOL, .def = "0"},
    {.name = "e", .type = NK_OPT_ENUM, .def = "1", .choices = "1|2|4|8"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;
    const char *why;
    long long n;
    double d;
    int b;

    if (size < 1)
        return 0;
    text = malloc(size);
    FZ_CHECK(text != NULL);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 8) {
    case 0:
        why = nk__parse_int(text, -1000, 65535, &n);
        check_phrase(why);
        FZ_CHECK(why != NULL || (n >= -1000 && n <= 65535));
        break;
    case 1:
        why = nk__parse_size(text, 0, 1LL << 40, &n);
        check_phrase(why);
        FZ_CHECK(why != NULL || (n >= 0 && n <= 1LL << 40));
        break;
    case 2:
        check_phrase(nk__parse_bool(text, &b));
        break;
    case 3:
        why = nk__parse_enum(text, "tcp|udp|any", &n);
        check_phrase(why);
        FZ_CHECK(why != NULL || (n >= 0 && n <= 2));
        break;
    case 4:
        why = nk__parse_seconds(text, &d);
        check_phrase(why);
        FZ_CHECK(why != NULL || (d >= 0 && d <= 1e6));
        break;
    case 5: {
        char *out = NULL;
        size_t len = 0;
        why = nk__unquote(text, &out, &len);
        check_phrase(why);
        if (why == NULL) {
            FZ_CHECK(len <= strlen(text));
            FZ_CHECK(out[len] == '\0');
            nk__free(out);
        }
        break;
    }
    case 6: {
        struct nk_value v = {0};
        const struct nk_option *o = &opts[(size > 1 ? data[1] : 0) % 5];
        why = nk__parse_option(o, text, size - 1, &v);
        check_phrase(why);
        if (why == NULL) {
            FZ_CHECK(v.str != NULL && v.len == size - 1);
            FZ_CHECK(v.str[v.len] == '\0');
            if (o->type == NK_OPT_INT || o->type == NK_OPT_SIZE)
                FZ_CHECK(v.num >= o->min && v.num <= o->max);
            nk__free((char *)v.str);
        }
        break;
    }
    default: {
        size_t half = strlen(text) / 2;
        char *b2 = text + half;
        char a[64];
        int dist;
        snprintf(a, sizeof(a), "%.*s", (int)(half < 63 ? half : 63), text);
        if (strlen(b2) > 63)
            b2[63] = '\0';
        dist = nk__edit_distance(a, b2);
        FZ_CHECK(dist >= 0);
        FZ_CHECK((size_t)dist <=
                 (strlen(a) > strlen(b2) ? strlen(a) : strlen(b2)));
        break;
    }
    }
    free(text);
    return 0;
}
