/*
 * fuzz_check.h -- the one invariant check every harness uses: a broken
 * invariant is a crash libFuzzer records, with the file:line that says
 * which.
 */
#ifndef NK_FUZZ_CHECK_H
#define NK_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FZ_CHECK(cond)                                                         \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,         \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif /* NK_FUZZ_CHECK_H */
