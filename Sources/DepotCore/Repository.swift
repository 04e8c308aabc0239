import AptRepository
import DebianFormat
import Foundation

/// A Depot repository on disk: `depot.conf`, the private `.depot/` (metadata store, lock,
/// signing keyring, caches) and the served `public/` tree.
///
/// Every change goes through `change` (RepositoryChange.swift): take the repository lock,
/// change the store in one transaction (marking the distributions it touched as
/// unpublished), publish those distributions, release the lock. Reads use the store's
/// snapshot and never wait. Each operation is a file of `Operations/`.
public final class Repository: Sendable {
    public let root: String
    public let configuration: Configuration
    let store: any Store
    let signer: Signer
    /// Where the served tree lives: `public/`, or the bucket of `Storage:`.
    let storage: any PublishedStorage
    /// How long a change waits for another writer before giving up, in seconds.
    let lockTimeout: Double
    /// Told who holds the repository when a change has to wait for it.
    let onLockWait: (@Sendable (String) -> Void)?

    /// What a change waits for another writer by default: far longer than any change takes,
    /// far shorter than forever behind a stopped process.
    public static let defaultLockTimeout: Double = 120

    public var configurationPath: String { root + "/depot.conf" }
    var privateDirectory: String { root + "/.depot" }
    public var publicDirectory: String { root + "/public" }
    var keyringDirectory: String { privateDirectory + "/gnupg" }
    var incomingDirectory: String { privateDirectory + "/incoming" }

    /// Opens the repository at `root`. A change waits at most `lockTimeout` seconds for
    /// another writer, telling `onLockWait` who that is.
    public init(
        root: String, lockTimeout: Double = Repository.defaultLockTimeout,
        onLockWait: (@Sendable (String) -> Void)? = nil
    ) throws {
        self.lockTimeout = lockTimeout
        self.onLockWait = onLockWait
        let root = Self.absolute(root)
        let configurationPath = root + "/depot.conf"
        guard let data = FileManager.default.contents(atPath: configurationPath) else {
            throw DepotError.notARepository(root: root)
        }
        do {
            configuration = try Configuration(parsing: String(decoding: data, as: UTF8.self))
        } catch {
            throw DepotError.configuration(path: configurationPath, error)
        }
        guard let fingerprint = configuration.signWith else {
            throw DepotError.configuration(
                path: configurationPath,
                ConfigurationError(line: 1, problem: "no Sign-With fingerprint in the repository stanza"))
        }
        self.root = root
        store = try Self.openStore(configuration, root: root, busyTimeout: lockTimeout)
        signer = Signer(homeDirectory: root + "/.depot/gnupg", fingerprint: fingerprint)
        storage = Self.storage(
            configuration.objectStorage, publicDirectory: root + "/public",
            publisher: Self.publisher(root: root, signer: signer))
    }

    /// The store depot.conf names: PostgreSQL with `Store:`, else SQLite in `.depot/`.
    private static func openStore(_ configuration: Configuration, root: String, busyTimeout: Double) throws
        -> any Store
    {
        if let url = configuration.store { return try PostgresStore(url: url, lockTimeout: busyTimeout) }
        let storePath = root + "/.depot/depot.sqlite"
        // Only init makes a store: an empty one made here would publish every distribution
        // empty over the real ones.
        guard FileManager.default.fileExists(atPath: storePath) else { throw DepotError.storeMissing(path: storePath) }
        do {
            return try SQLiteStore(path: storePath, busyTimeout: busyTimeout)
        } catch {
            throw DepotError.store(error, path: storePath)
        }
    }

    private static func storage(
        _ objectStorage: ObjectStorageConfiguration?, publicDirectory: String, publisher: Publisher
    ) -> any PublishedStorage {
        if let objectStorage { return BucketTree(objectStorage) }
        return LocalTree(publicDirectory: publicDirectory, publisher: publisher)
    }

    /// Where `depot serve` sends clients for `/dists/`, `/pool/` and `/archive-key.asc`
    /// (the bucket's URL, or `Public-URL:`); nil when it serves `public/` itself.
    public var treeRedirectBase: String? { storage.redirectBase }

    /// How messages name a path of the served tree.
    public func treeLocation(of path: String) -> String { storage.location(of: path) }

    var publisher: Publisher { Self.publisher(root: root, signer: signer) }

    /// Renders indices (with the chunk cache in `.depot/cache/`), and writes them to `public/`.
    private static func publisher(root: String, signer: Signer) -> Publisher {
        Publisher(publicDirectory: root + "/public", signer: signer, chunkCacheDirectory: root + "/.depot/cache/chunks")
    }

    static func absolute(_ path: String) -> String {
        let url = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        return url.standardizedFileURL.path
    }

    /// The distributions there are: depot.conf's in promotion order, then those templates
    /// made that have not expired, by name.
    public func distributions() throws -> [Configuration.Distribution] {
        guard !configuration.templates.isEmpty else { return configuration.distributions }
        let made = try read { db in try MetadataStore.madeDistributions(db) }
        return configuration.distributions
            + made.filter { $0.expiredAt == nil }.compactMap { configuration.instance(of: $0.name) }
    }

    /// Refuses a name that is no distribution: not in depot.conf, and not made from a template
    /// (or expired since, unless `orExpired`, for reading what its history kept).
    func requireDistribution(_ name: String, orExpired: Bool = false) throws {
        if configuration.distributions.contains(where: { $0.name == name }) { return }
        if configuration.instance(of: name) != nil {
            let known = try read { db in
                orExpired
                    ? try MetadataStore.madeDistributions(db).contains { $0.name == name }
                    : try MetadataStore.isLive(db, name)
            }
            if known { return }
        }
        throw DepotError.unknownDistribution(
            name,
            known: configuration.distributions.map(\.name) + configuration.templates.map { "\($0.name) (made by a push)" })
    }

    func read<T>(_ body: (any StoreTransaction) throws -> T) throws -> T {
        try store.read(body)
    }

    func write<T>(_ body: (any StoreTransaction) throws -> T) throws -> T {
        try store.write(commit: true, body)
    }

    /// Runs `body` in one transaction, committed or, with `commit` false, rolled back.
    func write<T>(commit: Bool, _ body: (any StoreTransaction) throws -> T) throws -> T {
        try store.write(commit: commit, body)
    }
}
