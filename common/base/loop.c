/* The epoll event loop of wdts/loop.h. Timers live in a flat array scanned linearly:
 * a worker holds a few hundred at most, and the scan is cheaper than keeping a heap in
 * order under frequent cancels. It does not handle signals or threads. */
#include "wdts/loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "wdts/mem.h"
#include "wdts/time.h"

struct loop_io {
    wdts_loop_io_cb cb;
    void *opaque;
    int events; /* 0: not watched */
};

struct loop_timer {
    uint64_t id;
    int64_t due_ms;
    wdts_loop_timer_cb cb;
    void *opaque;
};

struct wdts_loop {
    int epfd;
    struct loop_io *io; /* indexed by fd */
    size_t io_cap;
    struct loop_timer *timers;
    size_t ntimers, timers_cap;
    uint64_t next_id;
    int64_t max_late_ms; /* most a timer fired after its due time, since last read */
};

struct wdts_loop *wdts_loop_new(char *errstr, size_t errstr_size)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        snprintf(errstr, errstr_size, "epoll_create1: %s", strerror(errno));
        return NULL;
    }
    struct wdts_loop *loop = wdts_xcalloc(1, sizeof(*loop));
    loop->epfd = epfd;
    loop->next_id = 1;
    return loop;
}

void wdts_loop_destroy(struct wdts_loop *loop)
{
    if (loop == NULL)
        return;
    close(loop->epfd);
    free(loop->io);
    free(loop->timers);
    free(loop);
}

wdts_err_t wdts_loop_io_set(struct wdts_loop *loop, int fd, int events, wdts_loop_io_cb cb,
                            void *opaque)
{
    if (fd < 0)
        return WDTS_ERR_INVAL;
    if ((size_t)fd >= loop->io_cap) {
        size_t cap = loop->io_cap ? loop->io_cap : 64;
        while (cap <= (size_t)fd)
            cap *= 2;
        loop->io = wdts_xrealloc(loop->io, cap * sizeof(*loop->io));
        memset(loop->io + loop->io_cap, 0, (cap - loop->io_cap) * sizeof(*loop->io));
        loop->io_cap = cap;
    }
    struct loop_io *io = &loop->io[fd];
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.data.fd = fd;
    ev.events = ((events & WDTS_LOOP_READ) ? EPOLLIN : 0u) |
                ((events & WDTS_LOOP_WRITE) ? EPOLLOUT : 0u);
    int rc = 0;
    if (events == 0) {
        if (io->events != 0)
            rc = epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
        if (rc != 0 && errno == EBADF)
            rc = 0; /* already closed: the kernel dropped it */
    } else if (io->events == 0) {
        rc = epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev);
        if (rc != 0 && errno == EEXIST)
            rc = epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev);
    } else {
        rc = epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev);
        if (rc != 0 && errno == ENOENT) /* closed and reopened under the same number */
            rc = epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev);
    }
    io->events = events;
    io->cb = events ? cb : NULL;
    io->opaque = events ? opaque : NULL;
    return rc == 0 ? WDTS_OK : WDTS_ERR_IO;
}

uint64_t wdts_loop_timer_add(struct wdts_loop *loop, int64_t delay_ms, wdts_loop_timer_cb cb,
                             void *opaque)
{
    if (loop->ntimers == loop->timers_cap) {
        loop->timers_cap = loop->timers_cap ? loop->timers_cap * 2 : 64;
        loop->timers = wdts_xrealloc(loop->timers, loop->timers_cap * sizeof(*loop->timers));
    }
    struct loop_timer *t = &loop->timers[loop->ntimers++];
    t->id = loop->next_id++;
    t->due_ms = wdts_time_mono_ms() + (delay_ms > 0 ? delay_ms : 0);
    t->cb = cb;
    t->opaque = opaque;
    return t->id;
}

void wdts_loop_timer_cancel(struct wdts_loop *loop, uint64_t id)
{
    if (id == 0)
        return;
    for (size_t i = 0; i < loop->ntimers; i++) {
        if (loop->timers[i].id == id) {
            loop->timers[i] = loop->timers[--loop->ntimers];
            return;
        }
    }
}

size_t wdts_loop_timer_count(const struct wdts_loop *loop)
{
    return loop->ntimers;
}

/* Index of the earliest timer, or -1. */
static long earliest(const struct wdts_loop *loop)
{
    long best = -1;
    for (size_t i = 0; i < loop->ntimers; i++)
        if (best < 0 || loop->timers[i].due_ms < loop->timers[best].due_ms ||
            (loop->timers[i].due_ms == loop->timers[best].due_ms &&
             loop->timers[i].id < loop->timers[best].id))
            best = (long)i;
    return best;
}

int wdts_loop_run_once(struct wdts_loop *loop, int max_wait_ms)
{
    int64_t now = wdts_time_mono_ms();
    long e = earliest(loop);
    int wait = max_wait_ms < 0 ? 0 : max_wait_ms;
    if (e >= 0) {
        int64_t d = loop->timers[e].due_ms - now;
        if (d < wait)
            wait = d < 0 ? 0 : (int)d;
    }
    struct epoll_event evs[64];
    int n = epoll_wait(loop->epfd, evs, 64, wait);
    int ran = 0;
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        if ((size_t)fd >= loop->io_cap || loop->io[fd].events == 0)
            continue; /* unwatched by an earlier callback of this batch */
        int ev = 0;
        if (evs[i].events & EPOLLIN)
            ev |= WDTS_LOOP_READ;
        if (evs[i].events & EPOLLOUT)
            ev |= WDTS_LOOP_WRITE;
        if (evs[i].events & (EPOLLERR | EPOLLHUP))
            ev |= WDTS_LOOP_ERROR | (loop->io[fd].events & (WDTS_LOOP_READ | WDTS_LOOP_WRITE));
        loop->io[fd].cb(fd, ev, loop->io[fd].opaque);
        ran++;
    }
    /* Due timers, earliest first; a timer added by a callback with delay 0 waits for the
     * next iteration, so a callback that re-arms itself cannot starve the descriptors. */
    now = wdts_time_mono_ms();
    uint64_t limit_id = loop->next_id;
    for (;;) {
        e = earliest(loop);
        if (e < 0 || loop->timers[e].due_ms > now || loop->timers[e].id >= limit_id)
            break;
        struct loop_timer t = loop->timers[e];
        loop->timers[e] = loop->timers[--loop->ntimers];
        if (now - t.due_ms > loop->max_late_ms)
            loop->max_late_ms = now - t.due_ms;
        t.cb(t.opaque);
        ran++;
    }
    return ran;
}

int64_t wdts_loop_take_max_late_ms(struct wdts_loop *loop)
{
    int64_t v = loop->max_late_ms;
    loop->max_late_ms = 0;
    return v;
}
