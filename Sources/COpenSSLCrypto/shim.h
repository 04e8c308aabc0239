#pragma once

// OpenSSL's libcrypto, for SHA-512 only: its assembly uses AVX2 on x86-64, where
// swift-crypto's BoringSSL falls back to portable C (about half the speed, measured).
#include <openssl/evp.h>
