/*
 * replay.c - runs a fuzz harness without libFuzzer: feeds every file of
 * the given corpus directories (recursively, in name order) to the
 * harness's LLVMFuzzerTestOneInput, once each, after its
 * LLVMFuzzerInitialize if it has one. The plain and sanitizer builds link
 * each harness with this driver into a unit test, so the seeds and every
 * regression case (a crash or sanitizer finding kept in the corpus) go
 * through the same entry point in every build, under valgrind too.
 *
 * Usage: fuzz_replay_<name> DIR...; exit status 0 after the last input, 1
 * if a directory cannot be read or holds no input (so a misplaced corpus
 * cannot pass as an empty one). A failing input aborts, as under
 * libFuzzer, and the last "replay:" line names it.
 */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "sensorbridge/util.h"

/* Optional in a harness, as in libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Inputs above this are refused rather than read: every harness caps its
 * libFuzzer -max_len far below it. */
#define REPLAY_MAX_INPUT (16 * 1024 * 1024)

static int run_file(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct sb_buf b;
    sb_buf_init(&b);
    size_t n;
    do {
        sb_buf_reserve(&b, 65536);
        n = fread(b.data + b.len, 1, 65536, f);
        b.len += n;
    } while (n > 0 && b.len <= REPLAY_MAX_INPUT);
    int bad = ferror(f);
    fclose(f);
    if (bad || b.len > REPLAY_MAX_INPUT) {
        fprintf(stderr, "replay: %s: %s\n", path, bad ? "read error" : "input too large");
        sb_buf_free(&b);
        return -1;
    }
    size_t size = b.len;
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
    /* A copy of exactly the input's size, so ASan and valgrind see a read
     * past its end as libFuzzer's own copy would show it. */
    uint8_t *copy = sb_xmalloc(size ? size : 1);
    if (size)
        memcpy(copy, b.data, size);
    sb_buf_free(&b);
    LLVMFuzzerTestOneInput(copy, size);
    free(copy);
    (*count)++;
    return 0;
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int run_dir(const char *dir, size_t *count)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, name_cmp);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        if (rc == 0 && name[0] != '.') {
            size_t len = strlen(dir) + 1 + strlen(name) + 1;
            char *path = sb_xmalloc(len);
            snprintf(path, len, "%s/%s", dir, name);
            struct stat st;
            if (stat(path, &st) != 0) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
                rc = -1;
            } else if (S_ISDIR(st.st_mode)) {
                rc = run_dir(path, count);
            } else if (S_ISREG(st.st_mode)) {
                rc = run_file(path, count);
            }
            free(path);
        }
        free(ents[i]);
    }
    free(ents);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        size_t count = 0;
        if (run_dir(argv[i], &count) != 0)
            return 1;
        if (count == 0) {
            fprintf(stderr, "replay: %s holds no input\n", argv[i]);
            return 1;
        }
        fprintf(stderr, "replay: %s: %zu inputs\n", argv[i], count);
    }
    return 0;
}
