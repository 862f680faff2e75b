/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ipcstate.c - RUNDIR/ipcd.state (see ipcstate.h): appended to as objects
 * come and go, rewritten from the live set when it has grown to about
 * twice what is alive, read once at clean-up.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include "shared/ipcstate.h"
#include "shared/macro.h"
#include "shared/names.h"

#define STATE_FILE "ipcd.state"
#define STATE_NEW STATE_FILE ".new"
/* Rewrite once the file has this many lines more than twice the live set. */
#define COMPACT_SLACK 256
#define LINE_MAX_LEN 32 /* "+msg 2147483647\n" */
/* "+name 4294967295 NAME\n" */
#define NAME_LINE_MAX (7 + 10 + 1 + IPCSTATE_NAME_MAX + 1)

void (*ipcstate_before_rename)(void);

/* ---- a set of (kind, id), open addressing ---- */

struct idset {
        uint64_t *slot; /* 0: empty; else kind << 32 | id */
        size_t cap, n;  /* cap a power of two, n <= cap / 2 */
};

static uint64_t key_of(enum ipcstate_kind kind, int id)
{
        return (uint64_t)kind << 32 | (uint32_t)id;
}

static size_t slot_of(const struct idset *s, uint64_t key)
{
        uint64_t h = key * UINT64_C(0x9e3779b97f4a7c15);

        return (size_t)(h >> 32) & (s->cap - 1);
}

static bool idset_has(const struct idset *s, uint64_t key)
{
        if (!s->cap)
                return false;
        for (size_t i = slot_of(s, key);; i = (i + 1) & (s->cap - 1)) {
                if (s->slot[i] == key)
                        return true;
                if (!s->slot[i])
                        return false;
        }
}

static int idset_add(struct idset *s, uint64_t key);

static int idset_grow(struct idset *s)
{
        struct idset n = { .cap = s->cap ? s->cap * 2 : 64 };

        n.slot = calloc(n.cap, sizeof(*n.slot));
        if (!n.slot)
                return -ENOMEM;
        for (size_t i = 0; i < s->cap; i++)
                if (s->slot[i])
                        (void)idset_add(&n, s->slot[i]); /* room: cannot fail */
        free(s->slot);
        *s = n;
        return 0;
}

/* 1 if added, 0 if there already, -ENOMEM. */
static int idset_add(struct idset *s, uint64_t key)
{
        size_t i;

        if ((s->n + 1) * 2 > s->cap && idset_grow(s) < 0)
                return -ENOMEM;
        for (i = slot_of(s, key); s->slot[i]; i = (i + 1) & (s->cap - 1))
                if (s->slot[i] == key)
                        return 0;
        s->slot[i] = key;
        s->n++;
        return 1;
}

/* Linear probing's deletion: shift later members of the run back. */
static void idset_del(struct idset *s, uint64_t key)
{
        size_t i, j, mask = s->cap - 1;

        if (!s->cap)
                return;
        for (i = slot_of(s, key); s->slot[i] != key; i = (i + 1) & mask)
                if (!s->slot[i])
                        return;
        s->slot[i] = 0;
        s->n--;
        for (j = (i + 1) & mask; s->slot[j]; j = (j + 1) & mask) {
                size_t home = slot_of(s, s->slot[j]);

                /* Move slot j to the hole at i if its home is not in (i, j]. */
                if (((j - home) & mask) >= ((j - i) & mask)) {
                        s->slot[i] = s->slot[j];
                        s->slot[j] = 0;
                        i = j;
                }
        }
}

static void idset_free(struct idset *s)
{
        free(s->slot);
        *s = (struct idset){ 0 };
}

/* ---- a list of (uid, name): at most max_clients, searched linearly
 * (a registration or removal compares at most that many names) ---- */

struct names {
        struct ipcstate_name *v;
        size_t n, cap;
};

static ssize_t names_find(const struct names *s, uid_t uid, const char *name)
{
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i].uid == uid && strcmp(s->v[i].name, name) == 0)
                        return (ssize_t)i;
        return -1;
}

static int names_add(struct names *s, uid_t uid, const char *name)
{
        if (names_find(s, uid, name) >= 0)
                return 0;
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 16;
                struct ipcstate_name *v = realloc(s->v, cap * sizeof(*v));

                if (!v)
                        return -ENOMEM;
                s->v = v;
                s->cap = cap;
        }
        s->v[s->n].uid = uid;
        snprintf(s->v[s->n].name, sizeof(s->v[s->n].name), "%s", name);
        s->n++;
        return 1;
}

static void names_del(struct names *s, uid_t uid, const char *name)
{
        ssize_t i = names_find(s, uid, name);

        if (i >= 0)
                s->v[i] = s->v[--s->n];
}

static void names_free(struct names *s)
{
        free(s->v);
        *s = (struct names){ 0 };
}

static int name_line_format(char *line, size_t size, uid_t uid, const char *name, bool removed)
{
        return snprintf(line, size, "%cname %u %s\n", removed ? '-' : '+', (unsigned)uid, name);
}

/* "+name UID NAME\n": true with its fields, false if it is no such line. */
static bool name_line_parse(const char *line, uid_t *uid, char *name, bool *removed)
{
        unsigned long u;
        char *end;
        size_t len;

        if ((line[0] != '+' && line[0] != '-') || strncmp(line + 1, "name ", 5) != 0)
                return false;
        if (!strchr(line, '\n'))
                return false;
        errno = 0;
        u = strtoul(line + 6, &end, 10);
        if (errno || end == line + 6 || *end != ' ' || u > UINT32_MAX - 1)
                return false;
        len = strcspn(end + 1, "\n");
        if (len == 0 || len >= IPCSTATE_NAME_MAX)
                return false;
        memcpy(name, end + 1, len);
        name[len] = '\0';
        if (!name_is_valid(name))
                return false;
        *uid = (uid_t)u;
        *removed = line[0] == '-';
        return true;
}

/* ---- the open state files ---- */

struct state {
        struct state *next;
        int fd;        /* the callers' descriptor number, stable across rewrites */
        int dir_fd;    /* RUNDIR */
        struct idset live;
        struct names names; /* the names held now */
        size_t nlines; /* lines in the file now */
        size_t compact_at;
};

static pthread_mutex_t states_lock = PTHREAD_MUTEX_INITIALIZER;
static struct state *states;

static struct state *state_find(int fd)
{
        for (struct state *st = states; st; st = st->next)
                if (st->fd == fd)
                        return st;
        return NULL;
}

int ipcstate_open(const char *rundir)
{
        struct state *st;
        int fd, dir_fd;

        dir_fd = open(rundir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        (void)unlinkat(dir_fd, STATE_NEW, 0); /* a rewrite a crash interrupted */
        fd = openat(dir_fd, STATE_FILE,
                    O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                int e = -errno;

                close(dir_fd);
                return e;
        }
        st = calloc(1, sizeof(*st));
        if (!st) {
                close(fd);
                close(dir_fd);
                return -ENOMEM;
        }
        st->fd = fd;
        st->dir_fd = dir_fd;
        st->compact_at = COMPACT_SLACK;
        pthread_mutex_lock(&states_lock);
        st->next = states;
        states = st;
        pthread_mutex_unlock(&states_lock);
        return fd;
}

int ipcstate_close(int fd)
{
        struct state **pp, *st = NULL;

        if (fd < 0)
                return -1;
        pthread_mutex_lock(&states_lock);
        for (pp = &states; *pp; pp = &(*pp)->next)
                if ((*pp)->fd == fd) {
                        st = *pp;
                        *pp = st->next;
                        break;
                }
        pthread_mutex_unlock(&states_lock);
        if (st) {
                idset_free(&st->live);
                names_free(&st->names);
                close(st->dir_fd);
                free(st);
        }
        close(fd);
        return -1;
}

static const char *kind_name(enum ipcstate_kind kind)
{
        switch (kind) {
        case IPCSTATE_MSG:
                return "msg";
        case IPCSTATE_SEM:
                return "sem";
        case IPCSTATE_SHM:
                return "shm";
        }
        return "?";
}

static int line_format(char *line, size_t size, enum ipcstate_kind kind, int id, bool removed)
{
        return snprintf(line, size, "%c%s %d\n", removed ? '-' : '+', kind_name(kind), id);
}

/*
 * Write the live set to ipcd.state.new and rename it over ipcd.state; the
 * new file takes over st->fd's number.  On failure the old file (still
 * complete) stays in use.  Called with states_lock held.
 */
static int state_compact(struct state *st)
{
        _cleanup_free_ char *buf = malloc(st->live.n * LINE_MAX_LEN +
                                          st->names.n * NAME_LINE_MAX + 1);
        size_t len = 0;
        int fd, r = 0;

        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < st->names.n; i++)
                len += (size_t)name_line_format(buf + len, NAME_LINE_MAX + 1, st->names.v[i].uid,
                                                st->names.v[i].name, false);
        for (size_t i = 0; i < st->live.cap; i++) {
                uint64_t k = st->live.slot[i];

                if (k)
                        len += (size_t)line_format(buf + len, LINE_MAX_LEN + 1,
                                                   (enum ipcstate_kind)(k >> 32),
                                                   (int)(uint32_t)k, false);
        }
        fd = openat(st->dir_fd, STATE_NEW,
                    O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        /* No fsync: RUNDIR is on tmpfs, and what matters is a crash of
         * ipcd, after which the kernel still has every byte written. */
        if (len && write(fd, buf, len) != (ssize_t)len)
                r = errno ? -errno : -EIO;
        if (r == 0 && ipcstate_before_rename)
                ipcstate_before_rename();
        if (r == 0 && renameat(st->dir_fd, STATE_NEW, st->dir_fd, STATE_FILE) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlinkat(st->dir_fd, STATE_NEW, 0);
                close(fd);
                return r;
        }
        /* Two valid descriptors: only a racing open(2) (EBUSY) or a
         * signal can stand in the way. */
        while (dup3(fd, st->fd, O_CLOEXEC) < 0 && (errno == EBUSY || errno == EINTR))
                ;
        close(fd);
        if (r == 0)
                st->nlines = st->live.n + st->names.n;
        return r;
}

/* Append line to fd; compact the file when due.  states_lock held. */
static int state_append(struct state *st, int fd, const char *line, int n)
{
        if (write(fd, line, (size_t)n) != n)
                return errno ? -errno : -EIO;
        if (st && ++st->nlines >= st->compact_at) {
                /* Amortised: a rewrite of n live lines after n + SLACK appends. */
                (void)state_compact(st); /* failed: the old file goes on, try later */
                st->compact_at = st->nlines + st->live.n + st->names.n + COMPACT_SLACK;
        }
        return 0;
}

int ipcstate_record(int fd, enum ipcstate_kind kind, int id, bool removed)
{
        char line[LINE_MAX_LEN + 1];
        struct state *st;
        int n, r = 0;

        if (fd < 0)
                return 0;
        n = line_format(line, sizeof(line), kind, id, removed);
        pthread_mutex_lock(&states_lock);
        st = state_find(fd);
        if (st) {
                uint64_t k = key_of(kind, id);

                if (removed)
                        idset_del(&st->live, k);
                else if (idset_add(&st->live, k) < 0)
                        r = -ENOMEM; /* still appended: the file stays right */
        }
        n = state_append(st, fd, line, n);
        if (n < 0)
                r = n;
        pthread_mutex_unlock(&states_lock);
        return r;
}

int ipcstate_record_name(int fd, uid_t uid, const char *name, bool removed)
{
        char line[NAME_LINE_MAX + 1];
        struct state *st;
        int n, r = 0;

        if (fd < 0 || !name[0])
                return 0;
        if (strlen(name) >= IPCSTATE_NAME_MAX)
                return -EINVAL;
        n = name_line_format(line, sizeof(line), uid, name, removed);
        pthread_mutex_lock(&states_lock);
        st = state_find(fd);
        if (st) {
                if (removed)
                        names_del(&st->names, uid, name);
                else if (names_add(&st->names, uid, name) < 0)
                        r = -ENOMEM;
        }
        n = state_append(st, fd, line, n);
        if (n < 0)
                r = n;
        pthread_mutex_unlock(&states_lock);
        return r;
}

/* Open RUNDIR's state file for reading: 1, 0 when there is none, or
 * -errno. */
static int state_open_read(const char *rundir, FILE **ret)
{
        char path[4096];

        if (snprintf(path, sizeof(path), "%s/%s", rundir, STATE_FILE) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        *ret = fopen(path, "re");
        if (!*ret)
                return errno == ENOENT ? 0 : -errno;
        return 1;
}

static int names_read(const char *rundir, struct names *out)
{
        char line[256];
        FILE *f;
        int r;

        r = state_open_read(rundir, &f);
        if (r <= 0)
                return r;
        while (r >= 0 && fgets(line, sizeof(line), f)) {
                char name[IPCSTATE_NAME_MAX];
                bool removed;
                uid_t uid;

                if (!name_line_parse(line, &uid, name, &removed))
                        continue;
                if (removed)
                        names_del(out, uid, name);
                else
                        r = names_add(out, uid, name);
        }
        fclose(f);
        return r < 0 ? r : 0;
}

int ipcstate_names(const char *rundir, struct ipcstate_name **ret, size_t *n)
{
        struct names s = { 0 };
        int r = names_read(rundir, &s);

        if (r < 0) {
                names_free(&s);
                return r;
        }
        *ret = s.v;
        *n = s.n;
        return 0;
}

int ipcstate_forget_objects(const char *rundir)
{
        struct names s = { 0 };
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int dir_fd, fd, r;

        r = names_read(rundir, &s);
        if (r < 0)
                goto out;
        buf = malloc(s.n * NAME_LINE_MAX + 1);
        if (!buf) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < s.n; i++)
                len += (size_t)name_line_format(buf + len, NAME_LINE_MAX + 1, s.v[i].uid,
                                                s.v[i].name, false);
        dir_fd = open(rundir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0) {
                r = -errno;
                goto out;
        }
        fd = openat(dir_fd, STATE_NEW, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                    0600);
        if (fd < 0)
                r = -errno;
        else {
                if (len && write(fd, buf, len) != (ssize_t)len)
                        r = errno ? -errno : -EIO;
                close(fd);
                if (r == 0 && renameat(dir_fd, STATE_NEW, dir_fd, STATE_FILE) < 0)
                        r = -errno;
                if (r < 0)
                        (void)unlinkat(dir_fd, STATE_NEW, 0);
        }
        close(dir_fd);
out:
        names_free(&s);
        return r;
}

int ipcstate_stats(int fd, size_t *nlive, size_t *nlines)
{
        struct state *st;

        pthread_mutex_lock(&states_lock);
        st = state_find(fd);
        if (st) {
                *nlive = st->live.n;
                *nlines = st->nlines;
        }
        pthread_mutex_unlock(&states_lock);
        return st ? 0 : -ENOENT;
}

int ipcstate_remove_object(enum ipcstate_kind kind, int id)
{
        int r = -EINVAL;

        switch (kind) {
        case IPCSTATE_MSG:
                r = msgctl(id, IPC_RMID, NULL);
                break;
        case IPCSTATE_SEM:
                r = semctl(id, 0, IPC_RMID);
                break;
        case IPCSTATE_SHM:
                r = shmctl(id, IPC_RMID, NULL);
                break;
        }
        return r < 0 ? -errno : 0;
}

/*
 * Add to *ours every object /proc/sysvipc/<kind> lists with key 0 and
 * creator uid `creator`: one read of the table.
 */
static int sysvipc_ours(enum ipcstate_kind kind, uid_t creator, struct idset *ours)
{
        const char *file;
        int cuid_col; /* 1-based column of cuid */
        char line[512];
        FILE *f;
        int r = 0;

        switch (kind) {
        case IPCSTATE_MSG:
                file = "/proc/sysvipc/msg";
                cuid_col = 10;
                break;
        case IPCSTATE_SEM:
                file = "/proc/sysvipc/sem";
                cuid_col = 7;
                break;
        case IPCSTATE_SHM:
                file = "/proc/sysvipc/shm";
                cuid_col = 10;
                break;
        default:
                return -EINVAL;
        }
        f = fopen(file, "re");
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        if (!fgets(line, sizeof(line), f)) { /* header */
                fclose(f);
                return 0;
        }
        while (r >= 0 && fgets(line, sizeof(line), f)) {
                long long col[16];
                int n = 0;
                char *p = line, *end;

                while (n < 16) {
                        col[n] = strtoll(p, &end, 10);
                        if (end == p)
                                break;
                        n++;
                        p = end;
                }
                if (n < cuid_col || col[0] != 0 || col[cuid_col - 1] != (long long)creator ||
                    col[1] < 0 || col[1] > INT32_MAX)
                        continue;
                r = idset_add(ours, key_of(kind, (int)col[1]));
        }
        fclose(f);
        return r < 0 ? r : 0;
}

/* One line of the file into *kind, *id, *removed; false if it is not one. */
static bool line_parse(const char *line, enum ipcstate_kind *kind, int *id, bool *removed)
{
        char sign, kname[8];

        if (!strchr(line, '\n')) /* the last line, cut short */
                return false;
        if (sscanf(line, "%c%7s %d", &sign, kname, id) != 3 || *id < 0 ||
            (sign != '+' && sign != '-'))
                return false;
        if (strcmp(kname, "msg") == 0)
                *kind = IPCSTATE_MSG;
        else if (strcmp(kname, "sem") == 0)
                *kind = IPCSTATE_SEM;
        else if (strcmp(kname, "shm") == 0)
                *kind = IPCSTATE_SHM;
        else
                return false;
        *removed = sign == '-';
        return true;
}

int ipcstate_cleanup(const char *rundir, uid_t creator, unsigned *nremoved)
{
        static const enum ipcstate_kind kinds[] = { IPCSTATE_MSG, IPCSTATE_SEM, IPCSTATE_SHM };
        struct idset live = { 0 }, ours = { 0 };
        char line[128];
        FILE *f;
        int r = 0;

        *nremoved = 0;
        r = state_open_read(rundir, &f);
        if (r <= 0)
                return r;
        /* The last line about an object wins. */
        while (r >= 0 && fgets(line, sizeof(line), f)) {
                enum ipcstate_kind kind;
                bool removed;
                int id;

                if (!line_parse(line, &kind, &id, &removed))
                        continue;
                if (removed)
                        idset_del(&live, key_of(kind, id));
                else
                        r = idset_add(&live, key_of(kind, id));
        }
        fclose(f);
        for (size_t i = 0; r >= 0 && live.n && i < ELEMENTSOF(kinds); i++)
                r = sysvipc_ours(kinds[i], creator, &ours);
        for (size_t i = 0; r >= 0 && i < live.cap; i++) {
                uint64_t k = live.slot[i];

                if (!k || !idset_has(&ours, k))
                        continue;
                if (ipcstate_remove_object((enum ipcstate_kind)(k >> 32), (int)(uint32_t)k) == 0)
                        (*nremoved)++;
        }
        idset_free(&live);
        idset_free(&ours);
        return r < 0 ? r : 0;
}
