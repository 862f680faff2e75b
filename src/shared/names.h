/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * names.h - syntax of client names, topic names and subscription patterns.
 *
 * A name is 1-63 bytes of [A-Za-z0-9._/-].  A subscription pattern is a
 * topic name, a topic name followed by "/" and "*" (every topic below that
 * prefix at any depth, not the prefix itself), or "*" alone.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define NAME_MAX_LEN 63

bool name_is_valid(const char *s);
/* Same check on a counted string (no NUL needed). */
bool name_is_valid_n(const char *s, size_t n);
bool topic_pattern_is_valid(const char *s);
/* true if topic matches pattern (both valid). */
bool topic_pattern_match(const char *pattern, const char *topic);
/* "*" or a first-level wildcard ("x/" then "*") where x has no '/'. */
bool topic_pattern_is_broad(const char *pattern);
