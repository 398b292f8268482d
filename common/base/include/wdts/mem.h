/* Allocation that never returns NULL: on out-of-memory the process aborts with a
 * message. Pods are disposable and delivery is at-least-once, so a crash loses
 * nothing that is not replayed. */
#ifndef WDTS_MEM_H
#define WDTS_MEM_H

#include <stddef.h>

void *wdts_xmalloc(size_t size);
void *wdts_xcalloc(size_t nmemb, size_t size);
void *wdts_xrealloc(void *ptr, size_t size);
/** @owner returns new memory; free() it. s may not be NULL. */
char *wdts_xstrdup(const char *s);
/** @owner returns new memory (n bytes of s plus a NUL); free() it. */
char *wdts_xstrndup(const char *s, size_t n);
/** printf into new memory. @owner free() the result. */
char *wdts_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
