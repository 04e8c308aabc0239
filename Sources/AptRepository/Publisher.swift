import Crypto
import DebianFormat
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One `Packages` index to publish: a component and architecture, and the stanzas it lists,
/// sorted.
public struct PackagesIndex: Sendable {
    public struct Entry: Sendable {
        public var package: String
        /// The stanza's text, ending with a newline.
        public var stanza: String

        public init(package: String, stanza: String) {
            self.package = package
            self.stanza = stanza
        }
    }

    public var component: String
    public var architecture: String
    public var entries: [Entry]

    public init(component: String, architecture: String, entries: [Entry]) {
        self.component = component
        self.architecture = architecture
        self.entries = entries
    }

    public var directory: String { "\(component)/binary-\(architecture)" }

    /// The `Packages` file: every stanza followed by a blank line.
    public func renderedText() -> [UInt8] {
        Publisher.chunk(entries).flatMap { $0 }
    }
}

/// Writes a distribution's signed indices so that an apt client fetching at any moment sees a
/// consistent tree.
///
/// Each publish builds a complete new *generation* of the distribution in
/// `dists/.generations/<dist>/<N>/`, fsynced, and then switches the symbolic link
/// `dists/<dist>` to it with one rename: `InRelease`, `Release`, `Release.gpg` and every index
/// change together. Each generation also holds, under `by-hash/`, the index files that the
/// previous generations' `Release` files named, so a client that fetched an older `InRelease`
/// still finds what it promised. Generations older than that are deleted.
///
/// Compressed indices are assembled from pieces: stanzas are cut into chunks at package names
/// chosen by their hash (so adding a package changes one chunk), and each chunk is compressed
/// once, as a gzip member and an xz block, and cached by the SHA-256 of its text.
public struct Publisher: Sendable {
    public let publicDirectory: String
    public let signer: Signer
    public let chunkCacheDirectory: String
    /// How many generations (the live one included) keep their files reachable.
    public let keptGenerations: Int

    public init(publicDirectory: String, signer: Signer, chunkCacheDirectory: String, keptGenerations: Int = 4) {
        self.publicDirectory = publicDirectory
        self.signer = signer
        self.chunkCacheDirectory = chunkCacheDirectory
        self.keptGenerations = keptGenerations
    }

    var distsDirectory: String { publicDirectory + "/dists" }

    public func generationsDirectory(_ distribution: String) -> String {
        "\(distsDirectory)/.generations/\(distribution)"
    }

    /// Renders one distribution: its compressed indices, `Release` and both signatures, in
    /// memory, for a storage to write.
    public func render(
        _ release: ReleaseInfo, indices: [PackagesIndex], date: Int, precompressed: PrecompressedChunks = .init()
    ) throws(PublishError) -> RenderedDistribution {
        do {
            let chunks = ChunkStore(directory: chunkCacheDirectory, precompressed: precompressed)
            var files: [RenderedDistribution.IndexFile] = []
            for index in indices {
                files += try renderIndex(index, chunks: chunks)
            }
            let releaseText = Array(
                ReleaseFile.render(
                    release, entries: files.map { ReleaseEntry(path: $0.path, checksums: $0.checksums) }, date: date
                ).utf8)
            let signed = try signer.signRelease(releaseText)
            return RenderedDistribution(
                distribution: release.distribution, indexFiles: files, release: releaseText,
                releaseGPG: signed.releaseGPG, inRelease: signed.inRelease)
        } catch let error as FileError {
            throw .file(error)
        } catch let error as SigningError {
            throw .signing(error)
        } catch let error as CompressionError {
            throw .compression(error)
        } catch {
            throw .file(FileError(path: chunkCacheDirectory, operation: "publish", code: EIO, detail: "\(error)"))
        }
    }

    /// Renders and publishes one distribution to the local tree; returns the generation now
    /// live.
    @discardableResult
    public func publish(
        _ release: ReleaseInfo, indices: [PackagesIndex], date: Int, precompressed: PrecompressedChunks = .init()
    ) throws(PublishError) -> Int {
        try publish(try render(release, indices: indices, date: date, precompressed: precompressed))
    }

    /// Publishes a rendered distribution to the local tree; returns the generation now live.
    @discardableResult
    public func publish(_ rendered: RenderedDistribution) throws(PublishError) -> Int {
        let distribution = rendered.distribution
        let generations = generationsDirectory(distribution)
        let live = liveGeneration(distribution)
        let existing = generationNumbers(distribution)
        // Anything newer than the live generation is a publish that never switched, and a
        // `<dist>.new-<pid>` link one that died while switching: discard them.
        for number in existing where number > (live ?? -1) {
            try? FileManager.default.removeItem(atPath: "\(generations)/\(number)")
        }
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: distsDirectory)) ?? []
        for name in leftovers where name.hasPrefix(distribution + ".new-") {
            unlink("\(distsDirectory)/\(name)")
        }
        let number = (live ?? 0) + 1
        let directory = "\(generations)/\(number)"
        do {
            try DurableFiles.makeDirectory(directory)
            for file in rendered.indexFiles {
                try writeIndexFile(file, into: directory)
            }
            try carryOverByHash(
                from: existing.filter { $0 <= (live ?? 0) }.suffix(keptGenerations - 1), into: directory)
            try DurableFiles.writeUnsynced(rendered.release, to: directory + "/Release")
            try DurableFiles.writeUnsynced(rendered.releaseGPG, to: directory + "/Release.gpg")
            try DurableFiles.writeUnsynced(rendered.inRelease, to: directory + "/InRelease")
            if let live { laterThanLive(directory, live: "\(generations)/\(live)") }
            // The whole generation (and the chunk cache) reaches the disk before it goes live.
            try DurableFiles.syncFileSystem(containing: directory)

            try DurableFiles.switchSymbolicLink(
                "\(distsDirectory)/\(distribution)", to: ".generations/\(distribution)/\(number)")
        } catch {
            throw .file(error)
        }
        for old in existing where old <= number - keptGenerations {
            try? FileManager.default.removeItem(atPath: "\(generations)/\(old)")
        }
        return number
    }

    /// Gives the new generation's `InRelease`, `Release` and `Release.gpg` a modification time
    /// in a later second than the live ones'. `Last-Modified` counts whole seconds and apt
    /// revalidates with `If-Modified-Since`: a client that fetched the live `InRelease` in the
    /// second this publish happens would otherwise be told 304 and keep the old tree.
    private func laterThanLive(_ directory: String, live: String) {
        for name in ["InRelease", "Release", "Release.gpg"] {
            var old = stat()
            var new = stat()
            guard stat("\(live)/\(name)", &old) == 0, stat("\(directory)/\(name)", &new) == 0,
                new.st_mtim.tv_sec <= old.st_mtim.tv_sec
            else { continue }
            var times = [timespec(tv_sec: old.st_mtim.tv_sec + 1, tv_nsec: 0), timespec(tv_sec: old.st_mtim.tv_sec + 1, tv_nsec: 0)]
            utimensat(AT_FDCWD, "\(directory)/\(name)", &times, 0)
        }
    }

    /// The generation `dists/<dist>` points to, if any.
    public func liveGeneration(_ distribution: String) -> Int? {
        guard let target = DurableFiles.symbolicLinkTarget("\(distsDirectory)/\(distribution)") else { return nil }
        return Int((target as NSString).lastPathComponent)
    }

    func generationNumbers(_ distribution: String) -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: generationsDirectory(distribution))) ?? []
        return names.compactMap(Int.init).sorted()
    }

    /// `Packages`, `Packages.gz` and `Packages.xz` of one index, with what `Release` lists
    /// for them.
    private func renderIndex(_ index: PackagesIndex, chunks: ChunkStore) throws -> [RenderedDistribution.IndexFile] {
        let pieces = Self.chunk(index.entries)
        let compressed = try chunks.compressed(pieces)

        var plain: [UInt8] = []
        plain.reserveCapacity(pieces.reduce(0) { $0 + $1.count })
        for piece in pieces { plain += piece }
        var gzip: [UInt8] = []
        for piece in compressed { gzip += piece.gzip }
        let xz = try Compression.xzStream(compressed.map(\.xz))
        if pieces.isEmpty {
            // An empty index still needs a valid, empty gzip file.
            gzip = try Compression.gzipMember([])
        }
        return [("Packages", plain), ("Packages.gz", gzip), ("Packages.xz", xz)].map { name, bytes in
            RenderedDistribution.IndexFile(
                path: index.directory + "/" + name, bytes: bytes, checksums: Checksums(of: bytes))
        }
    }

    /// Writes one index file into a generation, and links it at its by-hash names.
    private func writeIndexFile(_ file: RenderedDistribution.IndexFile, into directory: String) throws(FileError) {
        let path = directory + "/" + file.path
        let folder = (path as NSString).deletingLastPathComponent
        try DurableFiles.makeDirectory(folder)
        try DurableFiles.writeUnsynced(file.bytes, to: path)
        for algorithm in HashAlgorithm.allCases {
            let hashFolder = folder + "/by-hash/" + algorithm.rawValue
            try DurableFiles.makeDirectory(hashFolder)
            let hashPath = hashFolder + "/" + algorithm.digest(of: file.checksums)
            if !DurableFiles.exists(hashPath) { link(path, hashPath) }
        }
    }

    /// Links into the new generation the by-hash files that earlier generations' `Release`
    /// files named.
    private func carryOverByHash(from generations: ArraySlice<Int>, into directory: String) throws(FileError) {
        let distribution = (directory as NSString).deletingLastPathComponent
        for generation in generations {
            let old = "\(distribution)/\(generation)"
            guard let release = try? String(contentsOfFile: old + "/Release", encoding: .utf8) else { continue }
            for entry in ReleaseFile.entries(of: release) {
                let folder = (entry.path as NSString).deletingLastPathComponent
                let relative = "\(folder)/by-hash/\(entry.algorithm.rawValue)/\(entry.hash)"
                let target = directory + "/" + relative
                guard DurableFiles.exists(old + "/" + relative), !DurableFiles.exists(target) else { continue }
                try DurableFiles.makeDirectory((target as NSString).deletingLastPathComponent)
                link(old + "/" + relative, target)
            }
        }
    }

    /// Cuts sorted stanzas into chunks whose boundaries depend only on package names: a chunk
    /// starts at a package whose name hashes to 0 modulo `chunkModulus`, so inserting or
    /// changing one package changes one chunk. Every stanza is followed by a blank line.
    static func chunk(_ entries: [PackagesIndex.Entry]) -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        var current: [UInt8] = []
        var previous: String?
        for entry in entries {
            if let previous, previous != entry.package, !current.isEmpty, stableHash(entry.package) % chunkModulus == 0
            {
                chunks.append(current)
                current = []
            }
            current += entry.stanza.utf8
            current.append(UInt8(ascii: "\n"))
            previous = entry.package
        }
        if !current.isEmpty { chunks.append(current) }
        return chunks
    }

    static let chunkModulus: UInt64 = 128

    /// Compresses the chunks of these indices that the chunk cache lacks, for a publish soon
    /// after to use. Nothing is written: the work may be for a change that never commits.
    public func precompress(_ indices: [PackagesIndex]) throws -> PrecompressedChunks {
        let pieces = indices.flatMap { Self.chunk($0.entries) }
        return try ChunkStore(directory: chunkCacheDirectory).compressMissing(pieces)
    }

    /// Deletes the cached compressed chunks that none of these indices is made of; returns
    /// the paths deleted (or, with `dryRun`, that would be) and their bytes.
    public func pruneChunkCache(keeping indices: [PackagesIndex], dryRun: Bool) -> (paths: [String], bytes: Int64) {
        let keys = Set(indices.flatMap { Self.chunk($0.entries) }.map(ChunkStore.key))
        return ChunkStore(directory: chunkCacheDirectory).prune(keeping: keys, dryRun: dryRun)
    }

    /// FNV-1a: the same for a name in every run and on every machine, unlike `Hasher`.
    static func stableHash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}

/// A distribution rendered for publishing: every index file (its path below
/// `dists/<dist>/`, bytes and checksums), `Release` and its two signatures.
public struct RenderedDistribution: Sendable {
    public struct IndexFile: Sendable {
        public var path: String
        public var bytes: [UInt8]
        public var checksums: Checksums
    }

    public var distribution: String
    public var indexFiles: [IndexFile]
    public var release: [UInt8]
    public var releaseGPG: [UInt8]
    public var inRelease: [UInt8]
}

/// Chunks compressed ahead of a publish (`Publisher.precompress`), by the SHA-256 of their
/// text.
public struct PrecompressedChunks: Sendable {
    fileprivate var chunks: [String: ChunkStore.Compressed] = [:]

    public init() {}
}

/// Compressed chunks kept on disk by the SHA-256 of their text, so each chunk is compressed
/// once however often it is published.
///
/// Cache files are written without an fsync of their own; each begins with the SHA-256 of the
/// rest, so one torn by a crash is noticed and compressed again, never published.
struct ChunkStore {
    let directory: String
    /// Compressed already, not yet cached: used, and cached, before anything is compressed.
    var precompressed = PrecompressedChunks()

    struct Compressed: Sendable {
        var gzip: [UInt8]
        var xz: XZBlock
    }

    /// The compressed forms of every piece, compressing the ones not yet cached on both cores.
    func compressed(_ pieces: [[UInt8]]) throws -> [Compressed] {
        try DurableFiles.makeDirectory(directory)
        let keys = pieces.map(Self.key)
        var results = [Compressed?](repeating: nil, count: pieces.count)
        var missing: [Int] = []
        for (position, key) in keys.enumerated() {
            if let cached = load(key, uncompressedSize: pieces[position].count) {
                results[position] = cached
            } else if let made = precompressed.chunks[key] {
                save(made, key: key)
                results[position] = made
            } else {
                missing.append(position)
            }
        }
        let made = try missing.map { pieces[$0] }.concurrentMap(Self.compress)
        for (value, position) in zip(made, missing) {
            save(value, key: keys[position])
            results[position] = value
        }
        return results.map { $0! }
    }

    /// The compressed forms of the pieces not yet cached, made on every core.
    func compressMissing(_ pieces: [[UInt8]]) throws -> PrecompressedChunks {
        var seen = Set<String>()
        let missing: [(key: String, piece: [UInt8])] = pieces.map { (Self.key($0), $0) }.filter { key, _ in
            seen.insert(key).inserted
                && (!DurableFiles.exists("\(directory)/\(key).gz") || !DurableFiles.exists("\(directory)/\(key).xz"))
        }
        let made = try missing.map(\.piece).concurrentMap(Self.compress)
        var result = PrecompressedChunks()
        for (chunk, value) in zip(missing, made) { result.chunks[chunk.key] = value }
        return result
    }

    @Sendable private static func compress(_ piece: [UInt8]) throws -> Compressed {
        Compressed(gzip: try Compression.gzipMember(piece), xz: try Compression.xzBlock(piece))
    }

    static func key(_ piece: [UInt8]) -> String { lowercaseHex(SHA256.hash(data: piece)) }

    /// Deletes the cache files of every key but these.
    func prune(keeping keys: Set<String>, dryRun: Bool) -> (paths: [String], bytes: Int64) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var deleted: [String] = []
        var bytes: Int64 = 0
        for name in names.sorted() {
            // `KEY.gz`, `KEY.xz`, or a temporary file a killed run left.
            let key = String(name.prefix { $0 != "." })
            guard !keys.contains(key) || name.contains(".tmp-") else { continue }
            let path = "\(directory)/\(name)"
            var information = stat()
            if stat(path, &information) == 0 { bytes += Int64(information.st_size) }
            if !dryRun { unlink(path) }
            deleted.append(path)
        }
        return (deleted, bytes)
    }

    private func load(_ key: String, uncompressedSize: Int) -> Compressed? {
        guard let gzip = checked(FileManager.default.contents(atPath: "\(directory)/\(key).gz")),
            let xz = checked(FileManager.default.contents(atPath: "\(directory)/\(key).xz")), xz.count > 8
        else { return nil }
        let unpadded = xz.prefix(8).enumerated().reduce(UInt64(0)) {
            $0 | UInt64($1.element) << (8 * UInt64($1.offset))
        }
        return Compressed(
            gzip: gzip,
            xz: XZBlock(
                bytes: Array(xz.dropFirst(8)), unpaddedSize: unpadded, uncompressedSize: UInt64(uncompressedSize)))
    }

    /// The content after the 32-byte SHA-256 header, if it matches.
    private func checked(_ data: Data?) -> [UInt8]? {
        guard let data, data.count > 32 else { return nil }
        let content = data.dropFirst(32)
        guard Array(SHA256.hash(data: content)) == Array(data.prefix(32)) else { return nil }
        return Array(content)
    }

    /// Best effort: a chunk that fails to be cached is compressed again next time.
    private func save(_ value: Compressed, key: String) {
        var unpadded = value.xz.unpaddedSize
        let prefix = withUnsafeBytes(of: &unpadded) { [UInt8]($0) }
        for (name, content) in [("\(key).gz", value.gzip), ("\(key).xz", prefix + value.xz.bytes)] {
            let path = "\(directory)/\(name)"
            let temporary = path + ".tmp-\(getpid())"
            guard (try? DurableFiles.writeUnsynced(Array(SHA256.hash(data: content)) + content, to: temporary)) != nil
            else {
                continue
            }
            rename(temporary, path)
        }
    }
}

public enum PublishError: Error, Sendable, CustomStringConvertible {
    case file(FileError)
    case signing(SigningError)
    case compression(CompressionError)
    /// Writing to the storage failed (an object store's answer, for one).
    case storage(any Error & Sendable)

    public var description: String {
        switch self {
        case .storage(let error): "publishing: \(error)"
        case .file(let error): "publishing: \(error)"
        case .signing(let error): "publishing: \(error)"
        case .compression(let error): "publishing: \(error)"
        }
    }
}
