/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-json.c - ipcdctl's JSON writer produces what a JSON parser accepts,
 * whatever bytes the strings hold; the validator refuses broken documents.
 *
 *   test-json               run the tests
 *   test-json --validate    exit 0 if stdin is one JSON value (for scripts)
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcdctl/json.h"
#include "shared/test-util.h"

/* Run fn writing into a memory buffer; returns the text (caller frees). */
static char *capture(void (*fn)(FILE *f), size_t *len)
{
        char *buf = NULL;
        FILE *f = open_memstream(&buf, len);

        if (!f)
                abort();
        fn(f);
        fclose(f);
        return buf;
}

static void write_escape_all_bytes(FILE *f)
{
        char all[256];

        for (int i = 0; i < 256; i++)
                all[i] = (char)i;
        json_escape(f, all, sizeof(all));
}

static void write_document(FILE *f)
{
        struct json j;
        static const char weird[] = "a\"b\\c\n\x01\x7f\xff/é";

        json_init(&j, f);
        json_begin_object(&j, NULL);
        json_i64(&j, "pid", 42);
        json_str(&j, "version", "0.1.0");
        json_u64(&j, "big", UINT64_MAX);
        json_i64(&j, "neg", -7);
        json_bool(&j, "yes", true);
        json_begin_array(&j, "empty");
        json_end_array(&j);
        json_begin_array(&j, "clients");
        for (int i = 0; i < 3; i++) {
                json_begin_object(&j, NULL);
                json_u64(&j, "id", (uint64_t)i);
                json_strn(&j, "name", weird, sizeof(weird) - 1);
                json_end_object(&j);
        }
        json_end_array(&j);
        json_begin_object(&j, "counters");
        json_u64(&j, "routed", 1);
        json_end_object(&j);
        json_fixed(&j, "rate", 12.345, 1);
        json_fixed(&j, "zero", 0, 2);
        json_fixed(&j, "nan", NAN, 1);
        json_end_object(&j);
}

static void test_escape(void)
{
        size_t len;
        char *s = capture(write_escape_all_bytes, &len);

        CHECK(json_validate(s, len) == 0);
        /* Only printable ASCII stays as is. */
        for (size_t i = 0; i < len; i++)
                CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f);
        CHECK(strstr(s, "\\u0000") != NULL);
        CHECK(strstr(s, "\\u00ff") != NULL);
        CHECK(strstr(s, "\\\"") != NULL);
        CHECK(strstr(s, "\\\\") != NULL);
        CHECK(strstr(s, "\\n") != NULL);
        free(s);
}

static void test_document(void)
{
        size_t len;
        char *s = capture(write_document, &len);

        CHECK(json_validate(s, len) == 0);
        CHECK(strncmp(s, "{\"pid\":42,\"version\":\"0.1.0\",\"big\":18446744073709551615,", 55) == 0);
        CHECK(strstr(s, "\"empty\":[]") != NULL);
        CHECK(strstr(s, "},{\"id\":1,") != NULL);
        CHECK(strstr(s, "\"counters\":{\"routed\":1},") != NULL);
        CHECK(strstr(s, "\"rate\":12.3,\"zero\":0.00,\"nan\":0.0}") != NULL);
        CHECK(len > 0 && s[len - 1] == '\n');
        free(s);
}

static void test_validate(void)
{
        static const char *const good[] = {
                "{}", "[]", " 0 ", "-1.5e+3", "\"\\u00e9\"", "true", "null",
                "{\"a\":[1,2,{\"b\":false}],\"c\":\"x\"}\n",
        };
        static const char *const bad[] = {
                "", "{", "[1,]", "{\"a\"}", "{\"a\":1,}", "01", "1.", "\"\\x\"", "\"a",
                "{} {}", "tru", "[1 2]", "{1:2}", "\"\x01\"", "-", "+1",
        };

        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                CHECK(json_validate(good[i], strlen(good[i])) == 0);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                if (json_validate(bad[i], strlen(bad[i])) != -EINVAL) {
                        fprintf(stderr, "accepted bad JSON: '%s'\n", bad[i]);
                        failures++;
                }
        }
}

static int validate_stdin(void)
{
        char *buf = NULL;
        size_t len = 0, cap = 0, n;

        for (;;) {
                if (len == cap) {
                        char *nb;

                        cap = cap ? cap * 2 : 65536;
                        nb = realloc(buf, cap);
                        if (!nb)
                                return 2;
                        buf = nb;
                }
                n = fread(buf + len, 1, cap - len, stdin);
                if (n == 0)
                        break;
                len += n;
        }
        n = json_validate(buf ? buf : "", len) == 0;
        free(buf);
        if (!n) {
                fprintf(stderr, "test-json: not one valid JSON value\n");
                return 1;
        }
        return 0;
}

int main(int argc, char **argv)
{
        if (argc > 1 && strcmp(argv[1], "--validate") == 0)
                return validate_stdin();
        test_escape();
        test_document();
        test_validate();
        return test_result("test-json");
}
