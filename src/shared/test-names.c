/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-names.c - unit test of names.c: name and pattern syntax, matching. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/names.h"
#include "shared/test-util.h"

/* A string of n copies of c (n < 256). */
static const char *repeat(char c, size_t n)
{
        static char buf[256];

        memset(buf, c, n);
        buf[n] = '\0';
        return buf;
}

/* Into buf: n copies of c, then suffix. */
static const char *repeat_then(char *buf, char c, size_t n, const char *suffix)
{
        memset(buf, c, n);
        strcpy(buf + n, suffix);
        return buf;
}

static void test_names(void)
{
        char buf[256];

        CHECK(name_is_valid("a"));
        CHECK(name_is_valid("sensor.temp_1-x"));
        CHECK(name_is_valid("robot/arm/left"));
        CHECK(name_is_valid("A-Z.a_z/0-9"));
        CHECK(name_is_valid(repeat('x', 63)));
        CHECK(!name_is_valid(repeat('x', 64)));
        CHECK(!name_is_valid(repeat('x', 200)));
        CHECK(!name_is_valid(""));
        CHECK(!name_is_valid(NULL));
        CHECK(!name_is_valid("a b"));
        CHECK(!name_is_valid(" a"));
        CHECK(!name_is_valid("a\n"));
        CHECK(!name_is_valid("a\t"));
        CHECK(!name_is_valid("a*"));
        CHECK(!name_is_valid("*"));
        CHECK(!name_is_valid("a:b"));
        CHECK(!name_is_valid("a@b"));
        CHECK(!name_is_valid("caf\xc3\xa9"));
        CHECK(!name_is_valid("a\\b"));
        CHECK(!name_is_valid("a%b"));

        /* Counted strings: exactly n bytes, no NUL needed, none allowed. */
        CHECK(name_is_valid_n("abcdef", 3));
        CHECK(!name_is_valid_n("abc", 0));
        CHECK(!name_is_valid_n("a\0b", 3));
        CHECK(!name_is_valid_n(NULL, 3));
        memset(buf, 'y', sizeof(buf));
        CHECK(name_is_valid_n(buf, 63));
        CHECK(!name_is_valid_n(buf, 64));
}

static void test_patterns(void)
{
        char buf[256];

        CHECK(topic_pattern_is_valid("*"));
        CHECK(topic_pattern_is_valid("a"));
        CHECK(topic_pattern_is_valid("a/*"));
        CHECK(topic_pattern_is_valid("a/b/*"));
        CHECK(topic_pattern_is_valid("sensors.all/temp"));
        CHECK(!topic_pattern_is_valid(NULL));
        CHECK(!topic_pattern_is_valid(""));
        CHECK(!topic_pattern_is_valid("/*"));
        CHECK(!topic_pattern_is_valid("**"));
        CHECK(!topic_pattern_is_valid("a*"));
        CHECK(!topic_pattern_is_valid("a/**"));
        CHECK(!topic_pattern_is_valid("*/a"));
        CHECK(!topic_pattern_is_valid("a/*/b"));
        CHECK(!topic_pattern_is_valid("a/*b"));
        CHECK(!topic_pattern_is_valid("a /*"));
        CHECK(!topic_pattern_is_valid("* "));

        /* Length: a pattern is at most 63 bytes, like a name (it travels
         * in the same 63-byte field). */
        repeat_then(buf, 'p', 61, "/*");
        CHECK(strlen(buf) == 63);
        CHECK(topic_pattern_is_valid(buf));
        repeat_then(buf, 'p', 62, "/*");
        CHECK(strlen(buf) == 64);
        CHECK(!topic_pattern_is_valid(buf));
        /* A long string whose bytes 62..63 happen to be the wildcard suffix. */
        repeat_then(buf, 'p', 62, "/*tail");
        CHECK(!topic_pattern_is_valid(buf));
        CHECK(topic_pattern_is_valid(repeat('t', 63)));
        CHECK(!topic_pattern_is_valid(repeat('t', 64)));
}

static void test_match(void)
{
        /* Exact. */
        CHECK(topic_pattern_match("a", "a"));
        CHECK(!topic_pattern_match("a", "b"));
        CHECK(!topic_pattern_match("a", "ab"));
        CHECK(!topic_pattern_match("a", "a/b"));
        CHECK(!topic_pattern_match("a/b", "a"));

        /* "*" matches every topic. */
        CHECK(topic_pattern_match("*", "a"));
        CHECK(topic_pattern_match("*", "a/b/c"));

        /* a/ wildcard: everything below a, at any depth, not a itself. */
        CHECK(!topic_pattern_match("a/*", "a"));
        CHECK(!topic_pattern_match("a/*", "a/"));
        CHECK(topic_pattern_match("a/*", "a/b"));
        CHECK(topic_pattern_match("a/*", "a/b/c"));
        CHECK(topic_pattern_match("a/*", "a/b/c/d/e"));
        CHECK(!topic_pattern_match("a/*", "ab"));
        CHECK(!topic_pattern_match("a/*", "ab/c"));
        CHECK(!topic_pattern_match("a/*", "b/a/c"));
        CHECK(!topic_pattern_match("a/*", "x"));

        CHECK(topic_pattern_match("a/b/*", "a/b/c"));
        CHECK(topic_pattern_match("a/b/*", "a/b/c/d"));
        CHECK(!topic_pattern_match("a/b/*", "a/b"));
        CHECK(!topic_pattern_match("a/b/*", "a/bc"));
        CHECK(!topic_pattern_match("a/b/*", "a/bc/d"));
        CHECK(!topic_pattern_match("a/b/*", "a/c/d"));
        CHECK(!topic_pattern_match("a/b/*", "a"));
}

static void test_broad(void)
{
        CHECK(topic_pattern_is_broad("*"));
        CHECK(topic_pattern_is_broad("a/*"));
        CHECK(topic_pattern_is_broad("sensors/*"));
        CHECK(!topic_pattern_is_broad("a/b/*"));
        CHECK(!topic_pattern_is_broad("a"));
        CHECK(!topic_pattern_is_broad("a/b"));
}

int main(void)
{
        test_names();
        test_patterns();
        test_match();
        test_broad();
        return test_result("test-names");
}
