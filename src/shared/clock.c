/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clock.c - see clock.h. */
#include <errno.h>
#include <time.h>

#include "shared/clock.h"
#include "shared/macro.h"

uint64_t clock_now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000ULL;
}

uint64_t clock_now_ms(void)
{
        return clock_now_us() / USEC_PER_MSEC;
}

uint64_t clock_deadline_us(uint64_t usec)
{
        uint64_t now = clock_now_us();

        if (usec >= CLOCK_INFINITY - now)
                return CLOCK_INFINITY;
        return now + usec;
}

uint64_t clock_deadline_ms(int timeout_ms)
{
        if (timeout_ms < 0)
                return CLOCK_INFINITY;
        return clock_deadline_us((uint64_t)timeout_ms * USEC_PER_MSEC);
}

int clock_remaining_ms(uint64_t deadline)
{
        uint64_t now;

        if (deadline == CLOCK_INFINITY)
                return -1;
        now = clock_now_us();
        if (now >= deadline)
                return 0;
        return (int)MIN((deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC, (uint64_t)INT32_MAX);
}

void clock_sleep_us(uint64_t usec)
{
        struct timespec ts = {.tv_sec = (time_t)(usec / USEC_PER_SEC),
                              .tv_nsec = (long)(usec % USEC_PER_SEC) * 1000};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}
