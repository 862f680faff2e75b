/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-config - libFuzzer target: config_load() on a file holding the
 * input (an ipcd.conf an administrator, or a package, wrote).  Any result
 * is fine as long as it is an answer: 0 with values in their ranges, or
 * a negative errno with "file:line: message".  Then config_done() must
 * free everything (LeakSanitizer checks).  The file and its directory
 * are left in $TMPDIR (run.sh gives each run a scratch one).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipcd/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int fd = -1;
        static char path[PATH_MAX];
        struct ipcd_config cfg;
        char err[512] = "";
        int r;

        if (fd < 0) {
                /* A file of its own in a directory of its own: what an
                 * @include names relative to it stays in there. */
                const char *tmp = getenv("TMPDIR");

                snprintf(path, sizeof(path) - 16, "%s/fuzz-config.XXXXXX", tmp ? tmp : "/tmp");
                if (!mkdtemp(path))
                        abort();
                strcat(path, "/ipcd.conf");
                fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                if (fd < 0)
                        abort();
        }
        if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
                abort();
        if (config_set_defaults(&cfg) < 0)
                abort();
        r = config_load(&cfg, path, true, err, sizeof(err));
        if (r < 0) {
                /* A refusal says where and why. */
                if (!err[0])
                        abort();
        } else {
                if (cfg.lim.max_clients_per_uid > cfg.lim.max_clients || !cfg.runtime_dir)
                        abort();
        }
        config_done(&cfg);
        return 0;
}
