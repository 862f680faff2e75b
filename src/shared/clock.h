/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clock.h - the one set of time helpers: CLOCK_MONOTONIC now, deadlines,
 * what is left of them, sleeping.  Used by the daemon, the library and
 * ipcdctl alike.  A deadline is an absolute CLOCK_MONOTONIC time in
 * microseconds; CLOCK_INFINITY means "none".
 */
#pragma once

#include <stdint.h>

#define CLOCK_INFINITY UINT64_MAX
#define USEC_PER_MSEC 1000ULL
#define USEC_PER_SEC 1000000ULL

/* CLOCK_MONOTONIC in microseconds / milliseconds. */
uint64_t clock_now_us(void);
uint64_t clock_now_ms(void);
/* now + usec (saturating at CLOCK_INFINITY). */
uint64_t clock_deadline_us(uint64_t usec);
/* A poll(2)-style timeout as a deadline: negative = CLOCK_INFINITY. */
uint64_t clock_deadline_ms(int timeout_ms);
/* What is left of deadline as a poll(2) timeout: -1 for CLOCK_INFINITY,
 * 0 once passed, else rounded up so a wait never ends early. */
int clock_remaining_ms(uint64_t deadline);
/* Sleep usec microseconds, resuming after signals. */
void clock_sleep_us(uint64_t usec);
