/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * _ipcd.c - the CPython extension behind the `ipcd` package: a thin,
 * safe layer over the public <ipcd.h> and nothing else.
 *
 * Ownership of ring memory.  A received bulk message's payload and a
 * buffer from buf_alloc() lie in the shared-memory ring, which
 * ipcd_close() unmaps.  Both are exposed through a RingBuffer object
 * (buffer protocol, exports counted) that the message or the client
 * hands out as a memoryview.  Releasing the message, sending or freeing
 * the buffer first releases that memoryview and refuses (BufferError)
 * while any other export is alive, then marks the RingBuffer gone: its
 * getbuffer refuses from then on, so a use after release raises and
 * never reads freed memory.  Every live RingBuffer is linked into its
 * client, so close() can release them all before ipcd_close().
 *
 * Blocking.  The GIL is released around every library call that may
 * wait.  Receives wait in slices of SLICE_MS and check for signals
 * (Ctrl-C) and for close() in between.  ipcd_call() cannot be sliced
 * (each call sends a request), so it runs on a short-lived thread while
 * the caller waits in slices; a caller interrupted by a signal abandons
 * the call, whose reply the thread discards.  A send that flow control
 * holds back waits in slices too: the handle's send timeout is SLICE_MS
 * and the binding retries what timed out within a slice, up to the
 * caller's own set_send_timeout() (client_send_sliced).  close() waits for other
 * threads to leave their slices before ipcd_close(), which must not race
 * with other calls; if abandoned calls still run, the last of them closes
 * the handle when it returns.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ipcd.h>

#define SLICE_MS 100
/* A send that gives -ETIMEDOUT sooner than this waited for flow-control
 * credit for one slice, and sent nothing: the library gives up before
 * sending.  A later one is an answer that did not come (IPCD_ACK, 10 s in
 * the library), which is the caller's. */
#define SEND_SLICE_MAX_S 5.0

/* ------------------------------------------------------------------ */
/* Exceptions                                                           */

static PyObject *Error;                 /* ipcd.Error(OSError) */
static PyObject *NameInUseError;        /* EADDRINUSE */
static PyObject *QuotaExceededError;    /* EDQUOT */
static PyObject *MessageTooLargeError;  /* EMSGSIZE */
static PyObject *InvalidArgumentError;  /* EINVAL, also a ValueError */

/* Raise the exception for a negative errno r; returns NULL. */
static PyObject *set_error(int r, const char *what)
{
        int e = -r;
        PyObject *type, *args, *exc;
        char msg[256];

        switch (e) {
        case ECONNREFUSED:
        case ETIMEDOUT:
        case EACCES:
        case EPERM:
        case ENOENT:
        case EAGAIN:
        case ECONNRESET:
        case EINTR:
        case ECHILD:
                /* OSError(errno, ...) picks ConnectionRefusedError,
                 * TimeoutError, PermissionError, ... itself. */
                type = PyExc_OSError;
                break;
        case ENOMEM:
                return PyErr_NoMemory();
        case EADDRINUSE:
                type = NameInUseError;
                break;
        case EDQUOT:
                type = QuotaExceededError;
                break;
        case EMSGSIZE:
                type = MessageTooLargeError;
                break;
        case EINVAL:
                type = InvalidArgumentError;
                break;
        default:
                type = Error;
                break;
        }
        snprintf(msg, sizeof(msg), "%s: %s", what, strerror(e));
        args = Py_BuildValue("(is)", e, msg);
        if (!args)
                return NULL;
        exc = PyObject_Call(type, args, NULL);
        Py_DECREF(args);
        if (!exc)
                return NULL;
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
        return NULL;
}

/* ------------------------------------------------------------------ */
/* Objects                                                              */

typedef struct RingBuffer RingBuffer;

/* What a call thread shares with its client: the handle outlives the
 * ClientObject's close() while an abandoned call still runs in it; the
 * last such thread closes it. */
struct shared {
        pthread_mutex_t lock;
        ipcd_client *c;
        int workers;   /* call threads alive */
        bool detached; /* close() happened: the last worker closes c */
};

typedef struct {
        PyObject_HEAD
        ipcd_client *c;
        struct shared *sh;
        int busy;          /* threads inside a call (GIL held to change it) */
        bool closing;
        int send_timeout_ms; /* set_send_timeout(); -1: none (the handle's is SLICE_MS) */
        RingBuffer *rings; /* live RingBuffers of this client */
        struct MessageObject *held, *held_tail; /* messages holding a record for sender_unit */
        int nheld;
        PyObject *weaklist;
} ClientObject;

enum { RB_WRITE, RB_READ };

struct RingBuffer {
        PyObject_HEAD
        int kind;             /* RB_WRITE: from buf_alloc; RB_READ: a bulk payload */
        bool live;            /* the ring memory is still ours */
        void *buf;
        size_t len;
        Py_ssize_t exports;   /* Py_buffers handed out and not released */
        PyObject *viewref;    /* weakref to the memoryview handed out, or NULL */
        ClientObject *client; /* strong */
        ipcd_msg raw;         /* RB_READ: the library's record, for release */
        RingBuffer *prev, *next;
};

/* sender_unit is asked of the library (ipcd_msg_sender_unit: a WHOIS
 * round trip the first time for a sender, then the handle's cache) on
 * first access, not at receipt.  That needs the library's record: a bulk
 * message has it until release(); an inline one keeps it (held, linked
 * into its client) until sender_unit is read, the message goes, or the
 * client closes.  A client holds at most UNIT_HELD_MAX such records: past
 * that the oldest is looked up then (so a program that keeps many
 * messages pays a lookup per message, cached per sender) and let go. */
#define UNIT_HELD_MAX 64

typedef struct MessageObject {
        PyObject_HEAD
        long type;
        PyObject *sender; /* str or None */
        unsigned long long sender_id;
        unsigned int sender_uid;
        int sender_pid;
        PyObject *sender_unit; /* str ("" none) or None (unknown); NULL: not asked yet */
        ClientObject *unit_client;  /* held: its client (strong) */
        ipcd_msg unit_rec;          /* held: the library's record, not released */
        bool unit_held;
        int unit_busy;              /* lookups running without the GIL */
        struct MessageObject *unit_prev, *unit_next; /* in unit_client->held */
        PyObject *topic; /* str or None */
        unsigned long long id;
        unsigned int flags;
        PyObject *data;   /* bytes, or NULL for a bulk payload */
        RingBuffer *ring; /* bulk payload (strong), or NULL */
        Py_ssize_t length;
        ipcd_msg raw;     /* a copy of the library's record, for reply() */
        bool released;    /* release() was called (inline messages) */
} MessageObject;

static PyTypeObject ClientType;
static PyTypeObject MessageType;
static PyTypeObject RingBufferType;

/* ------------------------------------------------------------------ */
/* RingBuffer                                                           */

static void ring_link(ClientObject *cl, RingBuffer *rb)
{
        rb->prev = NULL;
        rb->next = cl->rings;
        if (cl->rings)
                cl->rings->prev = rb;
        cl->rings = rb;
}

static void ring_unlink(RingBuffer *rb)
{
        if (rb->prev)
                rb->prev->next = rb->next;
        else if (rb->client && rb->client->rings == rb)
                rb->client->rings = rb->next;
        if (rb->next)
                rb->next->prev = rb->prev;
        rb->prev = rb->next = NULL;
}

/* Give the ring memory back (free an unsent buffer, release a received
 * message) and forget it; only with no export left. */
static void ring_drop(RingBuffer *rb, bool give_back)
{
        if (!rb->live)
                return;
        rb->live = false;
        if (give_back && rb->client->c) {
                if (rb->kind == RB_WRITE)
                        ipcd_buf_free(rb->client->c, rb->buf);
                else
                        ipcd_msg_release(rb->client->c, &rb->raw);
        }
        rb->buf = NULL;
        ring_unlink(rb);
}

/* The memoryview handed out, if it is still alive (borrowed), or NULL.
 * RingBuffer keeps only a weak reference: a strong one would make a cycle
 * (view -> managed buffer -> RingBuffer -> view) that keeps ring memory
 * held after the user dropped everything. */
static PyObject *ring_view(RingBuffer *rb)
{
        PyObject *v;

        if (!rb->viewref)
                return NULL;
#if PY_VERSION_HEX >= 0x030D0000
        /* 3.13 deprecates PyWeakref_GetObject; the strong reference goes at
         * once (rb->viewref's referent is kept alive by our caller's use). */
        if (PyWeakref_GetRef(rb->viewref, &v) <= 0) {
                PyErr_Clear();
                return NULL;
        }
        Py_DECREF(v);
        return v;
#else
        v = PyWeakref_GetObject(rb->viewref);
        return v == Py_None ? NULL : v;
#endif
}

/* Release the memoryview handed out (and `extra`, another memoryview on
 * us); fail with BufferError if anything still exports our memory.  The
 * caller holds a reference to rb: releasing a view may drop the last
 * other one. */
static int ring_unexport(RingBuffer *rb, PyObject *extra)
{
        PyObject *r, *v = ring_view(rb);

        if (extra && extra != v) {
                r = PyObject_CallMethod(extra, "release", NULL);
                if (!r)
                        return -1;
                Py_DECREF(r);
        }
        if (v) {
                Py_INCREF(v);
                r = PyObject_CallMethod(v, "release", NULL);
                Py_DECREF(v);
                if (!r)
                        return -1;
                Py_DECREF(r);
        }
        Py_CLEAR(rb->viewref);
        if (rb->exports > 0) {
                PyErr_Format(PyExc_BufferError,
                             "%zd other view(s) of the ring memory still exist: release or "
                             "delete them first",
                             rb->exports);
                return -1;
        }
        return 0;
}

static PyObject *ring_memoryview(RingBuffer *rb)
{
        PyObject *v = ring_view(rb);

        if (v) {
                Py_INCREF(v);
                return v;
        }
        v = PyMemoryView_FromObject((PyObject *)rb);
        if (!v)
                return NULL;
        Py_XDECREF(rb->viewref);
        rb->viewref = PyWeakref_NewRef(v, NULL);
        if (!rb->viewref) {
                Py_DECREF(v);
                return NULL;
        }
        return v;
}

static int ring_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
        RingBuffer *rb = (RingBuffer *)self;

        if (!rb->live) {
                PyErr_SetString(PyExc_ValueError,
                                rb->kind == RB_READ ? "the message was released"
                                                    : "the buffer was sent or freed");
                view->obj = NULL;
                return -1;
        }
        if (PyBuffer_FillInfo(view, self, rb->buf, (Py_ssize_t)rb->len, rb->kind == RB_READ,
                              flags) < 0)
                return -1;
        rb->exports++;
        return 0;
}

static void ring_releasebuffer(PyObject *self, Py_buffer *view)
{
        ((RingBuffer *)self)->exports--;
}

static PyBufferProcs ring_as_buffer = {
        .bf_getbuffer = ring_getbuffer,
        .bf_releasebuffer = ring_releasebuffer,
};

static void ring_dealloc(PyObject *self)
{
        RingBuffer *rb = (RingBuffer *)self;

        Py_CLEAR(rb->viewref);
        ring_drop(rb, true);
        Py_CLEAR(rb->client);
        Py_TYPE(self)->tp_free(self);
}

static PyTypeObject RingBufferType = {
        PyVarObject_HEAD_INIT(NULL, 0)
        .tp_name = "ipcd._ipcd.RingBuffer",
        .tp_basicsize = sizeof(RingBuffer),
        .tp_dealloc = ring_dealloc,
        .tp_as_buffer = &ring_as_buffer,
        .tp_flags = Py_TPFLAGS_DEFAULT,
        .tp_doc = "Memory in ipcd's shared ring (internal; seen through a memoryview).",
};

static RingBuffer *ring_new(ClientObject *cl, int kind, void *buf, size_t len)
{
        RingBuffer *rb = PyObject_New(RingBuffer, &RingBufferType);

        if (!rb)
                return NULL;
        rb->kind = kind;
        rb->live = true;
        rb->buf = buf;
        rb->len = len;
        rb->exports = 0;
        rb->viewref = NULL;
        Py_INCREF(cl);
        rb->client = cl;
        memset(&rb->raw, 0, sizeof(rb->raw));
        ring_link(cl, rb);
        return rb;
}

/* ------------------------------------------------------------------ */
/* Message                                                              */

static PyObject *name_or_none(const char *s)
{
        size_t n = strnlen(s, IPCD_NAME_MAX);

        if (n == 0)
                Py_RETURN_NONE;
        return PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "surrogateescape");
}

/* Keep m (the library's record of an inline message) for sender_unit. */
static void message_unit_hold(MessageObject *msg, ClientObject *cl, const ipcd_msg *m)
{
        msg->unit_rec = *m;
        msg->unit_held = true;
        Py_INCREF(cl);
        msg->unit_client = cl;
        msg->unit_prev = NULL;
        msg->unit_next = cl->held;
        if (cl->held)
                cl->held->unit_prev = msg;
        else
                cl->held_tail = msg;
        cl->held = msg;
        cl->nheld++;
}

/* Give the held record back (no lookup may run on it). */
static void message_unit_unhold(MessageObject *msg)
{
        ClientObject *cl = msg->unit_client;

        if (!msg->unit_held)
                return;
        msg->unit_held = false;
        ipcd_msg_release(NULL, &msg->unit_rec); /* inline: drops the buffer's reference */
        memset(&msg->unit_rec, 0, sizeof(msg->unit_rec));
        if (msg->unit_prev)
                msg->unit_prev->unit_next = msg->unit_next;
        else
                cl->held = msg->unit_next;
        if (msg->unit_next)
                msg->unit_next->unit_prev = msg->unit_prev;
        else
                cl->held_tail = msg->unit_prev;
        msg->unit_prev = msg->unit_next = NULL;
        cl->nheld--;
        msg->unit_client = NULL;
        Py_DECREF(cl);
}

/* Set msg->sender_unit: ask the library (GIL released: a round trip the
 * first time for a sender).  0, or -1 with ValueError when the record is
 * gone (a bulk message released, the client closed) before it was read.
 * A library error (ENOENT: ipcd no longer knows the sender; EOPNOTSUPP:
 * an older ipcd; ...) gives None. */
static int message_unit_resolve(MessageObject *msg)
{
        ClientObject *cl;
        const char *unit;
        ipcd_msg rec;

        if (msg->sender_unit)
                return 0;
        if (msg->unit_held) {
                cl = msg->unit_client;
                rec = msg->unit_rec;
        } else if (msg->ring && msg->ring->live && msg->ring->client) {
                cl = msg->ring->client;
                rec = msg->ring->raw;
        } else {
                PyErr_SetString(PyExc_ValueError,
                                msg->ring ? "sender_unit: the message was released before it was read"
                                          : "sender_unit: the client was closed before it was read");
                return -1;
        }
        if (!cl->c || cl->closing) {
                PyErr_SetString(PyExc_ValueError,
                                "sender_unit: the client was closed before it was read");
                return -1;
        }
        Py_INCREF(cl);
        cl->busy++; /* close() waits: the handle and its strings stay */
        msg->unit_busy++; /* release() waits: the record stays */
        Py_BEGIN_ALLOW_THREADS
        unit = ipcd_msg_sender_unit(&rec);
        Py_END_ALLOW_THREADS
        msg->unit_busy--;
        if (!msg->sender_unit) {
                if (unit)
                        msg->sender_unit = PyUnicode_DecodeUTF8(unit, (Py_ssize_t)strlen(unit),
                                                                "replace");
                else {
                        Py_INCREF(Py_None);
                        msg->sender_unit = Py_None;
                }
        }
        cl->busy--;
        Py_DECREF(cl);
        if (!msg->sender_unit)
                return -1; /* decoding: MemoryError */
        if (!msg->unit_busy)
                message_unit_unhold(msg);
        return 0;
}

static PyObject *message_get_sender_unit(PyObject *self, void *closure)
{
        MessageObject *msg = (MessageObject *)self;

        if (message_unit_resolve(msg) < 0)
                return NULL;
        Py_INCREF(msg->sender_unit);
        return msg->sender_unit;
}

/* A Message for m, which this takes over: inline payloads are copied and
 * released at once, bulk ones stay in the ring (a RingBuffer that the
 * message owns and its memoryviews keep alive) until release(). */
static PyObject *message_new(ClientObject *cl, ipcd_msg *m)
{
        MessageObject *msg = PyObject_New(MessageObject, &MessageType);
        bool bulk = (m->flags & IPCD_MSG_BULK) && m->data;

        if (!msg) {
                ipcd_msg_release(cl->c, m);
                return NULL;
        }
        msg->type = m->type;
        msg->sender_id = m->sender_id;
        msg->sender_uid = (unsigned int)m->sender_uid;
        msg->sender_pid = (int)m->sender_pid;
        msg->id = m->id;
        msg->flags = m->flags;
        msg->length = (Py_ssize_t)m->len;
        msg->raw = *m;
        msg->data = NULL;
        msg->ring = NULL;
        msg->released = false;
        msg->sender_unit = NULL;
        msg->unit_client = NULL;
        msg->unit_held = false;
        msg->unit_busy = 0;
        msg->unit_prev = msg->unit_next = NULL;
        memset(&msg->unit_rec, 0, sizeof(msg->unit_rec));
        msg->sender = name_or_none(m->sender);
        msg->topic = name_or_none(m->topic);
        if ((m->flags & IPCD_MSG_NOTICE) || !m->sender_id) {
                Py_INCREF(Py_None); /* from ipcd itself: no unit */
                msg->sender_unit = Py_None;
        }
        if (msg->sender && msg->topic) {
                if (bulk)
                        msg->ring = ring_new(cl, RB_READ, (void *)m->data, m->len);
                else
                        msg->data = PyBytes_FromStringAndSize(
                                m->data ? m->data : "", m->data ? (Py_ssize_t)m->len : 0);
        }
        if (!msg->ring) {
                /* Inline (copied now): the record stays for sender_unit,
                 * or goes back (or a failure). */
                if (msg->data && !msg->sender_unit)
                        message_unit_hold(msg, cl, m);
                else
                        ipcd_msg_release(cl->c, m);
                if (!msg->data) {
                        Py_DECREF(msg);
                        return NULL;
                }
                if (cl->nheld > UNIT_HELD_MAX) {
                        /* The oldest is looked up now, and lets go. */
                        MessageObject *old = cl->held_tail;

                        Py_INCREF(old);
                        if (message_unit_resolve(old) < 0)
                                PyErr_Clear(); /* its sender_unit raises later */
                        Py_DECREF(old);
                }
        } else {
                msg->ring->raw = *m;
        }
        return (PyObject *)msg;
}

static void message_dealloc(PyObject *self)
{
        MessageObject *msg = (MessageObject *)self;

        message_unit_unhold(msg);
        Py_CLEAR(msg->sender);
        Py_CLEAR(msg->sender_unit);
        Py_CLEAR(msg->topic);
        Py_CLEAR(msg->data);
        Py_CLEAR(msg->ring); /* its memoryviews may keep the payload longer */
        Py_TYPE(self)->tp_free(self);
}

static PyObject *message_release(PyObject *self, PyObject *unused)
{
        MessageObject *msg = (MessageObject *)self;
        RingBuffer *rb = msg->ring;

        msg->released = true;
        if (!rb)
                Py_RETURN_NONE; /* inline: the payload was copied at receipt */
        while (msg->unit_busy > 0) {
                /* a sender_unit lookup in another thread reads the record */
                Py_BEGIN_ALLOW_THREADS
                usleep(1000);
                Py_END_ALLOW_THREADS
        }
        if (rb->live) {
                if (ring_unexport(rb, NULL) < 0)
                        return NULL;
                ring_drop(rb, true);
        }
        Py_RETURN_NONE;
}

static PyObject *message_get_data(PyObject *self, void *closure)
{
        MessageObject *msg = (MessageObject *)self;

        if (msg->data) {
                Py_INCREF(msg->data);
                return msg->data;
        }
        if (!msg->ring->live) {
                PyErr_SetString(PyExc_ValueError, "the message was released");
                return NULL;
        }
        return ring_memoryview(msg->ring);
}

static PyObject *message_get_released(PyObject *self, void *closure)
{
        MessageObject *msg = (MessageObject *)self;

        return PyBool_FromLong(msg->ring ? !msg->ring->live : msg->released);
}

#define FLAG_GETTER(fname, bit)                                                                   \
        static PyObject *message_get_##fname(PyObject *self, void *closure)                       \
        {                                                                                         \
                return PyBool_FromLong(((MessageObject *)self)->flags & (bit));                   \
        }
FLAG_GETTER(is_bulk, IPCD_MSG_BULK)
FLAG_GETTER(is_request, IPCD_MSG_REQUEST)
FLAG_GETTER(is_notice, IPCD_MSG_NOTICE)
FLAG_GETTER(is_monitor, IPCD_MSG_MONITOR)

static PyObject *message_len(PyObject *self, void *closure)
{
        return PyLong_FromSsize_t(((MessageObject *)self)->length);
}

static PyObject *message_enter(PyObject *self, PyObject *unused)
{
        Py_INCREF(self);
        return self;
}

static PyObject *message_exit(PyObject *self, PyObject *args)
{
        PyObject *r = message_release(self, NULL);

        if (!r)
                return NULL;
        Py_DECREF(r);
        Py_RETURN_FALSE;
}

static PyObject *message_repr(PyObject *self)
{
        MessageObject *m = (MessageObject *)self;

        return PyUnicode_FromFormat("<ipcd.Message type=%ld sender=%R sender_id=%llu topic=%R "
                                    "flags=0x%x len=%zd>",
                                    m->type, m->sender, m->sender_id, m->topic, m->flags,
                                    m->length);
}

static PyMemberDef message_members[] = {
        { "type", T_LONG, offsetof(MessageObject, type), READONLY,
          "The message type (1 ... TYPE_MAX) the sender gave; for a notice, its code." },
        { "sender", T_OBJECT, offsetof(MessageObject, sender), READONLY,
          "The sender's registered name, or None for an anonymous sender or ipcd." },
        { "sender_id", T_ULONGLONG, offsetof(MessageObject, sender_id), READONLY,
          "The sender's client id, never reused while one ipcd runs." },
        { "sender_uid", T_UINT, offsetof(MessageObject, sender_uid), READONLY,
          "The sender's uid, as authenticated by ipcd." },
        { "sender_pid", T_INT, offsetof(MessageObject, sender_pid), READONLY,
          "The sender's pid, as authenticated by ipcd." },
        { "topic", T_OBJECT, offsetof(MessageObject, topic), READONLY,
          "The topic of a published message (for a monitor copy: the destination), else "
          "None." },
        { "id", T_ULONGLONG, offsetof(MessageObject, id), READONLY,
          "Correlation id of a request; count of a notice; full length of a monitor copy." },
        { "flags", T_UINT, offsetof(MessageObject, flags), READONLY,
          "MSG_BULK, MSG_REQUEST, MSG_NOTICE, MSG_MONITOR, MSG_TOPIC bits." },
        { NULL }
};

static PyGetSetDef message_getset[] = {
        { "sender_unit", message_get_sender_unit, NULL,
          "The sender's systemd unit, as ipcd read it from its cgroup (trusted like\n"
          "sender_uid): a str, \"\" for a sender in no unit, None when not known (a\n"
          "notice, a sender ipcd no longer remembers, an ipcd older than this).  Asked\n"
          "of ipcd on first access (one round trip per sender, then cached); read it\n"
          "before release() of a bulk message and before close() of the client,\n"
          "else ValueError.",
          NULL },
        { "data", message_get_data, NULL,
          "The payload: bytes for an inline message; for a bulk one (is_bulk) a read-only\n"
          "memoryview into the shared ring, valid until release() (afterwards any use\n"
          "raises ValueError).  bytes(msg.data) copies it.",
          NULL },
        { "released", message_get_released, NULL, "True once release() was called (a bulk payload: gave it back).",
          NULL },
        { "length", message_len, NULL, "Length of the payload in bytes.", NULL },
        { "is_bulk", message_get_is_bulk, NULL, "The payload lies in the shared ring.", NULL },
        { "is_request", message_get_is_request, NULL, "A request from call(): answer with reply().",
          NULL },
        { "is_notice", message_get_is_notice, NULL, "A notice from ipcd itself.", NULL },
        { "is_monitor", message_get_is_monitor, NULL, "A copy for monitor().", NULL },
        { NULL }
};

static PyMethodDef message_methods[] = {
        { "release", message_release, METH_NOARGS,
          "release()\n--\n\n"
          "Give a bulk payload back to the ring.  The memoryview from data is released\n"
          "with it; BufferError if other views of it still exist.  Idempotent; a no-op\n"
          "for inline messages (their data is a copy)." },
        { "__enter__", message_enter, METH_NOARGS, "Return the message itself." },
        { "__exit__", message_exit, METH_VARARGS, "Release the message (release())." },
        { NULL }
};

static PyTypeObject MessageType = {
        PyVarObject_HEAD_INIT(NULL, 0)
        .tp_name = "ipcd.Message",
        .tp_basicsize = sizeof(MessageObject),
        .tp_dealloc = message_dealloc,
        .tp_repr = message_repr,
        .tp_flags = Py_TPFLAGS_DEFAULT,
        .tp_doc = "A received message (from Client.recv, Client.call, Client.messages).\n\n"
                  "A context manager: leaving the with block calls release().",
        .tp_members = message_members,
        .tp_getset = message_getset,
        .tp_methods = message_methods,
};

/* ------------------------------------------------------------------ */
/* Client helpers                                                       */

static int check_open(ClientObject *cl)
{
        if (!cl->c || cl->closing) {
                PyErr_SetString(PyExc_ValueError, "operation on a closed ipcd.Client");
                return -1;
        }
        return 0;
}

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Timeout argument (None or seconds >= 0) -> -1 or milliseconds. */
static int parse_timeout(PyObject *o, long long *ms)
{
        double t;

        if (!o || o == Py_None) {
                *ms = -1;
                return 0;
        }
        t = PyFloat_AsDouble(o);
        if (t == -1.0 && PyErr_Occurred())
                return -1;
        if (t < 0 || t != t) {
                PyErr_SetString(PyExc_ValueError, "timeout must be None or >= 0 seconds");
                return -1;
        }
        if (t > 1e12)
                t = 1e12;
        *ms = (long long)(t * 1000.0 + 0.999);
        return 0;
}

static int check_type(long type)
{
        if (type < 1 || type > IPCD_TYPE_MAX) {
                PyErr_Format(PyExc_ValueError, "message type %ld is outside 1 ... %ld", type,
                             (long)IPCD_TYPE_MAX);
                return -1;
        }
        return 0;
}

/* ------------------------------------------------------------------ */
/* Client                                                               */

static int client_init(PyObject *self, PyObject *args, PyObject *kw)
{
        ClientObject *cl = (ClientObject *)self;
        static const char *kwlist[] = { "name", "runtime_dir", NULL };
        const char *name = NULL, *rundir = NULL;
        ipcd_client *c = NULL;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kw, "|zz:Client", (char **)kwlist, &name, &rundir))
                return -1;
        if (cl->c) {
                PyErr_SetString(PyExc_RuntimeError, "Client already connected");
                return -1;
        }
        Py_BEGIN_ALLOW_THREADS
        r = ipcd_connect_at(rundir, name, &c);
        Py_END_ALLOW_THREADS
        if (r < 0) {
                set_error(r, "connect");
                return -1;
        }
        r = ipcd_set_send_timeout(c, SLICE_MS);
        if (r < 0) {
                ipcd_close(c);
                set_error(r, "connect");
                return -1;
        }
        cl->sh = calloc(1, sizeof(*cl->sh));
        if (!cl->sh) {
                ipcd_close(c);
                PyErr_NoMemory();
                return -1;
        }
        cl->send_timeout_ms = -1;
        pthread_mutex_init(&cl->sh->lock, NULL);
        cl->sh->c = c;
        cl->c = c;
        cl->closing = false;
        return 0;
}

/* Close the handle, or leave that to the last abandoned call thread. */
static void client_release_handle(ClientObject *cl)
{
        struct shared *sh = cl->sh;
        bool last;

        pthread_mutex_lock(&sh->lock);
        last = sh->workers == 0;
        if (!last)
                sh->detached = true;
        pthread_mutex_unlock(&sh->lock);
        if (last) {
                ipcd_close(cl->c);
                pthread_mutex_destroy(&sh->lock);
                free(sh);
        }
        cl->c = NULL;
        cl->sh = NULL;
}

/* Wait, GIL released, until no other thread is inside a call (call
 * threads left alive then are abandoned ones); receives and calls notice
 * `closing` within a slice, a send may wait for room longer.  -1 with a
 * signal's exception (Ctrl-C). */
static int client_quiesce(ClientObject *cl)
{
        while (cl->busy > 0) {
                Py_BEGIN_ALLOW_THREADS
                usleep(5000);
                Py_END_ALLOW_THREADS
                if (PyErr_CheckSignals() < 0)
                        return -1;
        }
        return 0;
}

/* New references to the client's live RingBuffers, as a list: releasing
 * views may free some of them, so never walk the links while doing it. */
static PyObject *client_rings(ClientObject *cl)
{
        PyObject *l = PyList_New(0);
        RingBuffer *rb;

        if (!l)
                return NULL;
        for (rb = cl->rings; rb; rb = rb->next)
                if (PyList_Append(l, (PyObject *)rb) < 0) {
                        Py_DECREF(l);
                        return NULL;
                }
        return l;
}

static PyObject *client_close(PyObject *self, PyObject *unused)
{
        ClientObject *cl = (ClientObject *)self;
        PyObject *rings;
        Py_ssize_t i;

        if (!cl->c || cl->closing)
                Py_RETURN_NONE;
        /* Views first: refusing must leave the client usable. */
        if (!(rings = client_rings(cl)))
                return NULL;
        for (i = 0; i < PyList_GET_SIZE(rings); i++)
                if (ring_unexport((RingBuffer *)PyList_GET_ITEM(rings, i), NULL) < 0) {
                        Py_DECREF(rings);
                        return NULL;
                }
        Py_DECREF(rings);
        cl->closing = true;
        if (client_quiesce(cl) < 0) {
                cl->closing = false;
                return NULL;
        }
        /* Messages other threads received meanwhile have no view yet. */
        if (!(rings = client_rings(cl))) {
                cl->closing = false;
                return NULL;
        }
        for (i = 0; i < PyList_GET_SIZE(rings); i++) {
                RingBuffer *rb = (RingBuffer *)PyList_GET_ITEM(rings, i);

                if (ring_unexport(rb, NULL) < 0) {
                        cl->closing = false;
                        Py_DECREF(rings);
                        return NULL;
                }
        }
        for (i = 0; i < PyList_GET_SIZE(rings); i++)
                ring_drop((RingBuffer *)PyList_GET_ITEM(rings, i), true);
        Py_DECREF(rings);
        /* Records kept for sender_unit: no lookup runs (quiesced). */
        Py_INCREF(self);
        while (cl->held)
                message_unit_unhold(cl->held);
        Py_DECREF(self);
        Py_BEGIN_ALLOW_THREADS
        client_release_handle(cl);
        Py_END_ALLOW_THREADS
        Py_RETURN_NONE;
}

static void client_dealloc(PyObject *self)
{
        ClientObject *cl = (ClientObject *)self;

        /* No RingBuffer and no waiting caller can be left: each holds a
         * reference to us.  An abandoned call thread may: it closes. */
        if (cl->weaklist)
                PyObject_ClearWeakRefs(self);
        if (cl->c)
                client_release_handle(cl);
        Py_TYPE(self)->tp_free(self);
}

static PyObject *client_enter(PyObject *self, PyObject *unused)
{
        if (check_open((ClientObject *)self) < 0)
                return NULL;
        Py_INCREF(self);
        return self;
}

static PyObject *client_exit(PyObject *self, PyObject *args)
{
        PyObject *r = client_close(self, NULL);

        if (!r)
                return NULL;
        Py_DECREF(r);
        Py_RETURN_FALSE;
}

static PyObject *client_fileno(PyObject *self, PyObject *unused)
{
        ClientObject *cl = (ClientObject *)self;
        int r;

        if (check_open(cl) < 0)
                return NULL;
        r = ipcd_fd(cl->c);
        if (r < 0)
                return set_error(r, "fileno");
        return PyLong_FromLong(r);
}

static int send_flags(int ack, int nonblock, int more)
{
        return (ack ? IPCD_ACK : 0) | (nonblock ? IPCD_NONBLOCK : 0) | (more ? IPCD_MORE : 0);
}

/* The four sends, for client_send_sliced. */
enum { SEND_TO, SEND_PUBLISH, SEND_BUF, SEND_PUBLISH_BUF };

struct send_op {
        int kind;
        const char *dst; /* or topic */
        long type;
        void *data;
        size_t len;
        int flags;
};

static int send_op_run(ipcd_client *c, const struct send_op *o)
{
        switch (o->kind) {
        case SEND_TO:
                return ipcd_send(c, o->dst, o->type, o->data, o->len, o->flags);
        case SEND_PUBLISH:
                return ipcd_publish(c, o->dst, o->type, o->data, o->len, o->flags);
        case SEND_BUF:
                return ipcd_send_buf(c, o->dst, o->type, o->data, o->len, o->flags);
        default:
                return ipcd_publish_buf(c, o->dst, o->type, o->data, o->len, o->flags);
        }
}

/* Run a send with the GIL released; while flow control holds it back,
 * retry it slice by slice until the caller's send timeout, checking for
 * signals (Ctrl-C) and close() in between.  Returns the library's result;
 * *pyerr set (and an exception raised) when a signal handler or close()
 * ended the wait. */
static int client_send_sliced(ClientObject *cl, const struct send_op *o, bool *pyerr)
{
        double deadline = cl->send_timeout_ms < 0 ? -1 : now_s() + cl->send_timeout_ms / 1000.0;

        *pyerr = false;
        for (;;) {
                double t0 = now_s(), t1;
                int r;

                cl->busy++;
                Py_BEGIN_ALLOW_THREADS
                r = send_op_run(cl->c, o);
                Py_END_ALLOW_THREADS
                cl->busy--;
                if (r != -ETIMEDOUT || (o->flags & IPCD_NONBLOCK))
                        return r;
                t1 = now_s();
                if (t1 - t0 >= SEND_SLICE_MAX_S || (deadline >= 0 && t1 >= deadline))
                        return r;
                if (PyErr_CheckSignals() < 0 || check_open(cl) < 0) {
                        *pyerr = true;
                        return r;
                }
        }
}

static PyObject *client_set_send_timeout(PyObject *self, PyObject *arg)
{
        ClientObject *cl = (ClientObject *)self;
        long long ms;

        if (check_open(cl) < 0 || parse_timeout(arg, &ms) < 0)
                return NULL;
        cl->send_timeout_ms = ms > INT32_MAX ? INT32_MAX : (int)ms;
        Py_RETURN_NONE;
}

static PyObject *client_send(PyObject *self, PyObject *args, PyObject *kw)
{
        ClientObject *cl = (ClientObject *)self;
        static const char *kwlist[] = { "dst", "type", "data", "ack", "nonblock", "more", NULL };
        const char *dst;
        long type;
        Py_buffer data = { 0 };
        int ack = 0, nonblock = 0, more = 0, r;
        bool pyerr;

        if (!PyArg_ParseTupleAndKeywords(args, kw, "sl|s*$ppp:send", (char **)kwlist, &dst, &type, &data,
                                         &ack, &nonblock, &more))
                return NULL;
        if (check_open(cl) < 0 || check_type(type) < 0) {
                PyBuffer_Release(&data);
                return NULL;
        }
        {
                struct send_op o = { SEND_TO, dst, type, data.buf, (size_t)data.len,
                                     send_flags(ack, nonblock, more) };

                r = client_send_sliced(cl, &o, &pyerr);
        }
        PyBuffer_Release(&data);
        if (pyerr)
                return NULL;
        if (r < 0)
                return set_error(r, "send");
        Py_RETURN_NONE;
}

static PyObject *client_publish(PyObject *self, PyObject *args, PyObject *kw)
{
        ClientObject *cl = (ClientObject *)self;
        static const char *kwlist[] = { "topic", "type", "data", "ack", "nonblock", NULL };
        const char *topic;
        long type;
        Py_buffer data = { 0 };
        int ack = 0, nonblock = 0, r;
        bool pyerr;

        if (!PyArg_ParseTupleAndKeywords(args, kw, "sl|s*$pp:publish", (char **)kwlist, &topic, &type,
                                         &data, &ack, &nonblock))
                return NULL;
        if (check_open(cl) < 0 || check_type(type) < 0) {
                PyBuffer_Release(&data);
                return NULL;
        }
        {
                struct send_op o = { SEND_PUBLISH, topic, type, data.buf, (size_t)data.len,
                                     send_flags(ack, nonblock, 0) };

                r = client_send_sliced(cl, &o, &pyerr);
        }
        PyBuffer_Release(&data);
        if (pyerr)
                return NULL;
        if (r < 0)
                return set_error(r, "publish");
        if (ack)
                return PyLong_FromLong(r);
        Py_RETURN_NONE;
}

/* Receive with the GIL released in slices; NULL with an exception. */
static PyObject *client_recv(PyObject *self, PyObject *args, PyObject *kw)
{
        ClientObject *cl = (ClientObject *)self;
        static const char *kwlist[] = { "type_filter", "timeout", NULL };
        long filter = 0;
        PyObject *timeout = Py_None;
        long long ms;
        double deadline = 0;
        ipcd_msg m;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kw, "|lO:recv", (char **)kwlist, &filter, &timeout))
                return NULL;
        if (check_open(cl) < 0 || parse_timeout(timeout, &ms) < 0)
                return NULL;
        if (ms > 0)
                deadline = now_s() + (double)ms / 1000.0;
        for (;;) {
                int slice;

                if (ms < 0)
                        slice = SLICE_MS;
                else if (ms == 0)
                        slice = 0;
                else {
                        double left = deadline - now_s();

                        slice = left <= 0 ? 0 : left * 1000 > SLICE_MS ? SLICE_MS
                                                                          : (int)(left * 1000) + 1;
                }
                cl->busy++;
                Py_BEGIN_ALLOW_THREADS
                r = ipcd_recv(cl->c, &m, filter, slice);
                Py_END_ALLOW_THREADS
                cl->busy--;
                if (r == 0)
                        return message_new(cl, &m);
                if (ms == 0 || (r != -ETIMEDOUT && r != -EAGAIN && r != -EINTR))
                        return set_error(r, "recv");
                if (ms > 0 && now_s() >= deadline)
                        return set_error(-ETIMEDOUT, "recv");
                if (PyErr_CheckSignals() < 0)
                        return NULL;
                if (check_open(cl) < 0)
                        return NULL;
        }
}

static PyObject *client_topic_op(PyObject *self, PyObject *args, const char *what,
                                 int (*fn)(ipcd_client *, const char *))
{
        ClientObject *cl = (ClientObject *)self;
        const char *pattern;
        int r;

        if (!PyArg_ParseTuple(args, "s", &pattern) || check_open(cl) < 0)
                return NULL;
        cl->busy++;
        Py_BEGIN_ALLOW_THREADS
        r = fn(cl->c, pattern);
        Py_END_ALLOW_THREADS
        cl->busy--;
        if (r < 0)
                return set_error(r, what);
        Py_RETURN_NONE;
}

static PyObject *client_subscribe(PyObject *self, PyObject *args, PyObject *kw)
{
        ClientObject *cl = (ClientObject *)self;
        static const char *kwlist[] = { "pattern", "reliable", NULL };
        const char *pattern;
        int reliable = 0, r;

        if (!PyArg_ParseTupleAndKeywords(args, kw, "s|$p:subscribe", (char **)kwlist, &pattern,
                                         &reliable) ||
            check_open(cl) < 0)
                return NULL;
        cl->busy++;
        Py_BEGIN_ALLOW_THREADS
        r = ipcd_subscribe_flags(cl->c, pattern, reliable ? IPCD_SUB_RELIABLE : 0);
        Py_END_ALLOW_THREADS
        cl->busy--;
        if (r < 0)
                return set_error(r, "subscribe");
        Py_RETURN_NONE;
}

static PyObject *client_unsubscribe(PyObject *self, PyObject *args)
{
        return client_topic_op(self, args, "unsubscribe", ipcd_unsubscribe);
}

static PyObject *client_monitor(PyObject *self, PyObject *args, PyObject *kw)
{
        ClientObject *cl = (ClientObject *)self;
        static const char *kwlist[] = { "pattern", NULL };
        const char *pattern = NULL;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kw, "|z:monitor", (char **)kwlist, &pattern) ||
            check_open(cl) < 0)
                return NULL;
        cl->busy++;
        Py_BEGIN_ALLOW_THREADS
        r = ipcd_monitor(cl->c, pattern);
        Py_END_ALLOW_THREADS
        cl->busy--;
        if (r < 0)
                return set_error(r, "monitor");
        Py_RETURN_NONE;
}

static PyObject *client_set_history(PyObject *self, PyObject *args)
{
        ClientObject *cl = (ClientObject *)self;
        const char *topic;
        unsigned int depth;
        int r;

        if (!PyArg_ParseTuple(args, "sI:set_history", &topic, &depth) || check_open(cl) < 0)
                return NULL;
        cl->busy++;
        Py_BEGIN_ALLOW_THREADS
        r = ipcd_set_history(cl->c, topic, depth);
        Py_END_ALLOW_THREADS
        cl->busy--;
        if (r < 0)
                return set_error(r, "set_history");
        return PyLong_FromLong(r);
}

static PyObject *client_set_overflow(PyObject *self, PyObject *args, PyObject *kw)
{
        ClientObject *cl = (ClientObject *)self;
        static const char *kwlist[] = { "policy", "backlog_bytes", "notify_drops", NULL };
        int policy, notify = 0, r;
        Py_ssize_t backlog = 0;

        if (!PyArg_ParseTupleAndKeywords(args, kw, "i|n$p:set_overflow", (char **)kwlist, &policy,
                                         &backlog, &notify) ||
            check_open(cl) < 0)
                return NULL;
        if (backlog < 0) {
                PyErr_SetString(PyExc_ValueError, "backlog_bytes must be >= 0");
                return NULL;
        }
        cl->busy++;
        Py_BEGIN_ALLOW_THREADS
        r = ipcd_set_overflow(cl->c, policy, (size_t)backlog, notify ? IPCD_NOTIFY_DROPS : 0);
        Py_END_ALLOW_THREADS
        cl->busy--;
        if (r < 0)
                return set_error(r, "set_overflow");
        Py_RETURN_NONE;
}

/* One ipcd_call() on its own thread. */
struct call_job {
        ipcd_client *c;
        struct shared *sh;
        char dst[IPCD_NAME_MAX];
        long type;
        void *req;
        size_t len;
        int timeout_ms;
        ipcd_msg reply;
        int r;
        bool done, abandoned;
        pthread_mutex_t lock;
        pthread_cond_t cond;
};

static void call_job_free(struct call_job *j)
{
        pthread_mutex_destroy(&j->lock);
        pthread_cond_destroy(&j->cond);
        free(j->req);
        free(j);
}

static void *call_thread(void *arg)
{
        struct call_job *j = arg;
        int r = ipcd_call(j->c, j->dst, j->type, j->req, j->len, &j->reply, j->timeout_ms);
        bool abandoned, last;
        struct shared *sh = j->sh;

        pthread_mutex_lock(&j->lock);
        j->r = r;
        j->done = true;
        abandoned = j->abandoned;
        pthread_cond_signal(&j->cond);
        pthread_mutex_unlock(&j->lock);
        if (abandoned) {
                /* Nobody waits: drop the reply, then let close() go on. */
                if (r == 0)
                        ipcd_msg_release(j->c, &j->reply);
                call_job_free(j);
        }
        pthread_mutex_lock(&sh->lock);
        sh->workers--;
        last = sh->detached && sh->workers == 0;
        pthread_mutex_unlock(&sh->lock);
        if (last) {
                ipcd_close(sh->c);
                pthread_mutex_destroy(&sh->lock);
                free(sh);
        }
        return NULL;
}

static PyObject *client_call(PyObject *self, PyObject *args, PyObject *kw)
{
        ClientObject *cl = (ClientObject *)self;
        static const char *kwlist[] = { "dst", "type", "data", "timeout", NULL };
        const char *dst;
        long type;
        Py_buffer data = { 0 };
        PyObject *timeout = Py_None;
        long long ms;
        struct call_job *j;
        pthread_attr_t attr;
        pthread_t tid;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kw, "sl|s*O:call", (char **)kwlist, &dst, &type, &data,
                                         &timeout))
                return NULL;
        if (check_open(cl) < 0 || check_type(type) < 0 || parse_timeout(timeout, &ms) < 0) {
                PyBuffer_Release(&data);
                return NULL;
        }
        if (ms == 0) {
                PyBuffer_Release(&data);
                PyErr_SetString(PyExc_ValueError, "a call must wait: timeout must be > 0 or None");
                return NULL;
        }
        if (strlen(dst) >= IPCD_NAME_MAX || !ipcd_name_is_valid(dst)) {
                PyBuffer_Release(&data);
                PyErr_Format(PyExc_ValueError, "invalid client name '%s'", dst);
                return NULL;
        }
        j = calloc(1, sizeof(*j));
        if (!j || (data.len > 0 && !(j->req = malloc((size_t)data.len)))) {
                free(j);
                PyBuffer_Release(&data);
                return PyErr_NoMemory();
        }
        j->c = cl->c;
        j->sh = cl->sh;
        strcpy(j->dst, dst);
        j->type = type;
        if (data.len > 0)
                memcpy(j->req, data.buf, (size_t)data.len);
        j->len = (size_t)data.len;
        PyBuffer_Release(&data);
        j->timeout_ms = ms < 0 ? -1 : ms > INT32_MAX ? INT32_MAX : (int)ms;
        pthread_mutex_init(&j->lock, NULL);
        pthread_cond_init(&j->cond, NULL);

        pthread_mutex_lock(&cl->sh->lock);
        cl->sh->workers++;
        pthread_mutex_unlock(&cl->sh->lock);
        cl->busy++; /* close() waits until this thread is done with cl->c */
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        r = pthread_create(&tid, &attr, call_thread, j);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                pthread_mutex_lock(&cl->sh->lock);
                cl->sh->workers--;
                pthread_mutex_unlock(&cl->sh->lock);
                cl->busy--;
                call_job_free(j);
                errno = r;
                return PyErr_SetFromErrno(PyExc_OSError);
        }

        for (;;) {
                bool done;

                Py_BEGIN_ALLOW_THREADS
                struct timespec ts;

                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += SLICE_MS * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                pthread_mutex_lock(&j->lock);
                if (!j->done)
                        pthread_cond_timedwait(&j->cond, &j->lock, &ts);
                done = j->done;
                pthread_mutex_unlock(&j->lock);
                Py_END_ALLOW_THREADS
                if (done)
                        break;
                /* A signal's exception (Ctrl-C), or close() from another
                 * thread: give the call up to its thread. */
                if (PyErr_CheckSignals() < 0 || (cl->closing && check_open(cl) < 0)) {
                        pthread_mutex_lock(&j->lock);
                        done = j->done;
                        if (!done)
                                j->abandoned = true;
                        pthread_mutex_unlock(&j->lock);
                        if (done) {
                                /* Raced with the end: release here. */
                                if (j->r == 0)
                                        ipcd_msg_release(cl->c, &j->reply);
                                call_job_free(j);
                        }
                        cl->busy--;
                        return NULL;
                }
        }
        /* The thread is done with j and has not freed it (not abandoned). */
        cl->busy--;
        r = j->r;
        if (r < 0) {
                call_job_free(j);
                return set_error(r, "call");
        }
        {
                ipcd_msg m = j->reply;

                call_job_free(j);
                return message_new(cl, &m);
        }
}

static PyObject *client_reply(PyObject *self, PyObject *args, PyObject *kw)
{
        ClientObject *cl = (ClientObject *)self;
        static const char *kwlist[] = { "request", "type", "data", NULL };
        PyObject *req;
        long type;
        Py_buffer data = { 0 };
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kw, "O!l|s*:reply", (char **)kwlist, &MessageType, &req,
                                         &type, &data))
                return NULL;
        if (check_open(cl) < 0 || check_type(type) < 0) {
                PyBuffer_Release(&data);
                return NULL;
        }
        if (!(((MessageObject *)req)->flags & IPCD_MSG_REQUEST)) {
                PyBuffer_Release(&data);
                PyErr_SetString(PyExc_ValueError, "reply() needs a request (msg.is_request)");
                return NULL;
        }
        cl->busy++;
        Py_BEGIN_ALLOW_THREADS
        r = ipcd_reply(cl->c, &((MessageObject *)req)->raw, type, data.buf, (size_t)data.len);
        Py_END_ALLOW_THREADS
        cl->busy--;
        PyBuffer_Release(&data);
        if (r < 0)
                return set_error(r, "reply");
        Py_RETURN_NONE;
}

static PyObject *client_buf_alloc(PyObject *self, PyObject *args, PyObject *kw)
{
        ClientObject *cl = (ClientObject *)self;
        static const char *kwlist[] = { "length", "nonblock", NULL };
        Py_ssize_t len;
        int nonblock = 0, r;
        void *buf = NULL;
        RingBuffer *rb;
        PyObject *view;

        if (!PyArg_ParseTupleAndKeywords(args, kw, "n|$p:buf_alloc", (char **)kwlist, &len, &nonblock) ||
            check_open(cl) < 0)
                return NULL;
        if (len <= 0) {
                PyErr_SetString(PyExc_ValueError, "length must be > 0");
                return NULL;
        }
        cl->busy++;
        Py_BEGIN_ALLOW_THREADS
        r = ipcd_buf_alloc(cl->c, (size_t)len, nonblock ? IPCD_NONBLOCK : 0, &buf);
        Py_END_ALLOW_THREADS
        cl->busy--;
        if (r < 0)
                return set_error(r, "buf_alloc");
        rb = ring_new(cl, RB_WRITE, buf, (size_t)len);
        if (!rb) {
                ipcd_buf_free(cl->c, buf);
                return NULL;
        }
        view = ring_memoryview(rb);
        Py_DECREF(rb); /* the memoryview keeps it */
        return view;
}

/* The RingBuffer behind a memoryview from buf_alloc() of this client, as
 * a new reference.  memoryview.obj refuses a released view (whose base
 * may be gone), so ask it rather than peek at the struct. */
static RingBuffer *write_buffer_of(ClientObject *cl, PyObject *o)
{
        PyObject *base;
        RingBuffer *rb;

        if (!PyMemoryView_Check(o)) {
                PyErr_SetString(PyExc_TypeError, "expected a memoryview from Client.buf_alloc()");
                return NULL;
        }
        base = PyObject_GetAttrString(o, "obj");
        if (!base) {
                PyErr_Clear();
                PyErr_SetString(PyExc_ValueError, "the buffer was sent or freed");
                return NULL;
        }
        if (!PyObject_TypeCheck(base, &RingBufferType) || ((RingBuffer *)base)->kind != RB_WRITE) {
                Py_DECREF(base);
                PyErr_SetString(PyExc_TypeError, "expected a memoryview from Client.buf_alloc()");
                return NULL;
        }
        rb = (RingBuffer *)base;
        if (rb->client != cl || !rb->live) {
                Py_DECREF(base);
                PyErr_SetString(PyExc_ValueError, rb->client != cl
                                                          ? "the buffer belongs to another client"
                                                          : "the buffer was sent or freed");
                return NULL;
        }
        return rb;
}

static PyObject *client_send_or_publish_buf(PyObject *self, PyObject *args, PyObject *kw,
                                            bool publish)
{
        ClientObject *cl = (ClientObject *)self;
        static const char *kwlist[] = { "dst", "type", "buf", "length", "ack", "nonblock", NULL };
        const char *dst;
        long type;
        PyObject *bufobj, *lenobj = Py_None;
        Py_ssize_t len;
        int ack = 0, nonblock = 0, r, flags;
        bool pyerr;
        RingBuffer *rb;
        void *buf;

        if (!PyArg_ParseTupleAndKeywords(args, kw, publish ? "slO|O$pp:publish_buf"
                                                           : "slO|O$pp:send_buf",
                                         (char **)kwlist, &dst, &type, &bufobj, &lenobj, &ack, &nonblock))
                return NULL;
        if (check_open(cl) < 0 || check_type(type) < 0 || !(rb = write_buffer_of(cl, bufobj)))
                return NULL;
        if (lenobj == Py_None)
                len = (Py_ssize_t)rb->len;
        else if ((len = PyLong_AsSsize_t(lenobj)) == -1 && PyErr_Occurred()) {
                Py_DECREF(rb);
                return NULL;
        }
        if (len <= 0 || (size_t)len > rb->len) {
                PyErr_Format(PyExc_ValueError, "length must be 1 ... %zu", rb->len);
                Py_DECREF(rb);
                return NULL;
        }
        if (ring_unexport(rb, bufobj) < 0) {
                Py_DECREF(rb);
                return NULL;
        }
        buf = rb->buf;
        flags = send_flags(ack, nonblock, 0);
        {
                struct send_op o = { publish ? SEND_PUBLISH_BUF : SEND_BUF, dst, type, buf,
                                     (size_t)len, flags };

                r = client_send_sliced(cl, &o, &pyerr);
        }
        /* Sent: the buffer is ipcd's.  Failed: its views are gone already,
         * so give it back rather than keep memory nobody can reach. */
        ring_drop(rb, r < 0);
        Py_DECREF(rb);
        if (pyerr)
                return NULL;
        if (r < 0)
                return set_error(r, publish ? "publish_buf" : "send_buf");
        if (publish && ack)
                return PyLong_FromLong(r);
        Py_RETURN_NONE;
}

static PyObject *client_send_buf(PyObject *self, PyObject *args, PyObject *kw)
{
        return client_send_or_publish_buf(self, args, kw, false);
}

static PyObject *client_publish_buf(PyObject *self, PyObject *args, PyObject *kw)
{
        return client_send_or_publish_buf(self, args, kw, true);
}

static PyObject *client_buf_free(PyObject *self, PyObject *arg)
{
        ClientObject *cl = (ClientObject *)self;
        RingBuffer *rb;

        if (check_open(cl) < 0 || !(rb = write_buffer_of(cl, arg)))
                return NULL;
        if (ring_unexport(rb, arg) < 0) {
                Py_DECREF(rb);
                return NULL;
        }
        ring_drop(rb, true);
        Py_DECREF(rb);
        Py_RETURN_NONE;
}

static PyObject *client_get_id(PyObject *self, void *closure)
{
        ClientObject *cl = (ClientObject *)self;

        if (check_open(cl) < 0)
                return NULL;
        return PyLong_FromUnsignedLongLong(ipcd_id(cl->c));
}

static PyObject *client_get_name(PyObject *self, void *closure)
{
        ClientObject *cl = (ClientObject *)self;

        if (check_open(cl) < 0)
                return NULL;
        return name_or_none(ipcd_name(cl->c));
}

static PyObject *client_get_max_inline(PyObject *self, void *closure)
{
        ClientObject *cl = (ClientObject *)self;

        if (check_open(cl) < 0)
                return NULL;
        return PyLong_FromSize_t(ipcd_max_inline(cl->c));
}

static PyObject *client_get_closed(PyObject *self, void *closure)
{
        return PyBool_FromLong(((ClientObject *)self)->c == NULL);
}

static PyGetSetDef client_getset[] = {
        { "id", client_get_id, NULL, "The client id ipcd assigned (may change after a reconnection).",
          NULL },
        { "name", client_get_name, NULL, "The registered name, or None when anonymous.", NULL },
        { "max_inline", client_get_max_inline, NULL,
          "The largest payload that travels inline; larger ones go through the ring.", NULL },
        { "closed", client_get_closed, NULL, "True after close().", NULL },
        { NULL }
};

static PyMethodDef client_methods[] = {
        { "close", client_close, METH_NOARGS,
          "close()\n--\n\n"
          "Unregister and free the handle.  Held bulk messages and unsent buffers are\n"
          "released first (BufferError, and the client stays open, while views of them\n"
          "exist).  Waits for other threads' calls to return.  Idempotent." },
        { "__enter__", client_enter, METH_NOARGS, "Return the client itself." },
        { "__exit__", client_exit, METH_VARARGS, "Close the client (close())." },
        { "fileno", client_fileno, METH_NOARGS,
          "fileno()\n--\n\n"
          "A descriptor that is readable while recv(timeout=0) may return a message\n"
          "(level-triggered), for selectors, asyncio and GUI loops.  Do not close it." },
        { "send", (PyCFunction)(void (*)(void))client_send, METH_VARARGS | METH_KEYWORDS,
          "send(dst, type, data=b'', *, ack=False, nonblock=False, more=False)\n--\n\n"
          "Send data (bytes-like, or str as UTF-8) to the client named dst with message\n"
          "type 1 ... TYPE_MAX.  ack=True waits until ipcd routed it (FileNotFoundError\n"
          "if nobody has the name, BlockingIOError if the receiver is full);\n"
          "nonblock=True raises BlockingIOError instead of waiting for room; more=True\n"
          "lets the library batch it with the next sends.  A receiver that does not keep\n"
          "up makes it wait (flow control: nothing is dropped), bounded by\n"
          "set_send_timeout() and interruptible by Ctrl-C." },
        { "recv", (PyCFunction)(void (*)(void))client_recv, METH_VARARGS | METH_KEYWORDS,
          "recv(type_filter=0, timeout=None)\n--\n\n"
          "Return the next Message.  type_filter as msgrcv(2): 0 any, > 0 exactly that\n"
          "type, < 0 the lowest type up to its absolute value.  timeout in seconds:\n"
          "None waits as long as it takes (interruptible by Ctrl-C), 0 raises\n"
          "BlockingIOError at once if nothing is there, otherwise TimeoutError." },
        { "subscribe", (PyCFunction)(void (*)(void))client_subscribe, METH_VARARGS | METH_KEYWORDS,
          "subscribe(pattern, *, reliable=False)\n--\n\n"
          "Subscribe to a topic, 'name/*' (everything below it) or '*'; in force when it\n"
          "returns.  reliable=True: nothing published to it is dropped, its publishers\n"
          "wait for it instead (inline publishes; see set_send_timeout())." },
        { "set_send_timeout", client_set_send_timeout, METH_O,
          "set_send_timeout(timeout)\n--\n\n"
          "Bound how long a send, publish or send_buf waits for a slow receiver (flow\n"
          "control) before it raises TimeoutError with nothing sent: seconds (in slices\n"
          "of 0.1 s), or None to wait as long as it takes (the default).  The wait is\n"
          "interruptible by Ctrl-C either way." },
        { "unsubscribe", client_unsubscribe, METH_VARARGS,
          "unsubscribe(pattern)\n--\n\n"
          "Remove a subscription, given as subscribed (FileNotFoundError if none)." },
        { "publish", (PyCFunction)(void (*)(void))client_publish, METH_VARARGS | METH_KEYWORDS,
          "publish(topic, type, data=b'', *, ack=False, nonblock=False)\n--\n\n"
          "Publish to every subscriber of topic.  With ack=True returns the number of\n"
          "subscribers reached, else None." },
        { "set_history", client_set_history, METH_VARARGS,
          "set_history(topic, depth)\n--\n\n"
          "Keep the last depth messages of topic for late subscribers; returns the depth\n"
          "in effect (capped by the configuration)." },
        { "set_overflow", (PyCFunction)(void (*)(void))client_set_overflow,
          METH_VARARGS | METH_KEYWORDS,
          "set_overflow(policy, backlog_bytes=0, *, notify_drops=False)\n--\n\n"
          "What ipcd does when this client's backlog is full: OVERFLOW_DROP_NEW or\n"
          "OVERFLOW_DROP_OLD; notify_drops=True puts a notice in the stream at a gap." },
        { "call", (PyCFunction)(void (*)(void))client_call, METH_VARARGS | METH_KEYWORDS,
          "call(dst, type, data=b'', timeout=None)\n--\n\n"
          "Send a request to dst and return its reply as a Message.  timeout in seconds\n"
          "(> 0, or None for no limit).  FileNotFoundError if nobody has the name,\n"
          "ConnectionResetError if the callee went away, TimeoutError.  Interruptible by\n"
          "Ctrl-C (the call is then abandoned and a late reply discarded)." },
        { "reply", (PyCFunction)(void (*)(void))client_reply, METH_VARARGS | METH_KEYWORDS,
          "reply(request, type, data=b'')\n--\n\n"
          "Answer a request (a Message with is_request), once." },
        { "monitor", (PyCFunction)(void (*)(void))client_monitor, METH_VARARGS | METH_KEYWORDS,
          "monitor(pattern=None)\n--\n\n"
          "Receive a copy (is_monitor) of every message routed to a matching name or\n"
          "topic (None or '*': all).  Root and ipcd's group only (PermissionError)." },
        { "buf_alloc", (PyCFunction)(void (*)(void))client_buf_alloc, METH_VARARGS | METH_KEYWORDS,
          "buf_alloc(length, *, nonblock=False)\n--\n\n"
          "Return a writable memoryview of length bytes in the shared ring, to fill in\n"
          "place and pass to send_buf() or publish_buf() (zero copy), or buf_free()." },
        { "send_buf", (PyCFunction)(void (*)(void))client_send_buf, METH_VARARGS | METH_KEYWORDS,
          "send_buf(dst, type, buf, length=None, *, ack=False, nonblock=False)\n--\n\n"
          "Send the first length bytes (default all) of a buffer from buf_alloc() without\n"
          "copying.  The memoryview is released either way: on success the memory is\n"
          "ipcd's, on failure it is given back.  BufferError if other views of it exist." },
        { "publish_buf", (PyCFunction)(void (*)(void))client_publish_buf,
          METH_VARARGS | METH_KEYWORDS,
          "publish_buf(topic, type, buf, length=None, *, ack=False, nonblock=False)\n--\n\n"
          "publish() for a buffer from buf_alloc(), as send_buf()." },
        { "buf_free", client_buf_free, METH_O,
          "buf_free(buf)\n--\n\n"
          "Give back an unsent buffer from buf_alloc(); its memoryview is released." },
        { NULL }
};

static PyTypeObject ClientType = {
        PyVarObject_HEAD_INIT(NULL, 0)
        .tp_name = "ipcd._ipcd.Client",
        .tp_basicsize = sizeof(ClientObject),
        .tp_dealloc = client_dealloc,
        .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
        .tp_doc = "Client(name=None, runtime_dir=None)\n--\n\n"
                  "A connection to ipcd (the low-level type; use ipcd.Client).",
        .tp_weaklistoffset = offsetof(ClientObject, weaklist),
        .tp_methods = client_methods,
        .tp_getset = client_getset,
        .tp_init = client_init,
        .tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------------ */
/* Module                                                               */

static PyObject *mod_name_is_valid(PyObject *self, PyObject *args)
{
        const char *name;

        if (!PyArg_ParseTuple(args, "s:name_is_valid", &name))
                return NULL;
        return PyBool_FromLong(ipcd_name_is_valid(name));
}

static PyMethodDef module_methods[] = {
        { "name_is_valid", mod_name_is_valid, METH_VARARGS,
          "name_is_valid(name)\n--\n\n"
          "True if name is a valid client or topic name (1-63 bytes of [A-Za-z0-9._/-])." },
        { NULL }
};

static struct PyModuleDef module_def = {
        PyModuleDef_HEAD_INIT,
        .m_name = "ipcd._ipcd",
        .m_doc = "C extension behind the ipcd package (libipcd-client).",
        .m_size = -1,
        .m_methods = module_methods,
};

static PyObject *new_error(PyObject *m, const char *name, PyObject *bases, const char *doc)
{
        char full[64];
        PyObject *e;

        snprintf(full, sizeof(full), "ipcd.%s", name);
        e = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
        if (!e)
                return NULL;
        Py_INCREF(e);
        if (PyModule_AddObject(m, name, e) < 0) {
                Py_DECREF(e);
                Py_DECREF(e);
                return NULL;
        }
        return e;
}

PyMODINIT_FUNC PyInit__ipcd(void);
PyMODINIT_FUNC PyInit__ipcd(void)
{
        PyObject *m, *b;

        if (PyType_Ready(&ClientType) < 0 || PyType_Ready(&MessageType) < 0 ||
            PyType_Ready(&RingBufferType) < 0)
                return NULL;
        m = PyModule_Create(&module_def);
        if (!m)
                return NULL;
        Error = new_error(m, "Error", PyExc_OSError,
                          "An error from ipcd not covered by a built-in OSError subclass; "
                          "errno holds the code.");
        if (!Error)
                goto fail;
        NameInUseError = new_error(m, "NameInUseError", Error,
                                   "Another client has the name (EADDRINUSE).");
        QuotaExceededError = new_error(m, "QuotaExceededError", Error,
                                       "A limit of the configuration was reached (EDQUOT).");
        MessageTooLargeError = new_error(m, "MessageTooLargeError", Error,
                                         "The payload is too large (EMSGSIZE).");
        b = Py_BuildValue("(OO)", Error, PyExc_ValueError);
        if (!b)
                goto fail;
        InvalidArgumentError = new_error(m, "InvalidArgumentError", b,
                                         "ipcd refused an argument (EINVAL).");
        Py_DECREF(b);
        if (!NameInUseError || !QuotaExceededError || !MessageTooLargeError || !InvalidArgumentError)
                goto fail;

        Py_INCREF(&ClientType);
        if (PyModule_AddObject(m, "Client", (PyObject *)&ClientType) < 0)
                goto fail;
        Py_INCREF(&MessageType);
        if (PyModule_AddObject(m, "Message", (PyObject *)&MessageType) < 0)
                goto fail;
        if (PyModule_AddIntConstant(m, "TYPE_MAX", IPCD_TYPE_MAX) < 0 ||
            PyModule_AddIntConstant(m, "NAME_MAX", IPCD_NAME_MAX) < 0 ||
            PyModule_AddIntConstant(m, "MSG_BULK", IPCD_MSG_BULK) < 0 ||
            PyModule_AddIntConstant(m, "MSG_REQUEST", IPCD_MSG_REQUEST) < 0 ||
            PyModule_AddIntConstant(m, "MSG_NOTICE", IPCD_MSG_NOTICE) < 0 ||
            PyModule_AddIntConstant(m, "MSG_MONITOR", IPCD_MSG_MONITOR) < 0 ||
            PyModule_AddIntConstant(m, "MSG_TOPIC", IPCD_MSG_TOPIC) < 0 ||
            PyModule_AddIntConstant(m, "NOTICE_DROPPED", IPCD_NOTICE_DROPPED) < 0 ||
            PyModule_AddIntConstant(m, "NOTICE_NAME_LOST", IPCD_NOTICE_NAME_LOST) < 0 ||
            PyModule_AddIntConstant(m, "NOTICE_REVOKED", IPCD_NOTICE_REVOKED) < 0 ||
            PyModule_AddIntConstant(m, "OVERFLOW_DROP_NEW", IPCD_OVERFLOW_DROP_NEW) < 0 ||
            PyModule_AddIntConstant(m, "OVERFLOW_DROP_OLD", IPCD_OVERFLOW_DROP_OLD) < 0 ||
            PyModule_AddIntConstant(m, "VERSION_MAJOR", IPCD_VERSION_MAJOR) < 0 ||
            PyModule_AddIntConstant(m, "VERSION_MINOR", IPCD_VERSION_MINOR) < 0 ||
            PyModule_AddIntConstant(m, "VERSION_PATCH", IPCD_VERSION_PATCH) < 0)
                goto fail;
        return m;
fail:
        Py_DECREF(m);
        return NULL;
}
