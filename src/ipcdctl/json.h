/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * json.h - the little JSON that ipcdctl writes: a streaming writer that
 * places the commas, a string escaper, and a validator used by the tests.
 *
 * Strings are escaped so that the output is always valid JSON whatever the
 * bytes: '"', '\\' and control characters get their escapes, and every
 * byte >= 0x80 becomes \u00XX (read as Latin-1), so invalid UTF-8 from a
 * peer can never make the document unparsable.  Client and topic names
 * are plain ASCII anyway.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_DEPTH_MAX 16

struct json {
        FILE *f;
        unsigned depth;
        bool need_comma[JSON_DEPTH_MAX];
};

void json_init(struct json *j, FILE *f);

/* key is NULL inside arrays and for the top-level value. */
void json_begin_object(struct json *j, const char *key);
void json_end_object(struct json *j);
void json_begin_array(struct json *j, const char *key);
void json_end_array(struct json *j);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_bool(struct json *j, const char *key, bool v);
/* A finite number with `decimals` digits after the point (0 if v is not
 * finite: JSON has no NaN).  ipcdctl never calls setlocale(), so the
 * point is always '.'. */
void json_fixed(struct json *j, const char *key, double v, int decimals);
/* n bytes of s (no NUL needed). */
void json_strn(struct json *j, const char *key, const char *s, size_t n);
void json_str(struct json *j, const char *key, const char *s);

/* Write s[0..n) as a JSON string literal, quotes included. */
void json_escape(FILE *f, const char *s, size_t n);

/* 0 if buf[0..n) holds exactly one JSON value with optional white space
 * around it, -EINVAL otherwise.  For tests. */
int json_validate(const char *buf, size_t n);
