import AptRepository
import Crypto
import DebianFormat
import Foundation
import S3Client
import Synchronization

/// The pool and the other files of a bucket tree: uploads, checks, listings, deletions.
extension BucketTree {
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

    func unpublish(_ distribution: String) throws {
        let directory = "dists/\(distribution)/"
        try delete([directory + "InRelease"])
        try delete(try files(under: directory).map(\.path))
    }

    /// Runs a request from synchronous code; its failure becomes one `DepotError` line.
    func run<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        do {
            return try waitFor(work)
        } catch let error as DepotError {
            throw error
        } catch {
            throw DepotError.objectStorage("\(error)")
        }
    }
}
