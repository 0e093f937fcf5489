/*
 * fuzz.h - what the fuzz harnesses share. A harness is one file with
 * libFuzzer's entry points (LLVMFuzzerTestOneInput, optionally
 * LLVMFuzzerInitialize), linked either with libFuzzer (meson -Dfuzz=true,
 * clang) or with replay.c, which feeds it a corpus without libFuzzer.
 */
#ifndef SB_TEST_FUZZ_H
#define SB_TEST_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property every input must keep. A broken one aborts, which libFuzzer
 * reports as a crash (and saves the input) and the replay driver as a
 * failed test; unlike assert() it stays under NDEBUG. */
#define SB_FUZZ_CHECK(cond, ...)                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz: %s:%d: %s: ", __FILE__, __LINE__, #cond);                       \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
