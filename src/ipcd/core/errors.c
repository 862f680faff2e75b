/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * errors.c - ROUTER_E_* to the public negative errno, written once.
 */
#include <errno.h>

#include "ipcd/core/errors.h"

static const int router_errnos[_ROUTER_E_MAX] = {
        [ROUTER_E_INVALID] = EINVAL,
        [ROUTER_E_TOO_BIG] = EMSGSIZE,
        [ROUTER_E_NAME_TAKEN] = EADDRINUSE,
        [ROUTER_E_QUOTA] = EDQUOT,
        [ROUTER_E_NOT_FOUND] = ENOENT,
        [ROUTER_E_DENIED] = EACCES,
        [ROUTER_E_FULL] = EAGAIN,
        [ROUTER_E_RATE] = EAGAIN,
        [ROUTER_E_GONE] = ECONNRESET,
        [ROUTER_E_UNSUPPORTED] = EOPNOTSUPP,
        [ROUTER_E_EXISTS] = EEXIST,
};

int router_errno(int r)
{
        if (r <= 0)
                return r;
        if (r >= _ROUTER_E_MAX || router_errnos[r] == 0)
                return -EIO; /* a code without a row: a bug, not a client's fault */
        return -router_errnos[r];
}
