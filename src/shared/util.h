/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* util.h - small utilities shared by the daemon, the library and ipcdctl. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Fill buf with n random bytes from getrandom(2); 0 or -errno. */
int util_random_bytes(void *buf, size_t n);
/* Runtime directory for clients and ipcdctl: explicit, else
 * $IPCD_RUNTIME_DIR, else the built-in default. */
const char *util_runtime_dir(const char *explicit_dir);
/* Inode of /proc/PID/ns/ipc (pid 0: self); 0 and -errno on failure. */
int util_ipc_ns(pid_t pid, uint64_t *ret);
/* Write all of buf to a blocking fd; 0 or -errno. */
int util_write_all(int fd, const void *buf, size_t n);
/* Make room for n elements of elem bytes in *array (capacity *cap),
 * doubling from first; 0 or -ENOMEM (the array is left as it was). */
int util_array_reserve(void *array, size_t *cap, size_t n, size_t elem, size_t first);
/* Parse an unsigned decimal that fits in *ret; 0 or -EINVAL/-ERANGE. */
int util_parse_u64(const char *s, uint64_t *ret);
