/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * revoke.c - new policy rules in force (a SIGHUP reload): the table is
 * swapped whole under the lock, and every client already connected is
 * held to it at once, not at its next request: a name it may no longer
 * own is released (it stays connected, anonymous), a subscription it may
 * no longer hold is dropped, each with a notice to it.  What was granted
 * per message (sends, publishes, copies for monitors) is checked per
 * message anyway (policy.c).
 */
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>

#include "ipcd/core/clients.h"
#include "ipcd/core/delivery.h"
#include "ipcd/core/policy.h"
#include "ipcd/core/pubsub.h"
#include "ipcd/core/router.h"
#include "shared/ipcstate.h"
#include "shared/log.h"
#include "shared/macro.h"

/* A notice from ipcd into c's stream: code (WIRE_NOTICE_*), a text. */
static void revoke_notice(struct router *r, struct client *c, int code, const char *text)
{
        struct {
                long mtype;
                uint8_t mtext[sizeof(struct wire_out) + 200];
        } m = { .mtype = WIRE_TYPE_NOTICE };
        struct wire_out h = { .kind = WIRE_OUT_NOTICE, .status = code, .cookie = 1 };
        size_t off = 0;

        h.len = (uint32_t)MIN(strlen(text), (size_t)192);
        if (wire_out_put(m.mtext, sizeof(m.mtext), &off, &h, NULL, NULL, text) < 0)
                return;
        (void)deliver(r, c, &(struct delivery){ .msg = &m.mtype, .size = off, .control = true });
}

/* The rule that now denies c's action on object, or NULL. */
static const struct policy_rule *denied_by(struct router *r, const struct client *c, int action,
                                           const char *object)
{
        struct policy_subject s;
        const struct policy_rule *ru;

        policy_subject_of(c, &s);
        ru = policy_rules_decide(&r->policy, action, &s, object, NULL);
        return ru && !ru->allow ? ru : NULL;
}

static unsigned revoke_name(struct router *r, struct client *c)
{
        const struct policy_rule *ru = c->name[0] ? denied_by(r, c, POLICY_OWN, c->name) : NULL;
        char text[200];

        if (!ru)
                return 0;
        snprintf(text, sizeof(text), "name %s released: the policy rule at line %u denies it",
                 c->name, ru->line);
        log_notice("client %llu (uid %u): %s", (unsigned long long)c->id, (unsigned)c->uid, text);
        clients_remove(r, c);
        (void)ipcstate_record_name(r->mq.state_fd, c->uid, c->name, true);
        c->name[0] = '\0';
        clients_insert(r, c);
        revoke_notice(r, c, WIRE_NOTICE_NAME_LOST, text);
        return 1;
}

static unsigned revoke_subs(struct router *r, struct client *c)
{
        unsigned n = 0;

        for (struct sub **pp = &c->subs; *pp;) {
                const struct policy_rule *ru = denied_by(r, c, POLICY_SUBSCRIBE, (*pp)->pattern);
                char text[200];

                if (!ru) {
                        pp = &(*pp)->client_next;
                        continue;
                }
                snprintf(text, sizeof(text),
                         "subscription %s dropped: the policy rule at line %u denies it",
                         (*pp)->pattern, ru->line);
                log_notice("client %llu (uid %u): %s", (unsigned long long)c->id,
                           (unsigned)c->uid, text);
                pubsub_drop(r, c, pp); /* *pp is the next one now */
                revoke_notice(r, c, WIRE_NOTICE_REVOKED, text);
                n++;
        }
        return n;
}

unsigned router_set_policy(struct router *r, struct policy_rules *rules)
{
        unsigned n = 0;

        policy_rules_free(&r->policy);
        r->policy = *rules;
        *rules = (struct policy_rules){ 0 };
        if (!r->policy.n)
                return 0;
        for (struct client *c = r->clients; c; c = c->next) {
                if (c->removed || c->dying)
                        continue;
                n += revoke_name(r, c);
                n += revoke_subs(r, c);
        }
        return n;
}
