import AptRepository
import DebianFormat
import Foundation

extension Repository {
    /// Runs `body` holding the repository's exclusive lock (`flock` on `.depot/lock`), so two
    /// writers never interleave; waits for the current holder. Every holder may publish, so
    /// the signing key is found first: a change that could not be signed is refused before it
    /// is made.
    ///
    /// A holder writes its pid and command line into the lock file, so that a writer kept
    /// waiting (by a stopped or slow process) can say for whom, and gives up after
    /// `lockTimeout` seconds rather than wait forever in silence.
    ///
    /// Nodes sharing a PostgreSQL store and a bucket have no disk in common: there the store
    /// keeps changes apart (`Store.isShared`), and this takes no lock.
    func withLock<T>(cancelled: () -> Bool = { false }, _ body: () throws -> T) throws -> T {
        if store.isShared { try checkRecordedConfiguration() }
        if store.isShared && storage.isShared {
            if cancelled() { throw DepotError.cancelled }
            try prepareSigner()
            return try body()
        }
        let path = privateDirectory + "/lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw DepotError.file(FileError(path: path, operation: "open lock", code: errno)) }
        defer { close(descriptor) }
        if !(try tryLock(descriptor, path: path)) {
            onLockWait?(Self.lockHolder(descriptor))
            let deadline = ContinuousClock.now + .milliseconds(Int(lockTimeout * 1000))
            var pause = 1_000
            while !(try tryLock(descriptor, path: path)) {
                guard ContinuousClock.now < deadline else {
                    throw DepotError.lockTimeout(holder: Self.lockHolder(descriptor), waited: lockTimeout)
                }
                if cancelled() { throw DepotError.cancelled }
                usleep(useconds_t(pause))
                pause = min(pause * 2, 25_000)
            }
        }
        // Emptied before the lock is let go, so that a later holder that does not say who it
        // is (a backup script's flock) is not taken for this process.
        defer {
            _ = ftruncate(descriptor, 0)
            flock(descriptor, LOCK_UN)
        }
        // Whoever asked may have left while this waited: then nothing is done for them.
        if cancelled() { throw DepotError.cancelled }
        let holder = Array("pid \(getpid()) (\(CommandLine.arguments.joined(separator: " ")))".utf8)
        _ = ftruncate(descriptor, 0)
        _ = holder.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        try prepareSigner()
        return try body()
    }

    private func prepareSigner() throws {
        do {
            try signer.prepare()
        } catch {
            throw DepotError.signingKeyUnavailable(error, keyring: keyringDirectory)
        }
    }

    /// Takes the lock if no one holds it.
    private func tryLock(_ descriptor: Int32, path: String) throws -> Bool {
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            if errno == EWOULDBLOCK { return false }
            guard errno == EINTR else { throw DepotError.file(FileError(path: path, operation: "lock", code: errno)) }
        }
        return true
    }

    /// Who holds the lock, as the holder wrote it into the lock file.
    static func lockHolder(_ descriptor: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        let text = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self)
        return text.isEmpty ? "another process" : text
    }

    /// Who holds the lock of the repository whose store is at `storePath`.
    static func lockHolder(ofStoreAt storePath: String) -> String {
        let descriptor = open((storePath as NSString).deletingLastPathComponent + "/lock", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return "another process" }
        defer { close(descriptor) }
        return lockHolder(descriptor)
    }
}
