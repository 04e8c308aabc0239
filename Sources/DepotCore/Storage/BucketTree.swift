import AptRepository
import Crypto
import DebianFormat
import Foundation
import S3Client
import Synchronization

/// The served tree in an S3-compatible bucket, below a key prefix.
///
/// A bucket has no rename that switches a tree at once, so the order of writes keeps every
/// client consistent instead: pool objects are created (never overwritten) before the change
/// that lists them commits; a publish writes the new `by-hash/` objects, then the plain-named
/// indices, `Release`, `Release.gpg`, and `InRelease` last, replacing it only if it is still
/// the one the publish started from. A client that fetched any `InRelease` finds every object
/// it names, with those hashes, until gc deletes what nothing names any more, `gcGrace`
/// seconds later.
final class BucketTree: PublishedStorage {
    let configuration: ObjectStorageConfiguration
    /// Made on first use: reading the store needs neither credentials nor the bucket.
    private let client: Result<S3Client, DepotError>

    /// How many requests run at once.
    static let width = 8
    /// Files from this size up go up in parts, several at once.
    static let multipartThreshold = 64 << 20
    /// The by-hash names written for each index: apt fetches by the strongest hash `Release`
    /// lists (SHA512), and SHA256 is what other tools look for.
    static let byHashAlgorithms: [HashAlgorithm] = [.sha256, .sha512]

    init(_ configuration: ObjectStorageConfiguration) {
        self.configuration = configuration
        client = Result { () throws(DepotError) -> S3Client in
            let credentials: AWSCredentials
            do {
                credentials = try AWSCredentials.standard()
            } catch {
                throw DepotError.objectStorage("bucket '\(configuration.bucket)': \(error)")
            }
            do {
                return try S3Client(
                    endpoint: configuration.effectiveEndpoint, region: configuration.region,
                    bucket: configuration.bucket, addressing: Self.addressing(configuration), credentials: credentials)
            } catch {
                throw DepotError.objectStorage("\(error)")
            }
        }
    }

    private func connection() throws(DepotError) -> S3Client { try client.get() }

    private static func addressing(_ configuration: ObjectStorageConfiguration) -> S3Client.Addressing {
        configuration.effectiveAddressing == .path ? .path : .virtual
    }

    func key(_ path: String) -> String {
        configuration.prefix.isEmpty ? path : configuration.prefix + "/" + path
    }

    func location(of path: String) -> String { "s3://\(configuration.bucket)/\(key(path))" }

    var gcGrace: Int { configuration.gcGrace }

    /// `Public-URL`, else the bucket's own URL of the prefix (known without credentials).
    var redirectBase: String? {
        if let url = configuration.publicURL { return url }
        guard
            let location = try? S3Client.Location(
                endpoint: configuration.effectiveEndpoint, bucket: configuration.bucket,
                addressing: Self.addressing(configuration))
        else { return nil }
        let marker = "archive-key.asc"
        return String(location.url(of: key(marker)).dropLast(marker.count + 1))
    }

    var isShared: Bool { true }

    func poolWriter() -> any PoolWriter { BucketPoolWriter(tree: self) }

    /// Checks, before a repository is made, that the bucket answers to these credentials and
    /// that nothing is stored under the prefix yet: a new repository never writes over
    /// another's tree.
    func checkEmpty() throws {
        let client = try connection()
        let prefix = configuration.prefix.isEmpty ? "" : configuration.prefix + "/"
        let found = try run { try await client.list(prefix: prefix, pageSize: 1, maxPages: 1) }
        if let first = found.first {
            throw DepotError.objectStorage(
                "\(configuration.url) already holds objects (\(first.key)): give a new repository a prefix of its own")
        }
    }

    // MARK: - Publishing

    func publishBase(of distribution: String) throws(PublishError) -> PublishBase {
        do {
            let client = try connection()
            guard let current = try waitFor({ try await client.getWithETag(self.key("dists/\(distribution)/InRelease")) })
            else { return .none }
            return PublishBase(inRelease: current.body, eTag: current.eTag, lastModified: current.lastModified)
        } catch {
            throw .storage(error)
        }
    }

    func publish(_ rendered: RenderedDistribution, over base: PublishBase) throws(PublishError) -> PublishedObjects {
        do {
            return try waitFor { try await self.upload(rendered, over: base) }
        } catch let error as PublishError {
            throw error
        } catch {
            throw .storage(error)
        }
    }

    private func upload(_ rendered: RenderedDistribution, over previous: PublishBase) async throws -> PublishedObjects {
        let client = try connection()
        let directory = "dists/\(rendered.distribution)/"
        let inReleasePath = directory + "InRelease"
        let previousEntries =
            previous.inRelease.flatMap { ReleaseFile.signedText(ofClearsigned: String(decoding: $0, as: UTF8.self)) }
            .map(ReleaseFile.entries) ?? []
        let previousSHA256 = Dictionary(
            previousEntries.filter { $0.algorithm == .sha256 }.map { ($0.path, $0.hash) }, uniquingKeysWith: { a, _ in a })
        let previousByHash = Set(
            previousEntries.filter { Self.byHashAlgorithms.contains($0.algorithm) }.map {
                directory + Self.byHashPath(of: $0.path, algorithm: $0.algorithm, digest: $0.hash)
            })

        // 1. Every index under its by-hash names, unless the last InRelease named it already
        //    (then it was written before that InRelease was).
        var named: [String] = []
        var byHash: [ObjectWrite] = []
        for file in rendered.indexFiles {
            for algorithm in Self.byHashAlgorithms {
                let path =
                    directory + Self.byHashPath(of: file.path, algorithm: algorithm, digest: algorithm.digest(of: file.checksums))
                named.append(path)
                if !previousByHash.contains(path) {
                    byHash.append(
                        ObjectWrite(
                            path: path, bytes: file.bytes, sha256: file.checksums.sha256,
                            contentType: TreeFile.contentType(of: file.path), cacheControl: TreeFile.immutable))
                }
            }
        }
        try await forEachConcurrently(byHash, width: Self.width) { try await self.put($0, client: client) }

        // 2. The plain-named indices that changed. One the last InRelease names with the same
        //    hash is checked by its ETag (a plain PUT's MD5): a publish that stopped half-way
        //    may have left another there.
        let plain = rendered.indexFiles.map { file in
            ObjectWrite(
                path: directory + file.path, bytes: file.bytes, sha256: file.checksums.sha256,
                contentType: TreeFile.contentType(of: file.path), cacheControl: TreeFile.revalidated,
                md5: previousSHA256[file.path] == file.checksums.sha256 ? file.checksums.md5 : nil)
        }
        try await forEachConcurrently(plain, width: Self.width) { upload in
            if let md5 = upload.md5, try await client.head(self.key(upload.path))?.eTag == "\"\(md5)\"" { return }
            try await self.put(upload, client: client)
        }

        // 3. Release and Release.gpg, then InRelease, only over the one this publish started from.
        let signatures = [
            ObjectWrite(directory + "Release", rendered.release), ObjectWrite(directory + "Release.gpg", rendered.releaseGPG),
        ]
        try await forEachConcurrently(signatures, width: 2) { try await self.put($0, client: client) }
        // Last-Modified counts whole seconds and apt revalidates InRelease with
        // If-Modified-Since: one replaced within the second a client fetched the old one would
        // be answered 304, and the client would keep the old tree. So not in that second.
        if let lastModified = previous.lastModified, let written = Self.httpDate(lastModified) {
            let wait = written.timeIntervalSince1970.rounded(.down) + 1.05 - Date().timeIntervalSince1970
            if wait > 0 { try await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
        }
        do throws(S3Error) {
            try await put(
                ObjectWrite(inReleasePath, rendered.inRelease), client: client,
                condition: previous.eTag.map { .matches(eTag: $0) } ?? .absent)
        } catch {
            guard error.problem == .preconditionFailed else { throw error }
            throw BucketRaceError(location: location(of: inReleasePath), distribution: rendered.distribution)
        }
        return PublishedObjects(named: named, superseded: previousByHash.subtracting(named).sorted())
    }

    /// `main/binary-amd64/by-hash/SHA256/<digest>` for `main/binary-amd64/Packages.xz`.
    static func byHashPath(of path: String, algorithm: HashAlgorithm, digest: String) -> String {
        (path as NSString).deletingLastPathComponent + "/by-hash/\(algorithm.rawValue)/\(digest)"
    }

    struct ObjectWrite: Sendable {
        var path: String
        var bytes: [UInt8]
        var sha256: String
        var contentType: String
        var cacheControl: String
        /// The MD5 of the bytes, when the object may already hold them.
        var md5: String?

        init(
            path: String, bytes: [UInt8], sha256: String, contentType: String, cacheControl: String,
            md5: String? = nil
        ) {
            self.path = path
            self.bytes = bytes
            self.sha256 = sha256
            self.contentType = contentType
            self.cacheControl = cacheControl
            self.md5 = md5
        }

        /// A file a publish replaces (Release, its signatures, the key).
        init(_ path: String, _ bytes: [UInt8]) {
            self.init(
                path: path, bytes: bytes, sha256: lowercaseHex(SHA256.hash(data: bytes)),
                contentType: TreeFile.contentType(of: path), cacheControl: TreeFile.revalidated)
        }
    }

    private func put(_ upload: ObjectWrite, client: S3Client, condition: S3Client.Condition? = nil) async throws(S3Error) {
        try await client.put(
            key(upload.path), body: .bytes(upload.bytes), sha256: upload.sha256, contentType: upload.contentType,
            cacheControl: upload.cacheControl, acl: configuration.acl, condition: condition)
    }

    func writeArchiveKeyIfMissing(_ exportKey: () throws -> [UInt8]) throws {
        let client = try connection()
        let path = "archive-key.asc"
        guard try run({ try await client.head(self.key(path)) }) == nil else { return }
        let upload = ObjectWrite(path, try exportKey())
        try run {
            do {
                try await self.put(upload, client: client, condition: .absent)
            } catch let error as S3Error where error.problem == .preconditionFailed {
                // Another writer put it there meanwhile: the same key, which never changes.
            }
        }
    }

    // MARK: - Pool files

    /// Seconds after which an unrecorded pool object is a failed push's leftover: a push
    /// records what it uploaded far sooner, or gives up (a change waits at most minutes).
    static let unfinishedPushAge: Double = 3600

    /// Creates the pool object at `poolPath` from the file at `localPath`; returns whether it
    /// made it (false: the same bytes were there already). An object of that name with other
    /// bytes is replaced only when `replaceable`; it is then a leftover of a push that never
    /// committed, which no client was ever told about.
    func uploadPoolFile(
        _ localPath: String, to poolPath: String, checksums: Checksums, replaceable: Bool
    ) async throws -> Bool {
        let client = try connection()
        let key = key(poolPath)
        func send(_ condition: S3Client.Condition) async throws(S3Error) {
            let size = Int(checksums.size)
            if size >= Self.multipartThreshold {
                try await client.putInParts(
                    key, path: localPath, count: size, contentType: TreeFile.contentType(of: poolPath),
                    cacheControl: TreeFile.immutable, acl: configuration.acl, condition: condition)
            } else {
                try await client.put(
                    key, body: .file(path: localPath, offset: 0, count: size), sha256: checksums.sha256,
                    contentType: TreeFile.contentType(of: poolPath), cacheControl: TreeFile.immutable,
                    acl: configuration.acl, condition: condition)
            }
        }
        do throws(S3Error) {
            try await send(.absent)
            return true
        } catch {
            guard error.problem == .preconditionFailed else { throw error }
            guard let existing = try await client.head(key) else {
                // Deleted meanwhile (by gc, on another node): create it after all.
                try await send(.absent)
                return true
            }
            if existing.size == Int(checksums.size) && existing.eTag == "\"\(checksums.md5)\"" { return false }
            guard replaceable else {
                throw DepotError.poolObjectKept(location: location(of: poolPath), grace: gcGrace)
            }
            // A recent one may be another node's push of other bytes, still on its way to
            // its transaction (which would then list what this one put there).
            let age = Self.httpDate(existing.lastModified).map { Date().timeIntervalSince($0) } ?? 0
            guard age > Self.unfinishedPushAge else {
                throw DepotError.objectStorage(
                    "\(location(of: poolPath)) was written \(Int(age)) s ago with other content by a push that has not "
                        + "recorded it (one under way on another node, or one that failed); push again in an hour, "
                        + "or build it with a new version")
            }
            try await send(.matches(eTag: existing.eTag))
            return true
        }
    }

    func contents(of path: String) throws -> [UInt8]? {
        let client = try connection()
        return try run { try await client.get(self.key(path)) }
    }

    /// Asks for each object's size; with `deep`, reads its bytes and compares their checksums.
    func checkPoolFiles(_ files: [PackageFile], deep: Bool) -> [String] {
        let client: S3Client
        do {
            client = try connection()
        } catch {
            return ["\(error)"]
        }
        let problems = Mutex<[String]>([])
        do {
            try waitFor {
                try await forEachConcurrently(files, width: Self.width * 2) { file in
                    let location = self.location(of: file.poolPath)
                    var problem: String?
                    if deep {
                        let hasher = ChecksumHasher()
                        if try await client.read(self.key(file.poolPath), { hasher.update($0) }) {
                            let actual = hasher.finalize()
                            if actual != file.checksums {
                                problem =
                                    "\(location): content differs from what was pushed (SHA256 \(actual.sha256), recorded \(file.checksums.sha256))"
                            }
                        } else {
                            problem = "\(location): missing from the bucket"
                        }
                    } else if let object = try await client.head(self.key(file.poolPath)) {
                        if object.size != Int(file.checksums.size) {
                            problem = "\(location): \(object.size) bytes, recorded \(file.checksums.size)"
                        }
                    } else {
                        problem = "\(location): missing from the bucket"
                    }
                    if let problem { problems.withLock { $0.append(problem) } }
                }
            }
        } catch {
            problems.withLock { $0.append("\(error)") }
        }
        return problems.withLock { $0.sorted() }
    }

    func poolFiles() throws -> [StoredFile] { try files(under: "pool/") }

    func unnamedIndexFiles() throws -> [StoredFile] {
        let byHash = try files(under: "dists/").filter { $0.path.contains("/by-hash/") }
        var named = Set<String>()
        for distribution in Set(byHash.map { $0.path.split(separator: "/")[1] }) {
            let directory = "dists/\(distribution)/"
            guard let inRelease = try contents(of: directory + "InRelease") else { continue }
            let text = ReleaseFile.signedText(ofClearsigned: String(decoding: inRelease, as: UTF8.self)) ?? ""
            for entry in ReleaseFile.entries(of: text) where Self.byHashAlgorithms.contains(entry.algorithm) {
                named.insert(directory + Self.byHashPath(of: entry.path, algorithm: entry.algorithm, digest: entry.hash))
            }
        }
        return byHash.filter { !named.contains($0.path) }
    }

    /// Every object below `path` of the tree (a listing: for gc only), by its path in the tree.
    private func files(under path: String) throws -> [StoredFile] {
        let client = try connection()
        let prefix = key(path)
        let listed = try run { try await client.list(prefix: prefix) }
        let now = Date()
        let strip = configuration.prefix.isEmpty ? 0 : configuration.prefix.count + 1
        return listed.map { object in
            let written = Self.timestamp(object.lastModified) ?? now
            return StoredFile(
                path: String(object.key.dropFirst(strip)), size: Int64(object.size),
                age: max(0, Int(now.timeIntervalSince(written))))
        }
    }

    /// An HTTP date (`Sat, 28 Nov 2026 05:00:00 GMT`).
    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }

    /// ListObjectsV2's `LastModified`: ISO 8601, with or without fractions of a second.
    static func timestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    func delete(_ paths: [String]) throws {
        let client = try connection()
        try run {
            try await forEachConcurrently(paths, width: Self.width) { try await client.delete(self.key($0)) }
        }
    }

    /// Runs a request from synchronous code; its failure becomes one `DepotError` line.
    private func run<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        do {
            return try waitFor(work)
        } catch let error as DepotError {
            throw error
        } catch {
            throw DepotError.objectStorage("\(error)")
        }
    }
}

/// `InRelease` in the bucket changed while a publish ran: another writer published.
struct BucketRaceError: Error, Sendable, CustomStringConvertible {
    var location: String
    var distribution: String

    var description: String {
        "\(location) changed while this publish ran: another writer publishes to this bucket; "
            + "nothing was replaced, run 'depot publish \(distribution)' again"
    }
}

/// Puts a push's files into the bucket before its transaction, `BucketTree.width` at a time.
final class BucketPoolWriter: PoolWriter, @unchecked Sendable {
    private struct Job: Sendable {
        var temporaryPath: String
        var poolPath: String
        var checksums: Checksums
        var replaceable: Bool
    }

    private struct State {
        var queue: [Job] = []
        var next = 0
        var running = 0
        /// Every worker started, for `finish` and `undo` to wait for.
        var workers: [Task<Void, Never>] = []
        var failure: (any Error)?
    }

    private let tree: BucketTree
    private let state = Mutex(State())

    init(tree: BucketTree) { self.tree = tree }

    /// A bucket has no name to give an open file: every file goes up from `.depot/incoming/`.
    func place(_ descriptor: Int32, at poolPath: String) throws(FileError) -> Bool { false }

    /// Queues the upload; a worker takes it (one is started while fewer than the width run):
    /// a push of thousands of files keeps a few requests in flight, not thousands of tasks.
    func move(_ temporaryPath: String, to poolPath: String, checksums: Checksums, replaceable: Bool) {
        state.withLock { state in
            state.queue.append(
                Job(temporaryPath: temporaryPath, poolPath: poolPath, checksums: checksums, replaceable: replaceable))
            guard state.running < BucketTree.width else { return }
            state.running += 1
            state.workers.append(Task { await self.work() })
        }
    }

    /// Uploads queued files until none is left; after a failure, only discards them.
    private func work() async {
        while let (job, failed) = state.withLock({ state -> (Job, Bool)? in
            guard state.next < state.queue.count else {
                state.running -= 1
                return nil
            }
            state.next += 1
            return (state.queue[state.next - 1], state.failure != nil)
        }) {
            defer { unlink(job.temporaryPath) }
            guard !failed else { continue }
            do {
                _ = try await tree.uploadPoolFile(
                    job.temporaryPath, to: job.poolPath, checksums: job.checksums, replaceable: job.replaceable)
            } catch {
                state.withLock { $0.failure = $0.failure ?? error }
            }
        }
    }

    func flushPlaced() -> BackgroundTask<Void>? { nil }

    private func waitForWorkers() {
        let workers = state.withLock { $0.workers }
        _ = try? waitFor {
            for worker in workers { await worker.value }
        }
    }

    /// An object the server acknowledged is stored: nothing is left to flush.
    func finish() throws -> BackgroundTask<Void>? {
        waitForWorkers()
        switch state.withLock({ $0.failure }) {
        case nil: return nil
        case let error as DepotError: throw error
        case let error?: throw DepotError.objectStorage("\(error)")
        }
    }

    /// Deletes nothing: another push (on another node) may have found an object this one
    /// created holding its very bytes and listed it meanwhile. What no change references is
    /// gc's, after the grace period.
    func undo() {
        waitForWorkers()
    }
}
