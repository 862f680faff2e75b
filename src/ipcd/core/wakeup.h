/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* wakeup.h - raise a client's Sc / doorbell; the PULL marker (wakeup.c). */
#pragma once

#include "ipcd/core/state.h"

void wakeup_raise(struct client *c);
/* Only the timed waiters (Sc), no doorbell: for an answer to a request,
 * which a library thread waits for and ipcd_recv() never returns, so that
 * ipcd_fd() is not left readable by it after the message it announced was
 * read (a doorbell written after the answer was taken). */
void wakeup_waiters(struct client *c);
void wakeup_pull_marker(struct client *c);
