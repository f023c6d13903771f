/*
 * rangealloc record shim: an LD_PRELOAD interposer that logs every call of the malloc family in
 * glibc mtrace(3) text format.  Built and preloaded by `rangealloc.record`; nothing else uses it.
 *
 *     cc -O2 -shared -fPIC -o shim.so shim.c -ldl -pthread
 *     RANGEALLOC_TRACE_FILE=/tmp/prog.mtrace LD_PRELOAD=$PWD/shim.so prog args...
 *
 * What it does
 * ------------
 * It defines malloc, calloc, realloc, reallocarray, free, memalign, posix_memalign, aligned_alloc,
 * valloc and pvalloc (and _exit, _Exit: see Writing).  Each one calls glibc's own allocator through its exported `__libc_*` entry
 * points (__libc_malloc, __libc_calloc, __libc_realloc, __libc_free, __libc_memalign), so there is
 * no dlsym(RTLD_NEXT) and none of its calloc-inside-dlsym recursion, then appends one record to the
 * file named by RANGEALLOC_TRACE_FILE:
 *
 *     = Start                              first line, written as soon as the file is opened
 *     @ [0xCALLER] + 0xADDR 0xSIZE         malloc, calloc (SIZE = n*s), memalign family,
 *                                          realloc(NULL, n)
 *     # align-request 0xADDR ALIGN         after a memalign-family `+` whose alignment (decimal)
 *                                          is above 16; readers that do not care may skip it
 *                                          like any other `#` comment
 *     @ [0xCALLER] - 0xADDR                free(p), realloc(p, 0) (glibc frees p and returns NULL)
 *     @ [0xCALLER] < 0xOLD                 every other successful realloc/reallocarray, moved or
 *     @ [0xCALLER] > 0xNEW 0xSIZE          not: the two lines are always written together
 *     # raw_call_counts: malloc=N ... logged_events=N     at exit (destructor, _exit), then
 *     = End                                the exit marker; records made after it (by later
 *                                          destructors) still follow it, one write each
 *
 * CALLER is the return address of the interposed call.  Numbers are lower-case hex with a `0x`
 * prefix (a size of zero is `0x0`, where glibc's own `%#lx` writes `0`).  Not logged: free(NULL)
 * (only counted, as free_null) and failed calls (NULL result, EINVAL/ENOMEM: counted as failed;
 * a failed realloc leaves its block live, so the trace needs no record for it).  pvalloc is
 * logged with its size rounded up to the page size, the size the program may use.
 *
 * Order.  One pthread mutex is held across the real call *and* its record, so the log is one valid
 * order even for threaded programs: an address is never logged as allocated by one thread before
 * the thread that freed it has logged the free (realloc, which frees and allocates in one call,
 * needs the lock around the call itself, not only around the record).  The price is that the
 * program's allocations are serialised while it is recorded.
 *
 * Writing.  Records are formatted by hand (no stdio, no malloc in the logger) into a 64 KiB static
 * buffer and written with write(2) whenever fewer than RECORD_MAX bytes are left, and at exit, so
 * the file always holds whole records.  "At exit" is a destructor, and also _exit and _Exit, which
 * the shim defines too (flush, then exit_group(2) as glibc does) because they skip destructors and
 * some programs always leave through them (dash, Python's os._exit).  A thread-local `busy` flag makes every call
 * made while a record is being produced (by the shim itself or by a signal handler that
 * interrupts it) go straight to glibc unlogged, which also means such a handler cannot deadlock on
 * the mutex.  errno is preserved across the logging.
 *
 * Which process is logged.  Only the process that was started, and across exec(2) the last
 * program image of that same pid:
 *   - the recorder sets RANGEALLOC_TRACE_PID to a slot of twenty zeros; the first process that
 *     finds the slot unclaimed writes its pid into it, in place (no setenv: setenv allocates, and
 *     those blocks would be the shim's, not the program's), and opens the file (O_TRUNC);
 *   - a child made by fork(2) stops logging at once (a pthread_atfork handler drops the inherited
 *     buffer and closes the inherited descriptor, so nothing the parent logged is written twice);
 *   - a program exec'd by any other pid sees RANGEALLOC_TRACE_PID != getpid() and only passes
 *     calls through to glibc;
 *   - a program exec'd by the logged pid itself (`env VAR=1 prog`, `nice prog`, `sh -c 'exec prog'`)
 *     sees its own pid and starts the log again from an empty file: the trace is the program that
 *     was finally run, not its launcher.
 * Comparing pids, rather than unsetting the variable, is what keeps that last case.  The pid is
 * compared once per program image and once at exit, never per call (getpid(2) is a system call).
 * Used by hand, with RANGEALLOC_TRACE_FILE alone, the shim logs the first process and unsets the
 * variable (in its constructor) so that no child logs; the exec case is then lost.
 *
 * Limits.  Calls made before glibc has set up the environment, calls from a signal handler that
 * interrupted the shim, and calls made by glibc to itself (e.g. freeing a thread's tcache) are not
 * seen, so a trace may free a block it never saw allocated (the converter drops such frees and
 * counts them).  If the program ends without reaching exit, _exit or _Exit (a fatal signal, a raw
 * exit_group system call, exec of a program without the variables) up to 64 KiB of the last
 * records are lost: the log is then a valid prefix without the `= End` marker.  A failing write(2) (disk full) stops the log
 * the same way.  Memory obtained without malloc (mmap, sbrk, a language runtime's own arenas) is
 * not seen; neither are calls that bypass the PLT (a statically linked program, a library calling
 * __libc_malloc itself).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t nmemb, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_memalign(size_t alignment, size_t size);

#define EXPORT __attribute__((visibility("default")))
#define CALLER() __builtin_return_address(0)

#define FILE_VAR "RANGEALLOC_TRACE_FILE"
#define PID_VAR "RANGEALLOC_TRACE_PID"
#define BUFFER_SIZE (64 * 1024)
#define RECORD_MAX 256 /* the longest record, a `<` `>` pair or `+` with its align note: < 130 */

enum { UNINIT = 0, ACTIVE = 1, PASSIVE = 2 };

enum counter {
    C_MALLOC, C_CALLOC, C_REALLOC, C_REALLOCARRAY, C_FREE, C_FREE_NULL, C_MEMALIGN,
    C_POSIX_MEMALIGN, C_ALIGNED_ALLOC, C_VALLOC, C_PVALLOC, C_FAILED, C_LOGGED, N_COUNTERS
};

static const char *const counter_names[N_COUNTERS] = {
    "malloc", "calloc", "realloc", "reallocarray", "free", "free_null", "memalign",
    "posix_memalign", "aligned_alloc", "valloc", "pvalloc", "failed", "logged_events",
};

/* `state` is written under the lock and read without it on the fast path (relaxed atomics). */
static int state = UNINIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int busy __attribute__((tls_model("initial-exec")));

/* Everything below is only touched with the lock held. */
static int fd = -1;
static pid_t owner;             /* the pid that opened the log */
static int unbuffered;          /* set by the destructor: write each record at once */
static size_t used;
static char buffer[BUFFER_SIZE];
static unsigned long counts[N_COUNTERS];

/* ---- output: hand-made formatting into the static buffer ---------------------------------- */

static void stop_logging(void)
{
    if (fd >= 0)
        close(fd);
    fd = -1;
    used = 0;
    __atomic_store_n(&state, PASSIVE, __ATOMIC_RELAXED);
}

static void flush(void)
{
    size_t done = 0;
    while (done < used) {
        ssize_t n = write(fd, buffer + done, used - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            stop_logging(); /* disk full, closed descriptor...: keep the prefix written so far */
            return;
        }
        done += (size_t)n;
    }
    used = 0;
}

/* The formatters take and return a cursor into `buffer`: with `used` itself updated after every
 * byte, each char store could alias it and the compiler would reload it each time (that cost
 * 20 of the 70 ns a logged call took, log to /dev/null, x86-64). */
#define PUT(q, literal) (memcpy((q), (literal), sizeof(literal) - 1), (q) + sizeof(literal) - 1)

static char *put_str(char *q, const char *s)
{
    while (*s)
        *q++ = *s++;
    return q;
}

static char *put_hex(char *q, uintptr_t v)
{
    int n = v ? (64 - __builtin_clzll((unsigned long long)v) + 3) / 4 : 1;
    q[0] = '0';
    q[1] = 'x';
    q += 2 + n;
    for (char *d = q; d > q - n; v >>= 4)
        *--d = "0123456789abcdef"[v & 15];
    return q;
}

static char *put_dec(char *q, unsigned long v)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *q++ = digits[--n];
    return q;
}

/* Make room for one record (or one `<`/`>` pair) and write its `@ [0xCALLER] ` prefix. */
static char *start_record(const void *caller)
{
    char *q;
    if (used + RECORD_MAX > BUFFER_SIZE)
        flush();
    q = PUT(buffer + used, "@ [");
    q = put_hex(q, (uintptr_t)caller);
    return PUT(q, "] ");
}

static void end_record(char *q)
{
    used = (size_t)(q - buffer);
    counts[C_LOGGED]++;
    if (unbuffered)
        flush();
}

static void log_alloc(const void *caller, const void *p, size_t size, size_t align)
{
    char *q = start_record(caller);
    q = PUT(q, "+ ");
    q = put_hex(q, (uintptr_t)p);
    *q++ = ' ';
    q = put_hex(q, size);
    *q++ = '\n';
    if (align > 16) {
        q = PUT(q, "# align-request ");
        q = put_hex(q, (uintptr_t)p);
        *q++ = ' ';
        q = put_dec(q, align);
        *q++ = '\n';
    }
    end_record(q);
}

static void log_free(const void *caller, const void *p)
{
    char *q = start_record(caller);
    q = PUT(q, "- ");
    q = put_hex(q, (uintptr_t)p);
    *q++ = '\n';
    end_record(q);
}

static void log_realloc(const void *caller, const void *old, const void *p, size_t size)
{
    char *q = start_record(caller);
    q = PUT(q, "< ");
    q = put_hex(q, (uintptr_t)old);
    q = PUT(q, "\n@ [");
    q = put_hex(q, (uintptr_t)caller);
    q = PUT(q, "] > ");
    q = put_hex(q, (uintptr_t)p);
    *q++ = ' ';
    q = put_hex(q, size);
    *q++ = '\n';
    end_record(q);
}

/* ---- which process logs ------------------------------------------------------------------ */

static long parse_pid(const char *s)
{
    long v = 0;
    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

/* An unclaimed pid slot: all zeros, and room for any pid (the recorder passes twenty zeros). */
static int unclaimed(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (s[n] != '0')
            return 0;
    return n >= 12;
}

/* Write `pid` into the slot, in place and right-aligned ("000...0012345"): no setenv, hence no
 * malloc and no environment lock.  The string lives in the process's initial environment block,
 * which is writable; fork copies it and execve passes it on, so every later process sees it. */
static void claim(char *slot, pid_t pid)
{
    size_t n = 0;
    unsigned long v = (unsigned long)pid;
    while (slot[n])
        n++;
    do {
        slot[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n);
}

/* Decide, with the lock held, whether this program image logs.  Before glibc has set up the
 * environment getenv() finds nothing: stay UNINIT and let a later call (or the constructor) decide. */
static void try_init(void)
{
    const char *path = getenv(FILE_VAR);
    char *logger;
    pid_t pid;
    if (path == NULL || path[0] == '\0')
        return;
    pid = getpid();
    logger = getenv(PID_VAR);
    if (logger != NULL && unclaimed(logger)) {
        claim(logger, pid);
    } else if (logger != NULL && parse_pid(logger) != (long)pid) {
        __atomic_store_n(&state, PASSIVE, __ATOMIC_RELAXED); /* a child of the logged process */
        return;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        __atomic_store_n(&state, PASSIVE, __ATOMIC_RELAXED);
        return;
    }
    owner = pid;
    __atomic_store_n(&state, ACTIVE, __ATOMIC_RELAXED);
    used = (size_t)(PUT(buffer + used, "= Start\n") - buffer);
    flush(); /* at once: an empty file then means the shim never ran (static or set-user-id program) */
}

/* Return 1 with the lock held if this call is to be logged, 0 (lock not held) if not. */
static inline int begin(void)
{
    if (busy || __atomic_load_n(&state, __ATOMIC_RELAXED) == PASSIVE)
        return 0;
    busy = 1;
    pthread_mutex_lock(&lock);
    if (state == UNINIT)
        try_init();
    if (state != ACTIVE) {
        pthread_mutex_unlock(&lock);
        busy = 0;
        return 0;
    }
    return 1;
}

static inline void end(int saved_errno)
{
    pthread_mutex_unlock(&lock);
    busy = 0;
    errno = saved_errno;
}

static void before_fork(void)
{
    pthread_mutex_lock(&lock);
}

static void after_fork_parent(void)
{
    pthread_mutex_unlock(&lock);
}

static void after_fork_child(void)
{
    stop_logging(); /* drop the parent's unwritten records and its descriptor */
    pthread_mutex_unlock(&lock);
}

__attribute__((constructor)) static void shim_init(void)
{
    int active;

    busy = 1;
    pthread_mutex_lock(&lock);
    if (state == UNINIT)
        try_init();
    if (state == UNINIT)
        __atomic_store_n(&state, PASSIVE, __ATOMIC_RELAXED); /* no variable: pass calls through */
    active = state == ACTIVE;
    pthread_mutex_unlock(&lock);
    if (active) {
        pthread_atfork(before_fork, after_fork_parent, after_fork_child);
        if (getenv(PID_VAR) == NULL)
            unsetenv(FILE_VAR); /* used by hand, without a slot for the pid: children stay unlogged */
    }
    busy = 0;
}

/* Write the counts and the `= End` marker, flush, and write any later record at once.  Only in the
 * logging process itself: a vfork(2) child shares the buffer but has another pid. */
static void finish(void)
{
    if (busy || __atomic_load_n(&state, __ATOMIC_RELAXED) != ACTIVE)
        return; /* `busy`: a signal handler interrupted the shim; it cannot take the lock */
    busy = 1;
    pthread_mutex_lock(&lock);
    if (state == ACTIVE && !unbuffered && getpid() == owner) {
        char *q;
        if (used + 512 > BUFFER_SIZE)
            flush();
        q = PUT(buffer + used, "# raw_call_counts:");
        for (int i = 0; i < N_COUNTERS; i++) {
            *q++ = ' ';
            q = put_str(q, counter_names[i]);
            *q++ = '=';
            q = put_dec(q, counts[i]);
        }
        q = PUT(q, "\n= End\n");
        used = (size_t)(q - buffer);
        flush();
        unbuffered = 1; /* later destructors may still allocate: write those records at once */
    }
    pthread_mutex_unlock(&lock);
    busy = 0;
}

__attribute__((destructor)) static void shim_fini(void)
{
    finish();
}

/* _exit and _Exit skip the destructors (dash, for one, always leaves through _exit): flush first,
 * then end the process as glibc does, with exit_group(2). */
EXPORT void _exit(int status)
{
    finish();
    for (;;)
        syscall(SYS_exit_group, status);
}

EXPORT void _Exit(int status)
{
    finish();
    for (;;)
        syscall(SYS_exit_group, status);
}

/* ---- the interposed functions ------------------------------------------------------------- */

EXPORT void *malloc(size_t size)
{
    void *p;
    if (!begin())
        return __libc_malloc(size);
    p = __libc_malloc(size);
    int saved = errno;
    counts[C_MALLOC]++;
    if (p != NULL)
        log_alloc(CALLER(), p, size, 0);
    else
        counts[C_FAILED]++;
    end(saved);
    return p;
}

EXPORT void *calloc(size_t nmemb, size_t size)
{
    void *p;
    if (!begin())
        return __libc_calloc(nmemb, size);
    p = __libc_calloc(nmemb, size);
    int saved = errno;
    counts[C_CALLOC]++;
    if (p != NULL)
        log_alloc(CALLER(), p, nmemb * size, 0); /* no overflow: calloc checked it */
    else
        counts[C_FAILED]++;
    end(saved);
    return p;
}

EXPORT void free(void *ptr)
{
    if (!begin()) {
        __libc_free(ptr);
        return;
    }
    int saved = errno;
    if (ptr == NULL) {
        counts[C_FREE_NULL]++;
    } else {
        counts[C_FREE]++;
        log_free(CALLER(), ptr);
        __libc_free(ptr);
    }
    end(saved);
}

static void *logged_realloc(void *old, size_t size, const void *caller, enum counter which)
{
    void *p;
    if (!begin())
        return __libc_realloc(old, size);
    p = __libc_realloc(old, size);
    int saved = errno;
    counts[which]++;
    if (old == NULL) {
        if (p != NULL)
            log_alloc(caller, p, size, 0);
        else
            counts[C_FAILED]++;
    } else if (p != NULL) {
        log_realloc(caller, old, p, size);
    } else if (size == 0) {
        log_free(caller, old); /* glibc's realloc(p, 0) frees p and returns NULL */
    } else {
        counts[C_FAILED]++; /* the old block is still live and unchanged */
    }
    end(saved);
    return p;
}

EXPORT void *realloc(void *ptr, size_t size)
{
    return logged_realloc(ptr, size, CALLER(), C_REALLOC);
}

EXPORT void *reallocarray(void *ptr, size_t nmemb, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(nmemb, size, &bytes)) {
        if (begin()) {
            counts[C_REALLOCARRAY]++;
            counts[C_FAILED]++;
            end(errno);
        }
        errno = ENOMEM;
        return NULL;
    }
    return logged_realloc(ptr, bytes, CALLER(), C_REALLOCARRAY);
}

/* memalign, aligned_alloc, valloc, pvalloc: all are glibc's memalign underneath. */
static void *logged_memalign(size_t align, size_t size, const void *caller, enum counter which)
{
    void *p;
    if (!begin())
        return __libc_memalign(align, size);
    p = __libc_memalign(align, size);
    int saved = errno;
    counts[which]++;
    if (p != NULL)
        log_alloc(caller, p, size, align);
    else
        counts[C_FAILED]++;
    end(saved);
    return p;
}

EXPORT void *memalign(size_t alignment, size_t size)
{
    return logged_memalign(alignment, size, CALLER(), C_MEMALIGN);
}

EXPORT void *aligned_alloc(size_t alignment, size_t size)
{
    return logged_memalign(alignment, size, CALLER(), C_ALIGNED_ALLOC);
}

EXPORT void *valloc(size_t size)
{
    return logged_memalign((size_t)getpagesize(), size, CALLER(), C_VALLOC);
}

EXPORT void *pvalloc(size_t size)
{
    size_t page = (size_t)getpagesize();
    size_t rounded = (size + page - 1) & ~(page - 1);
    if (rounded < size) {
        if (begin()) {
            counts[C_PVALLOC]++;
            counts[C_FAILED]++;
            end(errno);
        }
        errno = ENOMEM;
        return NULL;
    }
    return logged_memalign(page, rounded, CALLER(), C_PVALLOC);
}

EXPORT int posix_memalign(void **memptr, size_t alignment, size_t size)
{
    void *p;
    int saved;
    /* glibc's rule: a power of two that is a multiple of sizeof(void *) */
    if (alignment % sizeof(void *) != 0 || alignment == 0 || (alignment & (alignment - 1)) != 0) {
        if (begin()) {
            counts[C_POSIX_MEMALIGN]++;
            counts[C_FAILED]++;
            end(errno);
        }
        return EINVAL;
    }
    if (!begin()) {
        p = __libc_memalign(alignment, size);
    } else {
        p = __libc_memalign(alignment, size);
        saved = errno;
        counts[C_POSIX_MEMALIGN]++;
        if (p != NULL)
            log_alloc(CALLER(), p, size, alignment);
        else
            counts[C_FAILED]++;
        end(saved);
    }
    if (p == NULL)
        return ENOMEM;
    *memptr = p;
    return 0;
}
