/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "shared/clock.h"
#include "shared/log.h"

static const char *log_ident = "ipcd";
/* Set by the main thread (a reload may change it), read by every thread
 * that logs (ipcd's data threads): atomic, relaxed (it orders nothing). */
static atomic_int log_max_level = LOG_INFO;
static bool log_journal;
static pthread_mutex_t log_ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {
        "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
};

/* JOURNAL_STREAM is "DEV:INODE" of the stream journald gave us. */
static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *ident)
{
        log_ident = ident;
        log_journal = stderr_is_journal();
}

bool log_to_journal(void)
{
        return log_journal;
}

void log_set_max_level(int level)
{
        atomic_store_explicit(&log_max_level, level, memory_order_relaxed);
}

int log_get_max_level(void)
{
        return atomic_load_explicit(&log_max_level, memory_order_relaxed);
}

int log_level_from_string(const char *s)
{
        if (!s)
                return -EINVAL;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
                return s[0] - '0';
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (strcasecmp(s, level_names[i]) == 0)
                        return (int)i;
        if (strcasecmp(s, "err") == 0)
                return LOG_ERR;
        if (strcasecmp(s, "warn") == 0)
                return LOG_WARNING;
        return -EINVAL;
}

const char *log_level_to_string(int level)
{
        if (level < 0 || level >= (int)ELEMENTSOF(level_names))
                return "?";
        return level_names[level];
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...)
{
        char buf[2048];
        int saved = errno, e = error < 0 ? -error : error;
        va_list ap;

        (void)file;
        (void)line;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);

        /* One fprintf per line, so concurrent threads never interleave. */
        if (log_journal) {
                if (e)
                        fprintf(stderr, "<%d>%s: %s\n", level, buf, strerror(e));
                else
                        fprintf(stderr, "<%d>%s\n", level, buf);
        } else {
                if (e)
                        fprintf(stderr, "%s: %s: %s\n", log_ident, buf, strerror(e));
                else
                        fprintf(stderr, "%s: %s\n", log_ident, buf);
        }
        errno = saved;
        return e ? -e : -EIO;
}

bool log_ratelimit_test(struct log_ratelimit *rl, unsigned *suppressed)
{
        unsigned long long t = clock_now_ms();
        bool ok;

        pthread_mutex_lock(&log_ratelimit_lock);
        *suppressed = 0;
        if (rl->begin_ms == 0 || t - rl->begin_ms >= rl->interval_ms) {
                *suppressed = rl->suppressed;
                rl->suppressed = 0;
                rl->begin_ms = t;
                rl->count = 0;
        }
        ok = rl->count < rl->burst;
        if (ok)
                rl->count++;
        else
                rl->suppressed++;
        pthread_mutex_unlock(&log_ratelimit_lock);
        return ok;
}
