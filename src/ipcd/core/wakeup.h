/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* wakeup.h - raise a client's Sc / doorbell; the PULL marker (wakeup.c). */
#pragma once

#include "ipcd/core/state.h"

void wakeup_raise(struct client *c);
void wakeup_pull_marker(struct client *c);
