#pragma once

// glibc declares syncfs(2) only under _GNU_SOURCE, which Swift's Glibc module is built
// without; the function itself is in libc.
int syncfs(int fd);

// strptime(3) likewise needs _XOPEN_SOURCE.
struct tm;
char *strptime(const char *s, const char *format, struct tm *tm);

// openat2(2) has no glibc wrapper: opens `path` below the directory `directory`, failing if
// resolving it (".." or symbolic links) would leave that directory.
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
