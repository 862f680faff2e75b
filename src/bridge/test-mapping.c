/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-mapping.c - topics <-> subjects and header checks of ipcd-bridge. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/bridge.h"

static int failed;
#define CHECK(x)                                                                                   \
        do {                                                                                       \
                if (!(x)) {                                                                        \
                        fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #x);     \
                        failed = 1;                                                                \
                }                                                                                  \
        } while (0)

int main(void)
{
        char s[256], t[IPCD_NAME_MAX];
        char p0[] = "robot/*", p1[] = "status", p2[] = "*";
        char *pats[] = { p0, p1, p2 };
        struct bridge_config cfg = { .exports = pats, .nexports = 2 };
        uint64_t v;

        CHECK(mapping_topic_to_subject("site1", "robot/arm", s, sizeof(s)) == 0);
        CHECK(strcmp(s, "site1.robot.arm") == 0);
        CHECK(mapping_topic_to_subject("", "robot/arm", s, sizeof(s)) == 0);
        CHECK(strcmp(s, "robot.arm") == 0);
        CHECK(mapping_topic_to_subject("site1", "robot/arm", s, 8) == -ENAMETOOLONG);

        CHECK(mapping_subject_to_topic("site1", "site1.robot.arm", t, sizeof(t)) == 0);
        CHECK(strcmp(t, "robot/arm") == 0);
        /* the prefix goes only as a whole first part */
        CHECK(mapping_subject_to_topic("site1", "site10.robot", t, sizeof(t)) == 0);
        CHECK(strcmp(t, "site10/robot") == 0);
        CHECK(mapping_subject_to_topic("", "a.b", t, sizeof(t)) == 0 && strcmp(t, "a/b") == 0);
        /* no valid ipcd topic: characters, length */
        CHECK(mapping_subject_to_topic("", "a.b$c", t, sizeof(t)) == -EINVAL);
        memset(s, 'x', 100);
        s[100] = '\0';
        CHECK(mapping_subject_to_topic("", s, t, sizeof(t)) == -EINVAL);

        CHECK(mapping_export_match(&cfg, "robot/arm") == 0);
        CHECK(mapping_export_match(&cfg, "robot/arm/left") == 0);
        CHECK(mapping_export_match(&cfg, "robot") == -1);
        CHECK(mapping_export_match(&cfg, "status") == 1);
        CHECK(mapping_export_match(&cfg, "status/x") == -1);
        cfg.nexports = 3;
        CHECK(mapping_export_match(&cfg, "anything") == 2);

        CHECK(mapping_parse_u64("1234", 5000, &v) == 0 && v == 1234);
        CHECK(mapping_parse_u64("5001", 5000, &v) == -EINVAL);
        CHECK(mapping_parse_u64("-1", 5000, &v) == -EINVAL);
        CHECK(mapping_parse_u64("", 5000, &v) == -EINVAL);
        CHECK(mapping_parse_u64("99999999999999999999999", UINT64_MAX, &v) == -EINVAL);
        CHECK(mapping_parse_u64("18446744073709551615", UINT64_MAX, &v) == 0 && v == UINT64_MAX);
        CHECK(mapping_parse_u64("18446744073709551616", UINT64_MAX, &v) == -EINVAL);
        CHECK(mapping_parse_u64("12a", 5000, &v) == -EINVAL);

        CHECK(mapping_text_ok("host-1.example", 64));
        CHECK(mapping_text_ok(NULL, 64));
        CHECK(!mapping_text_ok("a\nb", 64));
        CHECK(!mapping_text_ok("\x7f", 64));
        memset(s, 'h', 64);
        s[64] = '\0';
        CHECK(!mapping_text_ok(s, 64));
        s[63] = '\0';
        CHECK(mapping_text_ok(s, 64));
        return failed;
}
