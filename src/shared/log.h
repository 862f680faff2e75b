/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.h - logging for the daemon and ipcdctl (never the library).
 *
 * Under journald (JOURNAL_STREAM names our stderr) lines carry "<N>"
 * priority prefixes and no timestamp; otherwise "ipcd: message".
 * log_*_errno(r, ...) append strerror(-r) and return r (negative).
 */
#pragma once

#include <stdbool.h>
#include <syslog.h>

#include "shared/macro.h"

void log_init(const char *ident);
void log_set_max_level(int level);
int log_get_max_level(void);
/* "error", "warning", "notice", "info", "debug" (or 0-7); -EINVAL otherwise. */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);
bool log_to_journal(void);

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...)
        _printf_(5, 6);

#define log_full_errno(level, error, ...)                                                          \
        ({                                                                                         \
                int _l = (level), _e = (error);                                                   \
                _l <= log_get_max_level() ? log_internal(_l, _e, __FILE__, __LINE__, __VA_ARGS__)   \
                                          : (_e > 0 ? -_e : _e);                                  \
        })
#define log_full(level, ...) (void)log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

/*
 * Rate limit for messages a client can trigger: at most `burst` per
 * `interval_ms`; the number suppressed is reported with the next one
 * allowed.  Thread-safe (atomics).
 */
struct log_ratelimit {
        unsigned interval_ms;
        unsigned burst;
        unsigned long long begin_ms;
        unsigned count;
        unsigned suppressed;
};
#define LOG_RATELIMIT_INIT(ms, b) { .interval_ms = (ms), .burst = (b) }
/* true if a message may be logged now; *suppressed gets the count skipped. */
bool log_ratelimit_test(struct log_ratelimit *rl, unsigned *suppressed);

#define log_ratelimited(rl, level, ...)                                                            \
        do {                                                                                       \
                unsigned _sup;                                                                     \
                if ((level) <= log_get_max_level() && log_ratelimit_test((rl), &_sup)) {            \
                        if (_sup)                                                                  \
                                log_full(LOG_WARNING, "%u similar messages suppressed", _sup);     \
                        log_full(level, __VA_ARGS__);                                              \
                }                                                                                  \
        } while (0)
