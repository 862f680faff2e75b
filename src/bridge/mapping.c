/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mapping.c - local topics <-> NATS subjects, and the checks on what
 * comes in from NATS.  Pure functions (test-mapping.c).
 *
 * A topic's '/' becomes '.', behind subject_prefix: "robot/arm" with
 * prefix "site1" is "site1.robot.arm".  Back, a subject starting with the
 * import's strip prefix (by default subject_prefix) followed by '.' loses
 * it, and its '.' become '/'.  A '.' inside a topic name ("a/b.c") turns
 * into a subject separator: such a topic comes back as "a/b/c".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bridge/bridge.h"

int mapping_topic_to_subject(const char *prefix, const char *topic, char *out, size_t size)
{
        int n = snprintf(out, size, "%s%s%s", prefix, *prefix ? "." : "", topic);

        if (n < 0 || (size_t)n >= size)
                return -ENAMETOOLONG;
        for (char *p = out + strlen(prefix); *p; p++)
                if (*p == '/')
                        *p = '.';
        return 0;
}

int mapping_subject_to_topic(const char *strip, const char *subject, char *out, size_t size)
{
        size_t sl = strip ? strlen(strip) : 0;
        const char *s = subject;
        size_t n;

        if (sl && strncmp(subject, strip, sl) == 0 && subject[sl] == '.')
                s = subject + sl + 1;
        n = strlen(s);
        if (n >= size || n >= IPCD_NAME_MAX)
                return -EINVAL;
        for (size_t i = 0; i <= n; i++)
                out[i] = s[i] == '.' ? '/' : s[i];
        return ipcd_name_is_valid(out) ? 0 : -EINVAL;
}

/* ipcd's own matching: "*" everything, "x/" then "*" everything below x
 * at any depth, else the exact name. */
static bool pattern_match(const char *pat, const char *topic)
{
        size_t pl = strlen(pat);

        if (strcmp(pat, "*") == 0)
                return true;
        if (pl >= 2 && pat[pl - 2] == '/' && pat[pl - 1] == '*')
                return strncmp(pat, topic, pl - 1) == 0 && topic[pl - 1] != '\0';
        return strcmp(pat, topic) == 0;
}

int mapping_export_match(const struct bridge_config *cfg, const char *topic)
{
        for (size_t i = 0; i < cfg->nexports; i++)
                if (pattern_match(cfg->exports[i], topic))
                        return (int)i;
        return -1;
}

int mapping_parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
        uint64_t v = 0;

        if (!s || !*s || strlen(s) > 20)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
                        return -EINVAL;
                v = v * 10 + (uint64_t)(*p - '0');
        }
        if (v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

bool mapping_text_ok(const char *s, size_t size)
{
        size_t n = 0;

        if (!s)
                return true;
        for (; s[n]; n++)
                if (n + 1 >= size || s[n] < ' ' || s[n] > '~')
                        return false;
        return true;
}
