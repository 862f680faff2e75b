#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The kill -9 matrix, case "recv" (see test-kill9.c).
IPCD_KILL9_CASE=recv exec bash "$(dirname "$0")/test-kill9.sh" "$@"
