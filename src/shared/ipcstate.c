/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include "shared/ipcstate.h"
#include "shared/macro.h"

#define STATE_FILE "ipcd.state"

int ipcstate_open(const char *rundir)
{
        char path[4096];
        int fd;

        if (snprintf(path, sizeof(path), "%s/%s", rundir, STATE_FILE) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        return fd;
}

static const char *kind_name(enum ipcstate_kind kind)
{
        switch (kind) {
        case IPCSTATE_MSG:
                return "msg";
        case IPCSTATE_SEM:
                return "sem";
        case IPCSTATE_SHM:
                return "shm";
        }
        return "?";
}

int ipcstate_record(int fd, enum ipcstate_kind kind, int id, bool removed)
{
        char line[64];
        int n;

        if (fd < 0)
                return 0;
        n = snprintf(line, sizeof(line), "%c%s %d\n", removed ? '-' : '+', kind_name(kind), id);
        if (write(fd, line, (size_t)n) != n)
                return -errno;
        return 0;
}

int ipcstate_remove_object(enum ipcstate_kind kind, int id)
{
        int r = -EINVAL;

        switch (kind) {
        case IPCSTATE_MSG:
                r = msgctl(id, IPC_RMID, NULL);
                break;
        case IPCSTATE_SEM:
                r = semctl(id, 0, IPC_RMID);
                break;
        case IPCSTATE_SHM:
                r = shmctl(id, IPC_RMID, NULL);
                break;
        }
        return r < 0 ? -errno : 0;
}

/* Does /proc/sysvipc/<kind> list id with key 0 and creator uid `creator`? */
static bool object_is_ours(enum ipcstate_kind kind, int id, uid_t creator)
{
        const char *file;
        int cuid_col; /* 1-based column of cuid */
        char line[512];
        bool found = false;
        FILE *f;

        switch (kind) {
        case IPCSTATE_MSG:
                file = "/proc/sysvipc/msg";
                cuid_col = 10;
                break;
        case IPCSTATE_SEM:
                file = "/proc/sysvipc/sem";
                cuid_col = 7;
                break;
        case IPCSTATE_SHM:
                file = "/proc/sysvipc/shm";
                cuid_col = 10;
                break;
        default:
                return false;
        }
        f = fopen(file, "re");
        if (!f)
                return false;
        if (!fgets(line, sizeof(line), f)) { /* header */
                fclose(f);
                return false;
        }
        while (fgets(line, sizeof(line), f)) {
                long long col[16];
                int n = 0;
                char *s = line, *end;

                while (n < 16) {
                        col[n] = strtoll(s, &end, 10);
                        if (end == s)
                                break;
                        n++;
                        s = end;
                }
                if (n < cuid_col)
                        continue;
                if (col[1] == id && col[0] == 0 && col[cuid_col - 1] == (long long)creator) {
                        found = true;
                        break;
                }
        }
        fclose(f);
        return found;
}

struct entry {
        enum ipcstate_kind kind;
        int id;
        bool live;
};

int ipcstate_cleanup(const char *rundir, uid_t creator, unsigned *nremoved)
{
        _cleanup_free_ struct entry *v = NULL;
        size_t nv = 0, cap = 0;
        char path[4096], line[128];
        FILE *f;

        *nremoved = 0;
        if (snprintf(path, sizeof(path), "%s/%s", rundir, STATE_FILE) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        while (fgets(line, sizeof(line), f)) {
                char sign, kname[8];
                int id;
                enum ipcstate_kind kind;
                size_t i;

                if (sscanf(line, "%c%7s %d", &sign, kname, &id) != 3 || id < 0 ||
                    (sign != '+' && sign != '-'))
                        continue;
                if (strcmp(kname, "msg") == 0)
                        kind = IPCSTATE_MSG;
                else if (strcmp(kname, "sem") == 0)
                        kind = IPCSTATE_SEM;
                else if (strcmp(kname, "shm") == 0)
                        kind = IPCSTATE_SHM;
                else
                        continue;
                for (i = 0; i < nv; i++)
                        if (v[i].kind == kind && v[i].id == id)
                                break;
                if (i == nv) {
                        if (nv == cap) {
                                size_t ncap = cap ? cap * 2 : 64;
                                struct entry *nvp = realloc(v, ncap * sizeof(*v));

                                if (!nvp) {
                                        fclose(f);
                                        return -ENOMEM;
                                }
                                v = nvp;
                                cap = ncap;
                        }
                        v[nv].kind = kind;
                        v[nv].id = id;
                        nv++;
                }
                v[i].live = sign == '+';
        }
        fclose(f);

        for (size_t i = 0; i < nv; i++) {
                if (!v[i].live || !object_is_ours(v[i].kind, v[i].id, creator))
                        continue;
                if (ipcstate_remove_object(v[i].kind, v[i].id) == 0)
                        (*nremoved)++;
        }
        return 0;
}
