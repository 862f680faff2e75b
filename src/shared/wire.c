/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/names.h"
#include "shared/wire.h"

_Static_assert(sizeof(struct wire_origin) == 256, "struct wire_origin is 256 bytes");

#define ALIGN8_(x) (((x) + (size_t)7) & ~(size_t)7)

/* ---- hex ---- */

void wire_hex_encode(const uint8_t *in, size_t n, char *out)
{
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[in[i] >> 4];
                out[2 * i + 1] = digits[in[i] & 15];
        }
        out[2 * n] = '\0';
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

int wire_hex_decode(const char *in, uint8_t *out, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                int hi = hexval(in[2 * i]), lo;

                if (hi < 0)
                        return -EINVAL;
                lo = hexval(in[2 * i + 1]);
                if (lo < 0)
                        return -EINVAL;
                out[i] = (uint8_t)(hi << 4 | lo);
        }
        return in[2 * n] == '\0' ? 0 : -EINVAL;
}

bool wire_token_equal(const uint8_t a[WIRE_TOKEN_SIZE], const uint8_t b[WIRE_TOKEN_SIZE])
{
        uint64_t a0, a1, b0, b1;

        /* Constant time: both words always compared, no early exit. */
        memcpy(&a0, a, 8);
        memcpy(&a1, a + 8, 8);
        memcpy(&b0, b, 8);
        memcpy(&b1, b + 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* ---- control lines ---- */

static bool is_hex32(const char *s, size_t n)
{
        if (n != WIRE_HEX_LEN)
                return false;
        for (size_t i = 0; i < n; i++)
                if (hexval(s[i]) < 0)
                        return false;
        return true;
}

int wire_ctl_format(const struct wire_ctl *req, char *buf, size_t size)
{
        int n;

        if (!is_hex32(req->nonce, strlen(req->nonce)) || !is_hex32(req->fifo, strlen(req->fifo)))
                return -EINVAL;
        switch (req->cmd) {
        case WIRE_CTL_REGISTER:
                if (req->pid <= 0 || (req->name[0] && !name_is_valid(req->name)))
                        return -EINVAL;
                n = snprintf(buf, size, "REGISTER %d %s %s %d %s\n", WIRE_VERSION, req->nonce,
                             req->fifo, (int)req->pid, req->name[0] ? req->name : "-");
                break;
        case WIRE_CTL_STATUS:
        case WIRE_CTL_POLICY:
                n = snprintf(buf, size, "%s %d %s %s\n",
                             req->cmd == WIRE_CTL_STATUS ? "STATUS" : "POLICY", WIRE_VERSION,
                             req->nonce, req->fifo);
                break;
        case WIRE_CTL_REEXEC:
                if (req->pid <= 0)
                        return -EINVAL;
                n = snprintf(buf, size, "REEXEC %d %s %s %d\n", WIRE_VERSION, req->nonce,
                             req->fifo, (int)req->pid);
                break;
        default:
                return -EINVAL;
        }
        if (n < 0 || (size_t)n >= size || n > WIRE_LINE_MAX)
                return -ENOBUFS;
        return n;
}

/* Split line into at most max fields separated by exactly one space. */
static int split_fields(const char *line, size_t len, const char *f[], size_t fl[], int max)
{
        int nf = 0;
        size_t start = 0;

        for (size_t i = 0; i <= len; i++) {
                if (i == len || line[i] == ' ') {
                        if (i == start || nf == max)
                                return -EBADMSG; /* empty field or too many */
                        f[nf] = line + start;
                        fl[nf] = i - start;
                        nf++;
                        start = i + 1;
                }
        }
        return nf;
}

static bool field_is(const char *f, size_t fl, const char *s)
{
        return fl == strlen(s) && memcmp(f, s, fl) == 0;
}

/* A pid field: decimal, no leading zero, 1 .. 2^30 - 1. */
static int parse_pid(const char *f, size_t fl, pid_t *ret)
{
        long pid = 0;

        if (fl > 10 || f[0] == '0')
                return -EBADMSG;
        for (size_t i = 0; i < fl; i++) {
                if (f[i] < '0' || f[i] > '9')
                        return -EBADMSG;
                pid = pid * 10 + (f[i] - '0');
        }
        if (pid <= 0 || pid > 0x3fffffff)
                return -EBADMSG;
        *ret = (pid_t)pid;
        return 0;
}

int wire_ctl_parse(const char *line, size_t len, struct wire_ctl *req)
{
        const char *f[6];
        size_t fl[6];
        int nf;

        memset(req, 0, sizeof(*req));
        if (len == 0 || len >= WIRE_LINE_MAX || memchr(line, '\0', len))
                return -EBADMSG;
        nf = split_fields(line, len, f, fl, 6);
        if (nf < 4)
                return -EBADMSG;
        if (!field_is(f[1], fl[1], "1"))
                return -EBADMSG;
        if (!is_hex32(f[2], fl[2]) || !is_hex32(f[3], fl[3]))
                return -EBADMSG;
        memcpy(req->nonce, f[2], WIRE_HEX_LEN);
        memcpy(req->fifo, f[3], WIRE_HEX_LEN);

        if (field_is(f[0], fl[0], "STATUS") && nf == 4) {
                req->cmd = WIRE_CTL_STATUS;
                return 0;
        }
        if (field_is(f[0], fl[0], "POLICY") && nf == 4) {
                req->cmd = WIRE_CTL_POLICY;
                return 0;
        }
        if (field_is(f[0], fl[0], "REEXEC") && nf == 5) {
                if (parse_pid(f[4], fl[4], &req->pid) < 0)
                        return -EBADMSG;
                req->cmd = WIRE_CTL_REEXEC;
                return 0;
        }
        if (field_is(f[0], fl[0], "REGISTER") && nf == 6) {
                if (parse_pid(f[4], fl[4], &req->pid) < 0)
                        return -EBADMSG;
                if (field_is(f[5], fl[5], "-"))
                        req->name[0] = '\0';
                else if (name_is_valid_n(f[5], fl[5]))
                        memcpy(req->name, f[5], fl[5]);
                else
                        return -EBADMSG;
                req->cmd = WIRE_CTL_REGISTER;
                return 0;
        }
        return -EBADMSG;
}

/* ---- reply FIFO records ---- */

int wire_rec_put(void *buf, size_t size, enum wire_rec_kind kind,
                 const uint8_t nonce[WIRE_NONCE_SIZE], const void *body, size_t body_len)
{
        struct wire_rec h = {
                .len = (uint32_t)(sizeof(h) + body_len),
                .version = WIRE_VERSION,
                .kind = (uint16_t)kind,
        };

        if (sizeof(h) + body_len > size || sizeof(h) + body_len > WIRE_REC_MAX)
                return -ENOBUFS;
        if (nonce)
                memcpy(h.nonce, nonce, WIRE_NONCE_SIZE);
        memcpy(buf, &h, sizeof(h));
        if (body_len)
                memcpy((uint8_t *)buf + sizeof(h), body, body_len);
        return (int)(sizeof(h) + body_len);
}

int wire_rec_check(const struct wire_rec *h)
{
        if (h->version != WIRE_VERSION)
                return -EBADMSG;
        if (h->len < sizeof(*h) || h->len > WIRE_REC_MAX)
                return -EBADMSG;
        if (h->kind < WIRE_REC_ERROR || h->kind > WIRE_REC_KIND_MAX)
                return -EBADMSG;
        return 0;
}

void wire_rec_body(void *dst, size_t size, const void *body, size_t body_len)
{
        size_t n = body_len < size ? body_len : size;

        if (n)
                memcpy(dst, body, n);
        if (n < size)
                memset((uint8_t *)dst + n, 0, size - n);
}

/* ---- a STATUS answer ---- */

static int status_append(void **v, size_t *n, size_t elem, const void *item)
{
        void *nv = realloc(*v, (*n + 1) * elem);

        if (!nv)
                return -ENOMEM;
        memcpy((char *)nv + *n * elem, item, elem);
        *v = nv;
        (*n)++;
        return 0;
}

int wire_status_set_add(struct wire_status_set *set, enum wire_rec_kind kind, const void *body)
{
        switch (kind) {
        case WIRE_REC_STATUS_DAEMON:
                memcpy(&set->daemon, body, sizeof(set->daemon));
                return 0;
        case WIRE_REC_STATUS_QUEUE:
                return status_append((void **)&set->queues, &set->nqueues, sizeof(*set->queues),
                                     body);
        case WIRE_REC_STATUS_CLIENT:
                return status_append((void **)&set->clients, &set->nclients,
                                     sizeof(*set->clients), body);
        case WIRE_REC_STATUS_RING:
                return status_append((void **)&set->rings, &set->nrings, sizeof(*set->rings), body);
        case WIRE_REC_STATUS_TOPIC:
                return status_append((void **)&set->topics, &set->ntopics, sizeof(*set->topics),
                                     body);
        case WIRE_REC_STATUS_CHANNEL:
                return status_append((void **)&set->channels, &set->nchannels,
                                     sizeof(*set->channels), body);
        default:
                return -EINVAL;
        }
}

void wire_status_set_free(struct wire_status_set *set)
{
        free(set->queues);
        free(set->clients);
        free(set->rings);
        free(set->topics);
        free(set->channels);
        memset(set, 0, sizeof(*set));
}

/* ---- queue records ---- */

/* Both kinds of queue record (wire_in, wire_out) are laid out alike: a
 * header of hsize bytes, nlen bytes of names padded to 8, then len bytes
 * of payload padded to 8 (which the last record of a message may omit). */

/* Write the header and payload of one record at buf+*off (capacity size)
 * and return where its names go; NULL when it does not fit. */
static uint8_t *rec_put(void *buf, size_t size, size_t *off, const void *h, size_t hsize,
                        size_t nlen, size_t len, const void *payload)
{
        size_t need = hsize + ALIGN8_(nlen) + ALIGN8_(len);
        uint8_t *p;

        if (*off > size || need > size - *off)
                return NULL;
        p = (uint8_t *)buf + *off;
        /* Only the padding is zeroed (the buffer may hold an earlier
         * message): the last word of the names and of the payload, which
         * the caller's nlen bytes and our len bytes then overwrite in
         * part.  Zeroing all of it wrote every payload twice. */
        memcpy(p, h, hsize);
        if (nlen)
                memset(p + hsize + ALIGN8_(nlen) - 8, 0, 8);
        if (len) {
                memset(p + hsize + ALIGN8_(nlen) + ALIGN8_(len) - 8, 0, 8);
                memcpy(p + hsize + ALIGN8_(nlen), payload, len);
        }
        *off += need;
        return p + hsize;
}

/* Copy the header of the record at buf+*off (n bytes in all) into h: 1,
 * 0 at the end, -EBADMSG when too few bytes are left. */
static int rec_header(const void *buf, size_t n, size_t off, void *h, size_t hsize)
{
        if (off >= n)
                return 0;
        if (n - off < hsize)
                return -EBADMSG;
        memcpy(h, (const uint8_t *)buf + off, hsize);
        return 1;
}

/* Where the names of the record at buf+*off begin, once its header said
 * nlen and len, moving *off past it; NULL when the lengths do not fit. */
static const uint8_t *rec_body(const void *buf, size_t n, size_t *off, size_t hsize, size_t nlen,
                               size_t len)
{
        const uint8_t *p = (const uint8_t *)buf + *off;
        size_t left = n - *off, need = hsize + ALIGN8_(nlen) + ALIGN8_(len);

        if (len > left)
                return NULL;
        if (need > left) {
                /* The last record may omit its final padding. */
                if (hsize + ALIGN8_(nlen) + len != left)
                        return NULL;
                need = left;
        }
        *off += need;
        return p + hsize;
}

int wire_in_put(void *buf, size_t size, size_t *off, const struct wire_in *h, const char *dst,
                const void *payload)
{
        uint8_t *names = rec_put(buf, size, off, h, sizeof(*h), h->dst_len, h->len, payload);

        if (!names)
                return -EMSGSIZE;
        if (h->dst_len)
                memcpy(names, dst, h->dst_len);
        return 0;
}

int wire_in_next(const void *buf, size_t n, size_t *off, struct wire_in *h, const char **dst,
                 const void **payload)
{
        const uint8_t *names;
        int r = rec_header(buf, n, *off, h, sizeof(*h));

        if (r <= 0)
                return r;
        if (h->dst_len >= WIRE_NAME_MAX)
                return -EBADMSG;
        names = rec_body(buf, n, off, sizeof(*h), h->dst_len, h->len);
        if (!names)
                return -EBADMSG;
        *dst = (const char *)names;
        *payload = names + ALIGN8_(h->dst_len);
        return 1;
}

int wire_out_put(void *buf, size_t size, size_t *off, const struct wire_out *h, const char *name,
                 const char *topic, const void *payload)
{
        uint8_t *names = rec_put(buf, size, off, h, sizeof(*h),
                                 (size_t)h->name_len + h->topic_len, h->len, payload);

        if (!names)
                return -EMSGSIZE;
        if (h->name_len)
                memcpy(names, name, h->name_len);
        if (h->topic_len)
                memcpy(names + h->name_len, topic, h->topic_len);
        return 0;
}

int wire_out_next(const void *buf, size_t n, size_t *off, struct wire_out *h, const char **name,
                  const char **topic, const void **payload)
{
        const uint8_t *names;
        int r = rec_header(buf, n, *off, h, sizeof(*h));

        if (r <= 0)
                return r;
        if (h->name_len >= WIRE_NAME_MAX || h->topic_len >= WIRE_NAME_MAX)
                return -EBADMSG;
        names = rec_body(buf, n, off, sizeof(*h), (size_t)h->name_len + h->topic_len, h->len);
        if (!names)
                return -EBADMSG;
        *name = (const char *)names;
        *topic = *name + h->name_len;
        *payload = names + ALIGN8_((size_t)h->name_len + h->topic_len);
        return 1;
}

int wire_origin_check(const struct wire_origin *o)
{
        if (o->magic != WIRE_ORIGIN_MAGIC || !memchr(o->host, '\0', sizeof(o->host)) ||
            !memchr(o->sender, '\0', sizeof(o->sender)) ||
            !memchr(o->unit, '\0', sizeof(o->unit)))
                return -EBADMSG;
        return 0;
}
