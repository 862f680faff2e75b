/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "shared/names.h"

static bool name_char_ok(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '/' || c == '-';
}

bool name_is_valid_n(const char *s, size_t n)
{
        if (!s || n == 0 || n > NAME_MAX_LEN)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!name_char_ok(s[i]))
                        return false;
        return true;
}

bool name_is_valid(const char *s)
{
        if (!s)
                return false;
        return name_is_valid_n(s, strnlen(s, NAME_MAX_LEN + 1));
}

bool topic_pattern_is_valid(const char *s)
{
        size_t n;

        if (!s)
                return false;
        n = strnlen(s, NAME_MAX_LEN + 1);
        if (n > NAME_MAX_LEN)
                return false;
        if (n == 1 && s[0] == '*')
                return true;
        if (n >= 3 && s[n - 1] == '*' && s[n - 2] == '/')
                return name_is_valid_n(s, n - 2);
        return name_is_valid_n(s, n);
}

bool topic_pattern_match(const char *pattern, const char *topic)
{
        size_t pn = strlen(pattern);

        if (pn == 1 && pattern[0] == '*')
                return true;
        if (pn >= 2 && pattern[pn - 1] == '*' && pattern[pn - 2] == '/')
                /* "a/b/" then "*": topic starts with "a/b/" and has more after it. */
                return strncmp(pattern, topic, pn - 1) == 0 && topic[pn - 1] != '\0';
        return strcmp(pattern, topic) == 0;
}

bool topic_pattern_is_broad(const char *pattern)
{
        size_t pn = strlen(pattern);

        if (pn == 1 && pattern[0] == '*')
                return true;
        if (pn >= 3 && pattern[pn - 1] == '*' && pattern[pn - 2] == '/')
                return memchr(pattern, '/', pn - 2) == NULL;
        return false;
}
