/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-attack-books - issue 10, finding 10: unroutable sends vanish from
 * the books.
 *
 * Attack: a client of uid 65534 sends 47 messages to a name nobody holds,
 * without IPCD_ACK.  Each send returns 0 (the library cannot know), so the
 * only trace is what ipcd counts.
 *
 * Must hold: `ipcdctl status --json` counts them in total
 * (counters.unroutable) and on the sender (its client object's
 * `unroutable`), 47 each.  A routable send in between is not counted.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "tlib.h"

#define NOBODY 65534
#define N_UNROUTABLE 47

/* The unsigned number after "key": in [from, to), or -1 if absent. */
static long long json_u64_in(const char *from, const char *to, const char *key)
{
        char pat[80];
        const char *p;

        snprintf(pat, sizeof(pat), "\"%s\"", key);
        p = strstr(from, pat);
        if (!p || p >= to)
                return -1;
        p += strlen(pat);
        while (*p == ' ' || *p == ':' || *p == '\n' || *p == '\t')
                p++;
        if (*p < '0' || *p > '9')
                return -1;
        return strtoll(p, NULL, 10);
}

/* The object that starts before `at`: from its '{' to its '}' (flat). */
static void json_object_around(const char *json, const char *at, const char **b, const char **e)
{
        const char *p = at;

        while (p > json && *p != '{')
                p--;
        *b = p;
        *e = strchr(at, '}');
        if (!*e)
                *e = at + strlen(at);
}

static void child(int ready_fd, int go_fd)
{
        ipcd_client *c;
        char x;

        tl_become(NOBODY, NULL, 0);
        c = tl_connect("books-sender");
        /* the attack: no ACK, nobody holds the name, every send "works" */
        for (int i = 0; i < N_UNROUTABLE; i++)
                CHECK_R(ipcd_send(c, "no-such-name", 1, "lost", 4, 0), 0);
        /* a routable one, to ourselves, acknowledged: also our sync point */
        tl_sync(c);
        CHECK(write(ready_fd, "r", 1) == 1);
        CHECK(read(go_fd, &x, 1) == 1);
        ipcd_close(c);
        _exit(0);
}

int main(int argc, char **argv)
{
        int to_parent[2], to_child[2], status;
        char cmd[PATH_MAX + 64], x;
        const char *ctl = getenv("IPCDCTL"), *p, *b, *e;
        long long total, mine;
        char *json;
        pid_t pid;

        tl_init(argc, argv);
        tl_require_uids(NOBODY, 1);
        CHECK_MSG(ctl && *ctl, "$IPCDCTL is not set");

        CHECK(pipe(to_parent) == 0 && pipe(to_child) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                close(to_parent[0]);
                close(to_child[1]);
                child(to_parent[1], to_child[0]);
        }
        close(to_parent[1]);
        close(to_child[0]);
        CHECK_MSG(read(to_parent[0], &x, 1) == 1, "the sender died");

        snprintf(cmd, sizeof(cmd), "'%s' status --json", ctl);
        json = tl_capture(cmd, &status);
        CHECK_MSG(json, "cannot run %s", cmd);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "ipcdctl status --json: %#x",
                  status);

        p = strstr(json, "\"counters\"");
        CHECK_MSG(p, "no counters object in:\n%s", json);
        json_object_around(json, strchr(p, '{') ? strchr(p, '{') + 1 : p, &b, &e);
        total = json_u64_in(b, e, "unroutable");

        p = strstr(json, "\"books-sender\"");
        CHECK_MSG(p, "the sender is not listed in:\n%s", json);
        json_object_around(json, p, &b, &e);
        mine = json_u64_in(b, e, "unroutable");

        printf("unroutable sends %d: counted in total %lld, on the sender %lld (-1: no field)\n",
               N_UNROUTABLE, total, mine);
        CHECK_MSG(total == N_UNROUTABLE, "counters.unroutable is %lld, expected %d", total,
                  N_UNROUTABLE);
        CHECK_MSG(mine == N_UNROUTABLE, "the sender's unroutable is %lld, expected %d", mine,
                  N_UNROUTABLE);
        free(json);

        CHECK(write(to_child[1], "g", 1) == 1);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sender child failed (%#x)",
                  status);
        tl_wait_clients(0);
        return 0;
}
