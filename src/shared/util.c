/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shared/clock.h"
#include "shared/util.h"

#ifndef IPCD_DEFAULT_RUNDIR
#define IPCD_DEFAULT_RUNDIR "/run/ipcd"
#endif

/* One step of a loop over n bytes at p: how many it did, or -1 with errno. */
typedef ssize_t (*util_step_fn)(void *userdata, void *p, size_t n);

/* Run step until all n bytes at buf are done, retrying EINTR: 0 or -errno. */
static int util_all(util_step_fn step, void *userdata, void *buf, size_t n)
{
        uint8_t *p = buf;

        while (n > 0) {
                ssize_t r = step(userdata, p, n);

                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += r;
                n -= (size_t)r;
        }
        return 0;
}

static ssize_t step_getrandom(void *userdata, void *p, size_t n)
{
        return getrandom(p, n, 0);
}

static ssize_t step_write(void *userdata, void *p, size_t n)
{
        return write(*(const int *)userdata, p, n);
}

int util_random_bytes(void *buf, size_t n)
{
        return util_all(step_getrandom, NULL, buf, n);
}

const char *util_runtime_dir(const char *explicit_dir)
{
        const char *e;

        if (explicit_dir && explicit_dir[0])
                return explicit_dir;
        e = secure_getenv("IPCD_RUNTIME_DIR");
        if (e && e[0])
                return e;
        return IPCD_DEFAULT_RUNDIR;
}

int util_ipc_ns(pid_t pid, uint64_t *ret)
{
        char path[64];
        struct stat st;

        if (pid > 0)
                snprintf(path, sizeof(path), "/proc/%d/ns/ipc", (int)pid);
        else
                snprintf(path, sizeof(path), "/proc/self/ns/ipc");
        if (stat(path, &st) < 0) {
                *ret = 0;
                return -errno;
        }
        *ret = (uint64_t)st.st_ino;
        return 0;
}

int util_write_all(int fd, const void *buf, size_t n)
{
        /* write() only reads the bytes: the cast is for the shared loop. */
        return util_all(step_write, &fd, (void *)buf, n);
}

int util_array_reserve(void *array, size_t *cap, size_t n, size_t elem, size_t first)
{
        void **p = array;
        size_t ncap = *cap ? *cap : first;
        void *np;

        if (n <= *cap)
                return 0;
        while (ncap < n)
                ncap *= 2;
        np = realloc(*p, ncap * elem);
        if (!np)
                return -ENOMEM;
        *p = np;
        *cap = ncap;
        return 0;
}

int util_parse_u64(const char *s, uint64_t *ret)
{
        char *end;
        unsigned long long v;

        if (!s || !*s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}
