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

    func connection() throws(DepotError) -> S3Client { try client.get() }

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

        // 3. Release, then Release.gpg, then InRelease, only over the one this publish started
        //    from. One after the other: a node stalled once its Release.gpg is stored has no
        //    Release still on its way to replace a later node's.
        try await put(ObjectWrite(directory + "Release", rendered.release), client: client)
        try await put(ObjectWrite(directory + "Release.gpg", rendered.releaseGPG), client: client)
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

    func put(_ upload: ObjectWrite, client: S3Client, condition: S3Client.Condition? = nil) async throws(S3Error) {
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
}
