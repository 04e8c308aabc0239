import CGPGME
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Signs `Release` files with an OpenPGP key kept in a GnuPG home, through gpgme.
///
/// A gpgme context costs a `gpg --version` run (a fork of this process) to make, so a signer
/// keeps two, each used by one thread at a time: one for signing, with its key found once, and
/// one for verifying and exporting. Keys have no passphrase and nothing is ever asked on a
/// terminal (loopback pinentry).
public struct Signer: Sendable {
    public let homeDirectory: String
    public let fingerprint: String
    private let contexts = ContextCache()

    public init(homeDirectory: String, fingerprint: String) {
        self.homeDirectory = homeDirectory
        self.fingerprint = fingerprint
    }

    /// Makes a new ed25519 signing key without passphrase or expiry in `homeDirectory`.
    public static func generateKey(homeDirectory: String, userID: String) throws(SigningError) -> Signer {
        let context = try Context(homeDirectory: homeDirectory)
        let flags = UInt32(GPGME_CREATE_SIGN) | UInt32(GPGME_CREATE_NOPASSWD) | UInt32(GPGME_CREATE_NOEXPIRE)
        try check(gpgme_op_createkey(context.handle, userID, "ed25519", 0, 0, nil, flags), "creating a signing key")
        guard let result = gpgme_op_genkey_result(context.handle), let fpr = result.pointee.fpr else {
            throw SigningError(operation: "creating a signing key", detail: "gpg reported no fingerprint")
        }
        return Signer(homeDirectory: homeDirectory, fingerprint: String(cString: fpr))
    }

    /// Copies the secret key `fingerprint` from another GnuPG home into `homeDirectory`.
    public static func importKey(
        fingerprint: String, from sourceHome: String, into homeDirectory: String
    ) throws(SigningError) -> Signer {
        let source = try Context(homeDirectory: sourceHome)
        let key = try source.secretKey(fingerprint)
        defer { gpgme_key_unref(key) }
        let exported = try source.output { data throws(SigningError) in
            var keys: [gpgme_key_t?] = [key, nil]
            try check(
                gpgme_op_export_keys(source.handle, &keys, gpgme_export_mode_t(GPGME_EXPORT_MODE_SECRET), data),
                "exporting key \(fingerprint) from \(sourceHome)")
        }
        guard !exported.isEmpty else {
            throw SigningError(
                operation: "exporting key \(fingerprint) from \(sourceHome)",
                detail: "gpg exported nothing (does the key have a passphrase? Depot needs one without)")
        }
        let target = try Context(homeDirectory: homeDirectory)
        try target.input(exported) { data throws(SigningError) in
            try check(gpgme_op_import(target.handle, data), "importing key \(fingerprint)")
        }
        let full = try target.secretKey(fingerprint)
        defer { gpgme_key_unref(full) }
        return Signer(homeDirectory: homeDirectory, fingerprint: String(cString: full.pointee.fpr))
    }

    /// `InRelease` and `Release.gpg` of a `Release` text, with one gpgme context and one key
    /// lookup: each of those starts a gpg process, and a publish pays for every one.
    public func signRelease(_ text: [UInt8]) throws(SigningError) -> (inRelease: [UInt8], releaseGPG: [UInt8]) {
        let signatures = try sign(text, modes: [GPGME_SIG_MODE_CLEAR, GPGME_SIG_MODE_DETACH])
        return (signatures[0], signatures[1])
    }

    /// The public key, ASCII-armored.
    public func exportPublicKey() throws(SigningError) -> String {
        let bytes = try contexts.plain(homeDirectory: homeDirectory) { context throws(SigningError) in
            try context.output { data throws(SigningError) in
                try check(gpgme_op_export(context.handle, fingerprint, 0, data), "exporting the public key")
            }
        }
        guard !bytes.isEmpty else {
            throw SigningError(
                operation: "exporting the public key", detail: "no key \(fingerprint) in \(homeDirectory)")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Finds the secret key and makes the signing context now: a change can then be refused
    /// before it is made when it could not be signed, and signing later costs no more.
    public func prepare() throws(SigningError) {
        try contexts.signing(homeDirectory: homeDirectory, fingerprint: fingerprint) { _ throws(SigningError) in }
    }

    /// Checks a clearsigned text (`InRelease`) and returns the text that was signed.
    public func verifyClearsigned(_ signed: [UInt8]) throws(SigningError) -> [UInt8] {
        try contexts.plain(homeDirectory: homeDirectory) { context throws(SigningError) in
            let plain = try context.input(signed) { data throws(SigningError) in
                try context.output { out throws(SigningError) in
                    try check(gpgme_op_verify(context.handle, data, nil, out), "verifying a clearsigned file")
                }
            }
            try checkVerification(context)
            return plain
        }
    }

    /// Checks a detached signature (`Release.gpg`) of `text` (`Release`).
    public func verifyDetached(signature: [UInt8], of text: [UInt8]) throws(SigningError) {
        try contexts.plain(homeDirectory: homeDirectory) { context throws(SigningError) in
            try context.input(signature) { signatureData throws(SigningError) in
                try context.input(text) { textData throws(SigningError) in
                    try check(
                        gpgme_op_verify(context.handle, signatureData, textData, nil), "verifying a detached signature")
                }
            }
            try checkVerification(context)
        }
    }

    /// A verification passes when some signature is good and made by this signer's key
    /// (gpg reports the signing subkey's or the primary key's fingerprint).
    private func checkVerification(_ context: Context) throws(SigningError) {
        guard let result = gpgme_op_verify_result(context.handle) else {
            throw SigningError(operation: "verifying", detail: "gpg returned no result")
        }
        var signature = result.pointee.signatures
        var seen: [String] = []
        while let current = signature {
            let fpr = current.pointee.fpr.map { String(cString: $0) } ?? "?"
            if gpgme_err_code(current.pointee.status) == GPG_ERR_NO_ERROR
                && (fingerprint.hasSuffix(fpr) || fpr.hasSuffix(fingerprint) || context.keyHasSubkey(fingerprint, fpr))
            {
                return
            }
            seen.append("\(fpr): \(String(cString: gpgme_strerror(current.pointee.status)))")
            signature = current.pointee.next
        }
        throw SigningError(
            operation: "verifying",
            detail: seen.isEmpty
                ? "not signed" : "no good signature by \(fingerprint) (\(seen.joined(separator: "; ")))")
    }

    private func sign(_ text: [UInt8], modes: [gpgme_sig_mode_t]) throws(SigningError) -> [[UInt8]] {
        try contexts.signing(homeDirectory: homeDirectory, fingerprint: fingerprint) {
            context throws(SigningError) in
            var signatures: [[UInt8]] = []
            for mode in modes {
                signatures.append(
                    try context.input(text) { plain throws(SigningError) in
                        try context.output { signature throws(SigningError) in
                            try check(gpgme_op_sign(context.handle, plain, signature, mode), "signing")
                        }
                    })
            }
            return signatures
        }
    }
}

/// The contexts a signer uses, each made once, on first use, and used by one thread at a
/// time: one that signs, its key chosen, and one that verifies and exports, which works without
/// the secret key.
private final class ContextCache: @unchecked Sendable {
    private let signingLock = NSLock()
    private var signingContext: Context?
    private let plainLock = NSLock()
    private var plainContext: Context?

    func signing<T>(
        homeDirectory: String, fingerprint: String, _ body: (Context) throws(SigningError) -> T
    ) throws(SigningError) -> T {
        signingLock.lock()
        defer { signingLock.unlock() }
        if signingContext == nil {
            let fresh = try Context(homeDirectory: homeDirectory)
            let key = try fresh.secretKey(fingerprint)
            defer { gpgme_key_unref(key) }
            try check(gpgme_signers_add(fresh.handle, key), "choosing the signing key")
            signingContext = fresh
        }
        return try body(signingContext!)
    }

    func plain<T>(homeDirectory: String, _ body: (Context) throws(SigningError) -> T) throws(SigningError) -> T {
        plainLock.lock()
        defer { plainLock.unlock() }
        if plainContext == nil { plainContext = try Context(homeDirectory: homeDirectory) }
        return try body(plainContext!)
    }
}

/// A failed gpg operation, with gpgme's explanation.
public struct SigningError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var detail: String

    public var description: String { "\(operation) failed: \(detail)" }
}

private func check(_ error: gpgme_error_t, _ operation: String) throws(SigningError) {
    guard gpgme_err_code(error) != GPG_ERR_NO_ERROR else { return }
    throw SigningError(operation: operation, detail: String(cString: gpgme_strerror(error)))
}

/// One gpgme context bound to one GnuPG home.
private final class Context {
    let handle: gpgme_ctx_t
    let homeDirectory: String

    /// gpgme must be told its version once before anything else works. Without gpgconf it
    /// finds gpg where Debian installs it, and saves the three gpgconf runs (each a fork of
    /// this process) it would make to ask.
    private static let initialized: Bool = {
        gpgme_set_global_flag("disable-gpgconf", "1")
        gpgme_check_version(nil)
        return true
    }()

    init(homeDirectory: String) throws(SigningError) {
        _ = Self.initialized
        var context: gpgme_ctx_t?
        try check(gpgme_new(&context), "starting gpgme")
        guard let context else { throw SigningError(operation: "starting gpgme", detail: "no context") }
        handle = context
        self.homeDirectory = homeDirectory
        let home = shortGnuPGHome(homeDirectory)
        try check(gpgme_set_protocol(handle, GPGME_PROTOCOL_OpenPGP), "selecting OpenPGP")
        try check(gpgme_ctx_set_engine_info(handle, GPGME_PROTOCOL_OpenPGP, nil, home), "using GnuPG home \(home)")
        gpgme_set_armor(handle, 1)
        try check(gpgme_set_pinentry_mode(handle, GPGME_PINENTRY_MODE_LOOPBACK), "disabling prompts")
    }

    deinit { gpgme_release(handle) }

    /// Whether the key `fingerprint` has a subkey `subkeyFingerprint`.
    func keyHasSubkey(_ fingerprint: String, _ subkeyFingerprint: String) -> Bool {
        var key: gpgme_key_t?
        guard gpgme_err_code(gpgme_get_key(handle, fingerprint, &key, 0)) == GPG_ERR_NO_ERROR, let key else {
            return false
        }
        defer { gpgme_key_unref(key) }
        var subkey = key.pointee.subkeys
        while let current = subkey {
            if let fpr = current.pointee.fpr, String(cString: fpr) == subkeyFingerprint { return true }
            subkey = current.pointee.next
        }
        return false
    }

    /// Listed on this context: `gpgme_get_key` makes a context of its own for the listing,
    /// and every context asks gpg for its version, one more process each time.
    func secretKey(_ fingerprint: String) throws(SigningError) -> gpgme_key_t {
        var key: gpgme_key_t?
        var error = gpgme_op_keylist_start(handle, fingerprint, 1)
        if gpgme_err_code(error) == GPG_ERR_NO_ERROR {
            error = gpgme_op_keylist_next(handle, &key)
            gpgme_op_keylist_end(handle)
        }
        guard gpgme_err_code(error) == GPG_ERR_NO_ERROR, let key else {
            throw SigningError(
                operation: "finding the secret key \(fingerprint)",
                detail: "not in the GnuPG home \(homeDirectory) (\(String(cString: gpgme_strerror(error))))")
        }
        return key
    }

    /// Runs `body` with a gpgme data object reading `bytes`.
    func input<T>(_ bytes: [UInt8], _ body: (gpgme_data_t) throws(SigningError) -> T) throws(SigningError) -> T {
        var data: gpgme_data_t?
        let error = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(buffer.count, 1)) {
                gpgme_data_new_from_mem(&data, $0, buffer.count, 1)
            }
        }
        try check(error, "preparing data for gpg")
        guard let data else { throw SigningError(operation: "preparing data for gpg", detail: "no data object") }
        defer { gpgme_data_release(data) }
        return try body(data)
    }

    /// Runs `body` with an empty gpgme data object and returns what was written into it.
    func output(_ body: (gpgme_data_t) throws(SigningError) -> Void) throws(SigningError) -> [UInt8] {
        var data: gpgme_data_t?
        try check(gpgme_data_new(&data), "preparing output for gpg")
        guard let data else { throw SigningError(operation: "preparing output for gpg", detail: "no data object") }
        do {
            try body(data)
        } catch {
            gpgme_data_release(data)
            throw error
        }
        var length = 0
        guard let memory = gpgme_data_release_and_get_mem(data, &length) else { return [] }
        defer { gpgme_free(memory) }
        return memory.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }
}

/// gpg-agent puts its sockets in the GnuPG home when there is no /run/user/UID, and fails
/// silently when that path is longer than a socket address allows (~108 bytes with the
/// socket's name). A long home is reached through a short symbolic link in /tmp instead.
func shortGnuPGHome(_ home: String) -> String {
    guard home.utf8.count > 60 else { return home }
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in home.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    let link = "/tmp/depot-gnupg-" + String(hash, radix: 36)
    var buffer = [CChar](repeating: 0, count: 4096)
    let length = readlink(link, &buffer, buffer.count - 1)
    if length < 0 || String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) != home {
        unlink(link)
        symlink(home, link)
    }
    return link
}
