/* The POSIX entry points Spillway calls: page locking for --mlock. */
#include <sys/mman.h>
#include <sys/resource.h>

#include <string.h>
