#pragma once

// glibc declares syncfs(2) only under _GNU_SOURCE, which Swift's Glibc module is built
// without; the function itself is in libc.
int syncfs(int fd);

// strptime(3) likewise needs _XOPEN_SOURCE.
struct tm;
char *strptime(const char *s, const char *format, struct tm *tm);
