import AptRepository
import DebianFormat
import Foundation

/// Where the tree apt reads lives: the pool, each distribution's signed indices and the
/// archive key. The operations write and read that tree only through this, so they do not
/// know whether it is `public/` under the root (`LocalTree`) or a bucket (`BucketTree`).
///
/// Paths are relative to the tree's top: `pool/main/h/hello/hello_1.0-1_amd64.deb`,
/// `dists/staging/InRelease`, `archive-key.asc`.
protocol PublishedStorage: Sendable {
    /// How messages name a path of the tree: a file's path, or an `s3://` URL.
    func location(of path: String) -> String

    /// Seconds gc leaves a pool file or index that nothing references any more before it
    /// deletes it: for clients (and caches) that may still fetch it.
    var gcGrace: Int { get }

    /// Whether several nodes can reach it (a bucket), rather than only this host (a disk).
    var isShared: Bool { get }

    /// Where `depot serve` sends clients for the tree; nil when it serves the tree itself.
    var redirectBase: String? { get }

    /// Starts putting one change's new files into the pool.
    func poolWriter() -> any PoolWriter

    /// What a publish of `distribution` will replace. Read before the store's snapshot that is
    /// rendered: a publish that finds another one replaced it meanwhile then knows that it may
    /// hold an older state, and replaces nothing.
    func publishBase(of distribution: String) throws(PublishError) -> PublishBase

    /// Makes a rendered distribution what clients see, in an order that never shows them a
    /// tree that names what is not there, provided what they see is still `base`. Returns what
    /// it stopped naming that only gc may delete (once `gcGrace` has passed), and what it names.
    func publish(_ rendered: RenderedDistribution, over base: PublishBase) throws(PublishError) -> PublishedObjects

    /// Writes `archive-key.asc` when it is missing: a repository's key never changes, and
    /// exporting it costs a gpg run.
    func writeArchiveKeyIfMissing(_ key: () throws -> [UInt8]) throws

    /// A file of the tree, or nil when there is none.
    func contents(of path: String) throws -> [UInt8]?

    /// What is wrong with the pool files of these records: missing, another size, and (with
    /// `deep`, or where reading is as cheap as asking) other bytes. One line per problem.
    func checkPoolFiles(_ files: [PackageFile], deep: Bool) -> [String]

    /// Every file under `pool/`, with how long ago it was written.
    func poolFiles() throws -> [StoredFile]

    /// The `by-hash/` index files no distribution's current `Release` names (written by a
    /// publish that stopped before its `InRelease`, or superseded), with their age; none where
    /// publishing removes them itself.
    func unnamedIndexFiles() throws -> [StoredFile]

    /// Deletes these files of the tree; deleting one that is gone succeeds.
    func delete(_ paths: [String]) throws

    /// Takes a distribution out of the tree: its `InRelease` first, so that apt finds it gone
    /// rather than half there, then everything else under `dists/<distribution>/`. Taking out
    /// one that is gone succeeds.
    func unpublish(_ distribution: String) throws
}

/// A file of the tree as a listing shows it.
struct StoredFile: Sendable, Hashable {
    var path: String
    var size: Int64
    /// Seconds since it was written.
    var age: Int
}

/// The served `InRelease` a publish starts from (none when the storage switches generations
/// in itself, or none was published yet).
struct PublishBase: Sendable {
    var inRelease: [UInt8]?
    var eTag: String?
    var lastModified: String?

    static let none = PublishBase()
}

/// What a publish named and what it stopped naming, as paths of the tree.
struct PublishedObjects: Sendable {
    var named: [String] = []
    var superseded: [String] = []
}

/// Puts the new files of one change (a push) into the pool, and takes them out again if the
/// change fails: every file a change lists is in the pool before the change commits.
protocol PoolWriter: AnyObject, Sendable {
    /// Names the written file `descriptor` at `poolPath` if the storage can do that as the
    /// file is read; returns false when it cannot or the name is taken (the caller then keeps
    /// the file in `.depot/incoming/` and hands it to `move`).
    func place(_ descriptor: Int32, at poolPath: String) throws(FileError) -> Bool

    /// Starts putting the file at `temporaryPath` into the pool at `poolPath`, taking it from
    /// `.depot/incoming/`. `replaceable`: whatever may hold that name already is a leftover no
    /// client can have been told about (not a file gc is still keeping for clients).
    func move(_ temporaryPath: String, to poolPath: String, checksums: Checksums, replaceable: Bool)

    /// Starts making the files `place` named durable, when the storage needs that.
    func flushPlaced() -> BackgroundTask<Void>?

    /// Waits for every `move`, throwing the first failure; returns the work that makes the
    /// moved files durable, when it is still going on.
    func finish() throws -> BackgroundTask<Void>?

    /// Takes out of the pool what this writer put there, where no other writer can have come
    /// to reference it; waits for what is still under way.
    func undo()
}

/// Content types and cache lifetimes of the tree's files, for storages that send them.
enum TreeFile {
    /// The type of the file at `path`; a by-hash copy has its original's type.
    static func contentType(of path: String) -> String {
        let name = (path as NSString).lastPathComponent
        if name.hasSuffix(".deb") { return "application/vnd.debian.binary-package" }
        if name == "archive-key.asc" { return "application/pgp-keys" }
        if name == "Release.gpg" { return "application/pgp-signature" }
        if name.hasSuffix(".gz") { return "application/gzip" }
        if name.hasSuffix(".xz") { return "application/x-xz" }
        return "text/plain; charset=utf-8"
    }

    /// Files whose name never names other bytes: the pool and by-hash.
    static let immutable = "public, max-age=31536000, immutable"
    /// Files a publish replaces: InRelease, Release, Release.gpg, plain-named indices, the key.
    static let revalidated = "no-cache"
}

/// Runs `body` for every item, at most `width` at a time; throws the first failure once the
/// running ones have ended.
func forEachConcurrently<Item: Sendable>(
    _ items: [Item], width: Int, _ body: @escaping @Sendable (Item) async throws -> Void
) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        var next = 0
        while next < min(width, items.count) {
            let item = items[next]
            group.addTask { try await body(item) }
            next += 1
        }
        while try await group.next() != nil {
            if next < items.count {
                let item = items[next]
                group.addTask { try await body(item) }
                next += 1
            }
        }
    }
}
