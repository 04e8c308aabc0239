import COpenSSLCrypto
import Crypto
import Dispatch

/// A file's size and the four digests Debian indices carry, as lower-case hex.
public struct Checksums: Sendable, Hashable, Codable {
    public var size: Int64
    public var md5: String
    public var sha1: String
    public var sha256: String
    public var sha512: String

    public init(size: Int64, md5: String, sha1: String, sha256: String, sha512: String) {
        self.size = size
        self.md5 = md5
        self.sha1 = sha1
        self.sha256 = sha256
        self.sha512 = sha512
    }

    /// The checksums of bytes held in memory.
    public init(of bytes: some Collection<UInt8>) {
        let hasher = ChecksumHasher()
        var array = Array(bytes)
        array.withUnsafeMutableBytes { hasher.update(UnsafeRawBufferPointer($0)) }
        self = hasher.finalize()
    }
}

/// Computes MD5, SHA-1, SHA-256 and SHA-512 in one pass over the bytes fed to it. Large
/// buffers are hashed on two threads at once, the four digests split so both carry about
/// the same load (SHA-512 + SHA-1 against MD5 + SHA-256).
public final class ChecksumHasher: @unchecked Sendable {
    // Each pair is only touched by one thread at a time: `update` returns after both finish.
    private var md5 = Insecure.MD5()
    private var sha1 = Insecure.SHA1()
    private var sha256 = SHA256()
    private let sha512 = OpenSSLSHA512()
    private var size: Int64 = 0

    /// Below this, the cost of waking a second thread outweighs the gain.
    private static let parallelThreshold = 256 * 1024

    public init() {}

    public func update(_ buffer: UnsafeRawBufferPointer) {
        size += Int64(buffer.count)
        guard buffer.count >= Self.parallelThreshold else {
            updateFirstPair(buffer)
            updateSecondPair(buffer)
            return
        }
        // The caller keeps the buffer alive until this returns, after both halves finish.
        nonisolated(unsafe) let shared = buffer
        DispatchQueue.concurrentPerform(iterations: 2) { half in
            if half == 0 { updateFirstPair(shared) } else { updateSecondPair(shared) }
        }
    }

    private func updateFirstPair(_ buffer: UnsafeRawBufferPointer) {
        sha512.update(bufferPointer: buffer)
        sha1.update(bufferPointer: buffer)
    }

    private func updateSecondPair(_ buffer: UnsafeRawBufferPointer) {
        md5.update(bufferPointer: buffer)
        sha256.update(bufferPointer: buffer)
    }

    public func finalize() -> Checksums {
        Checksums(
            size: size,
            md5: lowercaseHex(md5.finalize()),
            sha1: lowercaseHex(sha1.finalize()),
            sha256: lowercaseHex(sha256.finalize()),
            sha512: lowercaseHex(sha512.finalize()))
    }
}

/// SHA-512 through OpenSSL's libcrypto (see COpenSSLCrypto for why not swift-crypto's).
final class OpenSSLSHA512 {
    private let context: OpaquePointer

    /// Fetched once: with `EVP_sha512()` every `EVP_DigestInit_ex` looks the algorithm up
    /// among OpenSSL's providers again, a measurable part of hashing a small file.
    /// (An `EVP_MD` is immutable once fetched, and OpenSSL documents it as shareable by threads.)
    private nonisolated(unsafe) static let algorithm = EVP_MD_fetch(nil, "SHA512", nil) ?? EVP_sha512()

    init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, Self.algorithm, nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    func update(bufferPointer buffer: UnsafeRawBufferPointer) {
        EVP_DigestUpdate(context, buffer.baseAddress, buffer.count)
    }

    func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        return digest
    }
}

/// Lower-case hexadecimal digits of a digest.
public func lowercaseHex<D: Sequence<UInt8>>(_ digest: D) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var characters: [UInt8] = []
    characters.reserveCapacity(128)
    for byte in digest {
        characters.append(digits[Int(byte >> 4)])
        characters.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: characters, as: UTF8.self)
}
