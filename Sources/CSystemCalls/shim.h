#pragma once

// glibc declares syncfs(2) only under _GNU_SOURCE, which Swift's Glibc module is built
// without; the function itself is in libc.
int syncfs(int fd);

// strptime(3) likewise needs _XOPEN_SOURCE.
struct tm;
char *strptime(const char *s, const char *format, struct tm *tm);

// openat2(2) has no glibc wrapper: opens `path` below the directory `directory`, failing if
// resolving it (".." or symbolic links) would leave that directory.
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline int depot_open_beneath(int directory, const char *path) {
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, directory, path, &how, sizeof how);
}

// fstat(2) by its own system call: glibc's fstat goes through fstatat(fd, "", AT_EMPTY_PATH),
// which this kernel handles as a path lookup, a measurable part of serving a small file.
#include <sys/stat.h>

static inline int depot_fstat(int descriptor, struct stat *status) {
    return (int)syscall(SYS_fstat, descriptor, status);
}

// A file with no name yet in `directory`'s file system (O_TMPFILE): written whole, then given
// its name with `depot_link_descriptor`, so nobody ever sees it half written and a crash
// leaves nothing behind. Returns -1 with errno EOPNOTSUPP (or EISDIR on old kernels) where
// the file system cannot.
// (glibc defines both flags only under _GNU_SOURCE; these are the kernel's generic values.)
#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

static inline int depot_open_unnamed(const char *directory, mode_t mode) {
    return open(directory, O_WRONLY | O_TMPFILE | O_CLOEXEC, mode);
}

// Gives the open file `descriptor` the name `path`; fails with EEXIST if the name is taken,
// never replacing anything. Through /proc/self/fd (any user), else AT_EMPTY_PATH (which needs
// CAP_DAC_READ_SEARCH) where /proc is not mounted.
#include <stdio.h>

static inline int depot_link_descriptor(int descriptor, const char *path) {
    char name[32];
    snprintf(name, sizeof name, "/proc/self/fd/%d", descriptor);
    if (linkat(AT_FDCWD, name, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0) return 0;
    if (errno != ENOENT) return -1;
    int saved = errno;
    if (linkat(descriptor, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0) return 0;
    errno = saved;
    return -1;
}
