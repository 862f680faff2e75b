/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-config - libFuzzer target: config_load_text() on the input, which
 * is what config_load() does with a file's text once read (an ipcd.conf
 * an administrator, or a package, wrote).  Any result
 * is fine as long as it is an answer: 0 with values in their ranges, or
 * a negative errno with "file:line: message".  Then config_done() must
 * free everything (LeakSanitizer checks).  The input is not written to
 * a file (writing one per input made the target wait on the disk: 200
 * inputs a second on ext4); its directory in $TMPDIR (run.sh gives each
 * run a scratch one) holds inc.conf, for "@include".
 *
 * libconfig (1.5, Debian 12) leaks the string token it had read ahead
 * when a parse fails on it (`size = 1"x";`): the parser has no
 * destructor for it.  Many inputs do that, and libFuzzer answers every
 * input that leaves more mallocs than frees with a full LeakSanitizer
 * pass (tens of milliseconds), until it gives up on leak detection after
 * 1000 of them: the target ran at about 200 inputs a second, then
 * without leak detection.  So the target reclaims exactly those blocks:
 * it notes every block allocated during the input (malloc hooks), and
 * after config_done() frees the ones still live whose allocation stack
 * (__asan_get_alloc_stack) is in libconfig.so, none of ours.  Anything
 * else left is a leak of ipcd's and libFuzzer reports it with its input.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>
#include <sanitizer/allocator_interface.h>
#include <sanitizer/asan_interface.h>

#include "ipcd/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Blocks allocated during one input and not freed yet (open addressing;
 * a block is removed by marking it freed).  Hooks must not allocate. */
#define TRACK_SLOTS (1u << 16)
static const void *track[TRACK_SLOTS];
static uint32_t used[TRACK_SLOTS / 2]; /* the slots filled, to clear them */
static size_t ntracked;
static bool tracking, overflowed;
static const void *libconfig_base;

static size_t slot_of(const volatile void *p)
{
        return ((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ULL >> 48;
}

static void on_malloc(const volatile void *p, size_t n)
{
        size_t i;

        (void)n;
        if (!tracking)
                return;
        if (ntracked >= TRACK_SLOTS / 2) {
                overflowed = true;
                return;
        }
        for (i = slot_of(p); track[i]; i = (i + 1) % TRACK_SLOTS)
                ;
        track[i] = (const void *)p;
        used[ntracked++] = (uint32_t)i;
}

static void on_free(const volatile void *p)
{
        if (!tracking || !p)
                return;
        for (size_t i = slot_of(p), k = 0; track[i] && k < TRACK_SLOTS; i = (i + 1) % TRACK_SLOTS, k++)
                if (track[i] == p) {
                        track[i] = (const void *)1; /* a tombstone: the chain goes on */
                        return;
                }
}

/* Allocated from libconfig.so (any frame of its allocation stack). */
static bool from_libconfig(const void *p)
{
        void *frames[64];
        int tid;
        size_t n = __asan_get_alloc_stack((void *)p, frames, 64, &tid);

        for (size_t i = 0; i < n; i++) {
                Dl_info info;

                if (dladdr(frames[i], &info) && info.dli_fbase == libconfig_base)
                        return true;
        }
        return false;
}

/* Free what libconfig lost during this input; forget the rest. */
static void reclaim(void)
{
        const void *lost[64];
        size_t nlost = 0;

        tracking = false;
        for (size_t k = 0; k < ntracked; k++) {
                size_t i = used[k];

                if (track[i] && track[i] != (const void *)1 && nlost < 64 && !overflowed &&
                    from_libconfig(track[i]))
                        lost[nlost++] = track[i];
                track[i] = NULL;
        }
        ntracked = 0;
        overflowed = false;
        for (size_t i = 0; i < nlost; i++)
                free((void *)lost[i]);
}

/* The file the input stands for, in a directory of its own with one
 * file to @include ("inc.conf"); the input itself is never written out
 * (a file per input made the target wait on the disk). */
static char path[PATH_MAX];

static void dir_make(void)
{
        const char *tmp = getenv("TMPDIR");
        char inc[PATH_MAX + 16];
        FILE *f;

        snprintf(path, sizeof(path) - 16, "%s/fuzz-config.XXXXXX", tmp ? tmp : "/tmp");
        if (!mkdtemp(path))
                abort();
        snprintf(inc, sizeof(inc), "%s/inc.conf", path);
        f = fopen(inc, "we");
        if (!f || fputs("max_clients = 100;\nbacklog_total_bytes = 4294967296;\n", f) < 0 ||
            fclose(f) != 0)
                abort();
        strcat(path, "/ipcd.conf");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        Dl_info info;

        (void)argc;
        (void)argv;
        if (!dladdr((void *)config_read, &info) || !info.dli_fbase)
                abort();
        libconfig_base = info.dli_fbase;
        dir_make();
        if (!__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free))
                abort();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static char *text;
        static size_t cap;
        struct ipcd_config cfg;
        char err[512] = "";
        int r;

        /* config_load refuses a file with a NUL byte before libconfig
         * sees it (test-config checks that); the rest is what it hands
         * to config_load_text. */
        if (memchr(data, 0, size))
                return 0;
        if (size + 1 > cap) {
                free(text);
                cap = size + 1;
                text = malloc(cap);
                if (!text)
                        abort();
        }
        memcpy(text, data, size);
        text[size] = '\0';
        tracking = true;
        if (config_set_defaults(&cfg) < 0)
                abort();
        r = config_load_text(&cfg, path, text, err, sizeof(err));
        if (r < 0) {
                /* A refusal says where and why. */
                if (!err[0])
                        abort();
        } else {
                if (cfg.lim.max_clients_per_uid > cfg.lim.max_clients || !cfg.runtime_dir)
                        abort();
        }
        config_done(&cfg);
        reclaim();
        return 0;
}
