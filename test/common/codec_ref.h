/*
 * codec_ref.h - the jansson-based message decoder, the oracle that
 * the hand-written sb_codec_decode must agree with byte for byte. Same
 * contract as sb_codec_decode (see sensorbridge/codec.h).
 */
#ifndef SB_TEST_CODEC_REF_H
#define SB_TEST_CODEC_REF_H

#include <stddef.h>

#include "sensorbridge/codec.h"

int sb_codec_decode_ref(const void *buf, size_t len, int strict, struct sb_decoded *out,
                        enum sb_invalid_reason *reason);

#endif
