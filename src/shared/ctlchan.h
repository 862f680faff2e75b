/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ctlchan.h - the client side of the control channel, shared by the
 * library (registration) and ipcdctl (STATUS): create a reply FIFO in
 * RUNDIR/clients/, write one request line to RUNDIR/control (as
 * "\nREGISTER ...\n" in one atomic write: the leading newline ends whatever
 * junk a stray writer left before it), read the binary records ipcd
 * answers with.
 *
 * Reply FIFO: mkfifo(0600) at RUNDIR/clients/<32 random hex>, opened
 * O_RDONLY|O_NONBLOCK|O_CLOEXEC, then fchmod 0622 (umask clears bits) so
 * ipcd can open it for writing; its owner is our uid: that is our
 * identity.  Once ipcd has answered, ctlchan_unlink() removes the path
 * (ipcd is then its only writer); the descriptor stays open for the whole
 * session: closing it is how ipcd learns that we are gone.
 */
#pragma once

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/wire.h"

struct ctlchan {
        int control_fd;                  /* RUNDIR/control, O_WRONLY|O_NONBLOCK */
        int reply_fd;                    /* our reply FIFO, O_RDONLY|O_NONBLOCK */
        char fifo[WIRE_HEX_LEN + 1];     /* basename in RUNDIR/clients/ */
        char path[PATH_MAX];             /* full path, "" once unlinked */
        uint8_t nonce[WIRE_NONCE_SIZE];  /* of the last request */
        uint8_t buf[WIRE_REC_MAX];       /* partial record being read */
        size_t buffered;
};

/* Open RUNDIR/control and create the reply FIFO.  -ECONNREFUSED if no
 * daemon listens (no FIFO, or ENXIO: no reader), other -errno otherwise. */
int ctlchan_open(struct ctlchan *ch, const char *rundir);
/* Send req (cmd and, for REGISTER, pid and name set by the caller; nonce
 * and fifo are filled in here with a fresh nonce).  Waits up to
 * timeout_ms for room in a full control FIFO; 0 or -errno. */
int ctlchan_send(struct ctlchan *ch, struct wire_ctl *req, int timeout_ms);
/* Read the next record answering the last request (records with another
 * nonce are skipped).  Copies the body, truncated or zero-filled, into
 * body[body_size].  Returns the record kind (> 0), -ETIMEDOUT,
 * -ECONNRESET (ipcd closed the FIFO) or -EBADMSG. */
int ctlchan_read(struct ctlchan *ch, void *body, size_t body_size, int timeout_ms);
/* Remove the reply FIFO's path (the descriptor stays open). */
void ctlchan_unlink(struct ctlchan *ch);
/* Close everything; the reply FIFO path is removed if still there.
 * keep_reply: leave reply_fd open and return it (for the library). */
int ctlchan_close(struct ctlchan *ch, int keep_reply);
