#include "loader/source.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"

static bitnet_status read_all(int fd, const char *path, uint8_t *buf, uint64_t size)
{
    uint64_t done = 0;
    while (done < size) {
        size_t chunk = size - done > (1u << 30) ? (1u << 30) : (size_t)(size - done);
        ssize_t n = read(fd, buf + done, chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return bn_error(BITNET_ERR_IO, "%s: read failed at byte %llu of %llu: %s", path,
                            (unsigned long long)done, (unsigned long long)size,
                            n < 0 ? strerror(errno) : "unexpected end of file");
        done += (uint64_t)n;
    }
    return BITNET_OK;
}

static bitnet_status open_fd(bn_source *src, const char *path, int fd, int use_mmap)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return bn_error(BITNET_ERR_IO, "%s: stat failed: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return bn_error(BITNET_ERR_IO, "%s: not a regular file", path);
    if (st.st_size <= 0)
        return bn_error(BITNET_ERR_BAD_FORMAT, "%s: file is empty", path);
    uint64_t size = (uint64_t)st.st_size;
    if (size > SIZE_MAX)
        return bn_error(BITNET_ERR_OUT_OF_MEMORY, "%s: file too large to address", path);
    if (use_mmap) {
        void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
            return bn_error(BITNET_ERR_IO, "%s: mmap of %llu bytes failed: %s", path,
                            (unsigned long long)size, strerror(errno));
#ifdef MADV_HUGEPAGE
        /* Pages read in through this mapping go into the page cache as 2 MiB
         * folios, mapped whole: decode streams every weight each token, and
         * 4 KiB pages cost it a TLB miss per page (about 15% of decode
         * speed). Files already cached in small folios keep them. */
        (void)madvise(p, (size_t)size, MADV_HUGEPAGE);
#endif
        src->data = p;
        src->kind = BN_SOURCE_MMAP;
    } else {
        uint8_t *buf = bn_malloc_weights((size_t)size);
        if (!buf)
            return bn_error(BITNET_ERR_OUT_OF_MEMORY, "%s: cannot allocate %llu bytes", path,
                            (unsigned long long)size);
        bitnet_status s = read_all(fd, path, buf, size);
        if (s != BITNET_OK) {
            bn_free(buf);
            return s;
        }
        src->data = buf;
        src->kind = BN_SOURCE_HEAP;
    }
    src->size = size;
    return BITNET_OK;
}

bitnet_status bn_source_open_file(bn_source *src, const char *path, int use_mmap)
{
    memset(src, 0, sizeof *src);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bn_error(BITNET_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    bitnet_status s = open_fd(src, path, fd, use_mmap);
    close(fd);
    return s;
}

void bn_source_borrow(bn_source *src, const void *data, size_t size)
{
    src->data = data;
    src->size = size;
    src->kind = BN_SOURCE_BORROWED;
}

void bn_source_close(bn_source *src)
{
    if (!src->data)
        return;
    if (src->kind == BN_SOURCE_MMAP)
        munmap((void *)src->data, (size_t)src->size);
    else if (src->kind == BN_SOURCE_HEAP)
        bn_free((void *)src->data);
    src->data = NULL;
    src->size = 0;
}
