/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ipcdctl/json.h"

void json_init(struct json *j, FILE *f)
{
        memset(j, 0, sizeof(*j));
        j->f = f;
}

void json_escape(FILE *f, const char *s, size_t n)
{
        putc('"', f);
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];

                switch (c) {
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                case '\r':
                        fputs("\\r", f);
                        break;
                case '\t':
                        fputs("\\t", f);
                        break;
                case '\b':
                        fputs("\\b", f);
                        break;
                case '\f':
                        fputs("\\f", f);
                        break;
                default:
                        if (c < 0x20 || c >= 0x7f)
                                fprintf(f, "\\u%04x", c);
                        else
                                putc(c, f);
                }
        }
        putc('"', f);
}

/* Comma and key before a value at the current depth. */
static void json_prefix(struct json *j, const char *key)
{
        if (j->need_comma[j->depth])
                putc(',', j->f);
        j->need_comma[j->depth] = true;
        if (key) {
                json_escape(j->f, key, strlen(key));
                putc(':', j->f);
        }
}

static void json_open(struct json *j, const char *key, char c)
{
        json_prefix(j, key);
        putc(c, j->f);
        if (j->depth + 1 < JSON_DEPTH_MAX)
                j->depth++;
        j->need_comma[j->depth] = false;
}

static void json_close(struct json *j, char c)
{
        putc(c, j->f);
        if (j->depth > 0)
                j->depth--;
        if (j->depth == 0)
                putc('\n', j->f);
}

void json_begin_object(struct json *j, const char *key)
{
        json_open(j, key, '{');
}

void json_end_object(struct json *j)
{
        json_close(j, '}');
}

void json_begin_array(struct json *j, const char *key)
{
        json_open(j, key, '[');
}

void json_end_array(struct json *j)
{
        json_close(j, ']');
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
        json_prefix(j, key);
        fprintf(j->f, "%" PRIu64, v);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
        json_prefix(j, key);
        fprintf(j->f, "%" PRId64, v);
}

void json_fixed(struct json *j, const char *key, double v, int decimals)
{
        json_prefix(j, key);
        if (!isfinite(v))
                v = 0;
        fprintf(j->f, "%.*f", decimals, v);
}

void json_bool(struct json *j, const char *key, bool v)
{
        json_prefix(j, key);
        fputs(v ? "true" : "false", j->f);
}

void json_strn(struct json *j, const char *key, const char *s, size_t n)
{
        json_prefix(j, key);
        json_escape(j->f, s, n);
}

void json_str(struct json *j, const char *key, const char *s)
{
        json_strn(j, key, s, strlen(s));
}

/* ------------------------------------------------------------------ */
/* Validator: recursive descent over RFC 8259, depth-limited.          */

struct parser {
        const char *p, *end;
        unsigned depth;
};

static void skip_ws(struct parser *ps)
{
        while (ps->p < ps->end &&
               (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
                ps->p++;
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
        return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int parse_value(struct parser *ps);

static int parse_literal(struct parser *ps, const char *lit)
{
        size_t n = strlen(lit);

        if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0)
                return -EINVAL;
        ps->p += n;
        return 0;
}

static int parse_string(struct parser *ps)
{
        if (ps->p >= ps->end || *ps->p != '"')
                return -EINVAL;
        ps->p++;
        while (ps->p < ps->end) {
                unsigned char c = (unsigned char)*ps->p++;

                if (c == '"')
                        return 0;
                if (c < 0x20)
                        return -EINVAL;
                if (c != '\\')
                        continue;
                if (ps->p >= ps->end)
                        return -EINVAL;
                c = (unsigned char)*ps->p++;
                if (c == 'u') {
                        if (ps->end - ps->p < 4)
                                return -EINVAL;
                        for (int i = 0; i < 4; i++)
                                if (!is_hex(ps->p[i]))
                                        return -EINVAL;
                        ps->p += 4;
                } else if (!strchr("\"\\/bfnrt", c) || c == '\0') {
                        return -EINVAL;
                }
        }
        return -EINVAL;
}

static int parse_number(struct parser *ps)
{
        if (ps->p < ps->end && *ps->p == '-')
                ps->p++;
        if (ps->p >= ps->end || !is_digit(*ps->p))
                return -EINVAL;
        if (*ps->p == '0')
                ps->p++;
        else
                while (ps->p < ps->end && is_digit(*ps->p))
                        ps->p++;
        if (ps->p < ps->end && *ps->p == '.') {
                ps->p++;
                if (ps->p >= ps->end || !is_digit(*ps->p))
                        return -EINVAL;
                while (ps->p < ps->end && is_digit(*ps->p))
                        ps->p++;
        }
        if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
                ps->p++;
                if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
                        ps->p++;
                if (ps->p >= ps->end || !is_digit(*ps->p))
                        return -EINVAL;
                while (ps->p < ps->end && is_digit(*ps->p))
                        ps->p++;
        }
        return 0;
}

static int parse_container(struct parser *ps, char close, bool object)
{
        int r;

        if (++ps->depth > 256)
                return -EINVAL;
        ps->p++; /* the opening bracket */
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == close) {
                ps->p++;
                ps->depth--;
                return 0;
        }
        for (;;) {
                skip_ws(ps);
                if (object) {
                        r = parse_string(ps);
                        if (r < 0)
                                return r;
                        skip_ws(ps);
                        if (ps->p >= ps->end || *ps->p != ':')
                                return -EINVAL;
                        ps->p++;
                }
                r = parse_value(ps);
                if (r < 0)
                        return r;
                skip_ws(ps);
                if (ps->p >= ps->end)
                        return -EINVAL;
                if (*ps->p == ',') {
                        ps->p++;
                        continue;
                }
                if (*ps->p != close)
                        return -EINVAL;
                ps->p++;
                ps->depth--;
                return 0;
        }
}

static int parse_value(struct parser *ps)
{
        skip_ws(ps);
        if (ps->p >= ps->end)
                return -EINVAL;
        switch (*ps->p) {
        case '{':
                return parse_container(ps, '}', true);
        case '[':
                return parse_container(ps, ']', false);
        case '"':
                return parse_string(ps);
        case 't':
                return parse_literal(ps, "true");
        case 'f':
                return parse_literal(ps, "false");
        case 'n':
                return parse_literal(ps, "null");
        default:
                return parse_number(ps);
        }
}

int json_validate(const char *buf, size_t n)
{
        struct parser ps = { .p = buf, .end = buf + n };
        int r;

        r = parse_value(&ps);
        if (r < 0)
                return r;
        skip_ws(&ps);
        return ps.p == ps.end ? 0 : -EINVAL;
}
