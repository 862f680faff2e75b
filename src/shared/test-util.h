/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-util.h - what every unit test under src/ writes the same way:
 *
 *   CHECK(cond)         report a false condition with its place and count
 *                       it; with TEST_CHECK_EXITS defined before this
 *                       header, end the test at once instead (for tests
 *                       whose later steps build on the earlier ones)
 *   CHECK_STR(a, b)     the two strings are equal (NULL is never equal)
 *   CHECK_R(expr, want) expr returns want; prints the errno name otherwise
 *   test_unshare_ipc()  run again in a private IPC namespace, once
 *   test_result(name)   main's exit status: 1 with a count, or 0 and "ok"
 *
 * Included by test programs only, once each: it defines the static
 * failure counter.
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/macro.h"

static _unused_ int failures;

#ifdef TEST_CHECK_EXITS
#define TEST_FAILED() exit(EXIT_FAILURE)
#else
#define TEST_FAILED() (failures++)
#endif

#define CHECK(cond)                                                                                \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
                        TEST_FAILED();                                                             \
                }                                                                                  \
        } while (0)

#define CHECK_STR(a, b)                                                                            \
        do {                                                                                       \
                const char *_a = (a), *_b = (b);                                                   \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                                           \
                        fprintf(stderr, "%s:%d: check failed: \"%s\" != \"%s\"\n", __FILE__,       \
                                __LINE__, _a ? _a : "(null)", _b ? _b : "(null)");                 \
                        TEST_FAILED();                                                             \
                }                                                                                  \
        } while (0)

#define CHECK_R(expr, want)                                                                        \
        do {                                                                                       \
                int r_ = (expr);                                                                   \
                if (r_ != (want)) {                                                                \
                        fprintf(stderr, "%s:%d: %s = %d (%s), expected %d\n", __FILE__, __LINE__,  \
                                #expr, r_, strerror(r_ < 0 ? -r_ : 0), (want));                    \
                        TEST_FAILED();                                                             \
                }                                                                                  \
        } while (0)

/* Run this test again under `unshare --ipc` (marked by IPCD_TEST_UNSHARED
 * so it happens once).  Where unshare cannot run, execlp returns and the
 * test goes on here: it removes every object it creates. */
static inline void test_unshare_ipc(char **argv)
{
        if (getenv("IPCD_TEST_UNSHARED"))
                return;
        setenv("IPCD_TEST_UNSHARED", "1", 1);
        execlp("unshare", "unshare", "--ipc", argv[0], (char *)NULL);
}

/* What main returns: the count of failed checks on stderr and 1, or "ok". */
static inline int test_result(const char *name)
{
        if (failures) {
                fprintf(stderr, "%s: %d check(s) failed\n", name, failures);
                return EXIT_FAILURE;
        }
        printf("%s: ok\n", name);
        return EXIT_SUCCESS;
}
