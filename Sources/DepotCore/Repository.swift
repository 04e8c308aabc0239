import AptRepository
import DebianFormat
import Foundation

/// A Depot repository on disk: `depot.conf`, the private `.depot/` (metadata store, lock,
/// signing keyring, caches) and the served `public/` tree.
///
/// Every change follows one pattern: take the repository lock, change the store in one
/// transaction (marking the distributions it touched as unpublished), publish those
/// distributions, release the lock. Reads use the store's snapshot and never wait.
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

    public struct InitOptions: Sendable {
        public var origin: String = "Depot"
        public var label: String?
        public var distributions: [String] = ["development", "staging", "production"]
        public var architectures: [String] = ["amd64", "arm64"]
        public var components: [String] = ["main"]
        public var signWith: String?
        /// Where the key named by `signWith` is; it is copied into the repository's keyring.
        public var gnupgHome: String?
        /// The bucket for the served tree; nil for `public/` under the root.
        public var objectStorage: ObjectStorageConfiguration?
        /// The PostgreSQL store (`postgresql://...`); nil for SQLite in `.depot/`.
        public var store: String?

        public init() {}
    }

    /// Creates a repository: `depot.conf`, `.depot/` with a signing key (made unless one is
    /// given), and signed empty indices for every distribution.
    public static func initialize(root: String, options: InitOptions) throws -> Repository {
        let root = absolute(root)
        guard !FileManager.default.fileExists(atPath: root + "/depot.conf") else {
            throw DepotError.alreadyInitialized(root: root)
        }
        var distributions: [Configuration.Distribution] = []
        for (position, name) in options.distributions.enumerated() {
            let next = position + 1 < options.distributions.count ? options.distributions[position + 1] : nil
            distributions.append(.init(name: name, promotesTo: next))
        }
        var configuration = Configuration(
            origin: options.origin, label: options.label ?? options.origin, architectures: options.architectures,
            components: options.components, signWith: nil, distributions: distributions)
        configuration.objectStorage = options.objectStorage
        configuration.store = options.store
        // Check the options the way a hand-written depot.conf is checked, before touching disk;
        // a line break in a value would otherwise come back as a field of its own.
        for (field, value) in [("Origin", options.origin), ("Label", options.label ?? options.origin)] {
            if let problem = Configuration.singleLineProblem(value, field: field) {
                throw DepotError.invalidArgument("invalid init options: \(problem)")
            }
        }
        do {
            _ = try Configuration(parsing: configuration.rendered())
        } catch {
            throw DepotError.invalidArgument("invalid init options: \(error.problem)")
        }
        // A bucket that cannot be reached, or holds another tree, is found before anything
        // is made.
        if let objectStorage = options.objectStorage { try BucketTree(objectStorage).checkEmpty() }
        let keyring = root + "/.depot/gnupg"
        let storePath = root + "/.depot/depot.sqlite"
        let fileManager = FileManager.default
        let createdByThisRun = [root + "/.depot", root + "/public"].filter { !fileManager.fileExists(atPath: $0) }
        // A failed init leaves nothing behind, so that it can simply be run again.
        func undo() { for path in createdByThisRun { try? fileManager.removeItem(atPath: path) } }
        do {
            try DurableFiles.makeDirectory(keyring)
            try DurableFiles.makeDirectory(root + "/.depot/incoming")
            if options.objectStorage == nil {
                try DurableFiles.makeDirectory(root + "/public/dists")
                try DurableFiles.makeDirectory(root + "/public/pool")
            }
            chmod(root + "/.depot", 0o700)
            chmod(keyring, 0o700)
            let signer: Signer
            if let fingerprint = options.signWith {
                let source =
                    options.gnupgHome ?? ProcessInfo.processInfo.environment["GNUPGHOME"] ?? NSHomeDirectory()
                    + "/.gnupg"
                signer = try Signer.importKey(fingerprint: fingerprint, from: source, into: keyring)
            } else {
                signer = try Signer.generateKey(
                    homeDirectory: keyring, userID: "\(configuration.label) archive signing key <depot@localhost>")
            }
            configuration.signWith = signer.fingerprint
            // The store, each distribution waiting for its first publish, exists before
            // depot.conf makes the folder a repository.
            let store: any Store
            if let url = options.store {
                store = try PostgresStore(url: url)
                // A store that already holds a repository is joined, not made anew (init --join).
                if try store.read({ db in try db.exists("SELECT 1 FROM repository_configuration") }) {
                    throw DepotError.storage("\(store.location): the store already holds a repository; give a new one an empty database")
                }
            } else {
                do {
                    store = try SQLiteStore(path: storePath, busyTimeout: Self.defaultLockTimeout)
                } catch {
                    throw DepotError.store(error, path: storePath)
                }
            }
            try store.write(commit: true) { db in
                for distribution in configuration.distributions {
                    try MetadataStore.markUnpublished(db, distribution.name)
                }
                // Without the store's address: nodes may reach the store by different names.
                var recorded = configuration
                recorded.store = nil
                try db.execute(
                    "INSERT INTO repository_configuration (configuration) VALUES (?)", [recorded.rendered()])
            }
            try DurableFiles.replace(root + "/depot.conf", with: Array(configuration.rendered().utf8))
        } catch let error as SigningError {
            undo()
            throw DepotError.signing(error)
        } catch let error as FileError {
            undo()
            throw DepotError.file(error)
        } catch {
            undo()
            throw error
        }
        let repository = try Repository(root: root)
        try repository.withLock { try repository.publishPending() }
        return repository
    }

    public struct JoinOptions: Sendable {
        /// The PostgreSQL store holding the repository.
        public var store: String
        /// The bucket the repository publishes to, as the first node was given it; checked
        /// against the recorded configuration.
        public var storage: String?
        /// The bucket's endpoint, as the first node was given it; checked against the
        /// recorded configuration.
        public var s3Endpoint: String?
        public var signWith: String?
        /// Where the key named by `signWith` is; it is copied into this node's keyring.
        public var gnupgHome: String?

        public init(store: String) { self.store = store }
    }

    /// Makes `root` a further node of the repository a shared store holds: `depot.conf` is the
    /// configuration recorded there, and the signing key is copied into this node's keyring.
    /// Nothing is published: the repository is there already.
    public static func join(root: String, options: JoinOptions) throws -> Repository {
        let root = absolute(root)
        guard !FileManager.default.fileExists(atPath: root + "/depot.conf") else {
            throw DepotError.alreadyInitialized(root: root)
        }
        let store = try PostgresStore(url: options.store)
        guard let recorded = try store.read({ db in try MetadataStore.recordedConfiguration(db) }) else {
            throw DepotError.storage(
                "\(store.location) holds no repository to join; make one with 'depot init --store \(options.store) --storage s3://BUCKET/PREFIX'")
        }
        var configuration: Configuration
        do {
            configuration = try Configuration(parsing: recorded)
        } catch {
            throw DepotError.storage("\(store.location): the recorded configuration does not read back (\(error.problem))")
        }
        guard let objectStorage = configuration.objectStorage else {
            throw DepotError.invalidArgument(
                "the repository in \(store.location) publishes to public/ on its first node, so it cannot take "
                    + "another node: each would serve a signed tree of its own, and they would diverge; publish to a "
                    + "bucket first (Storage: s3://BUCKET/PREFIX in depot.conf, see depot.conf(5)), then join")
        }
        if let endpoint = options.s3Endpoint, endpoint != objectStorage.endpoint {
            throw DepotError.invalidArgument(
                "--s3-endpoint \(endpoint): the repository in \(store.location) reaches its bucket at "
                    + "\(objectStorage.endpoint ?? "AWS's endpoint for its region (no S3-Endpoint)"); give the same, or none")
        }
        if let storage = options.storage, storage != configuration.objectStorage?.url {
            throw DepotError.invalidArgument(
                "--storage \(storage): the repository in \(store.location) publishes to "
                    + "\(configuration.objectStorage?.url ?? "public/ on its first node, which other nodes cannot share")")
        }
        guard let fingerprint = configuration.signWith else {
            throw DepotError.storage("\(store.location): the recorded configuration names no Sign-With key")
        }
        if let signWith = options.signWith, signWith.uppercased() != fingerprint.uppercased() {
            throw DepotError.invalidArgument(
                "--sign-with \(signWith): the repository signs with \(fingerprint); give this node that key")
        }
        configuration.store = options.store
        let keyring = root + "/.depot/gnupg"
        let fileManager = FileManager.default
        let created = [root + "/.depot"].filter { !fileManager.fileExists(atPath: $0) }
        do {
            try DurableFiles.makeDirectory(keyring)
            try DurableFiles.makeDirectory(root + "/.depot/incoming")
            chmod(root + "/.depot", 0o700)
            chmod(keyring, 0o700)
            let source =
                options.gnupgHome ?? ProcessInfo.processInfo.environment["GNUPGHOME"] ?? NSHomeDirectory() + "/.gnupg"
            _ = try Signer.importKey(fingerprint: fingerprint, from: source, into: keyring)
            try DurableFiles.replace(root + "/depot.conf", with: Array(configuration.rendered().utf8))
        } catch {
            for path in created { try? fileManager.removeItem(atPath: path) }
            if let error = error as? SigningError { throw DepotError.signing(error) }
            if let error = error as? FileError { throw DepotError.file(error) }
            throw error
        }
        return try Repository(root: root)
    }

    /// Refuses, naming the fields, a depot.conf that differs from the configuration the shared
    /// store records: nodes that disagreed about distributions or the bucket would publish
    /// different trees.
    func checkRecordedConfiguration() throws {
        guard let recorded = try read({ db in try MetadataStore.recordedConfiguration(db) }),
            let theirs = try? Configuration(parsing: recorded)
        else { return }
        let differences = configuration.differences(from: theirs, here: "here", there: "in the store")
        guard differences.isEmpty else {
            throw DepotError.configurationDiffers(path: configurationPath, store: store.location, differences: differences)
        }
    }

    /// Records this node's depot.conf as the repository's configuration, which every node's
    /// depot.conf must then equal.
    public func recordConfiguration() throws {
        var configuration = configuration
        configuration.store = nil
        let text = configuration.rendered()
        try write { db in
            try db.execute("DELETE FROM repository_configuration")
            try db.execute("INSERT INTO repository_configuration (configuration) VALUES (?)", [text])
        }
    }

    static func absolute(_ path: String) -> String {
        let url = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        return url.standardizedFileURL.path
    }

    // MARK: - Reading

    /// What distributions list, in promotion order, by package name and version.
    public func list(distribution: String? = nil) throws -> [Listing] {
        if let distribution { try requireDistribution(distribution) }
        let listings = try read { db in try MetadataStore.listings(db, distribution: distribution) }
        return listings.sorted { a, b in
            if a.distribution != b.distribution {
                return distributionRank(a.distribution) < distributionRank(b.distribution)
            }
            if a.file.name != b.file.name { return a.file.name < b.file.name }
            let versions = DebianVersion.compare(a.file.debianVersion, b.file.debianVersion)
            if versions != 0 { return versions < 0 }
            return a.file.architecture < b.file.architecture
        }
    }

    public struct PackageReport: Sendable, Codable {
        public struct Version: Sendable, Codable {
            public var file: PackageFile
            public var distributions: [String]
            /// The distributions that list the file phased, and their percentage.
            public var phases: [String: Int]
            public var approvals: [Approval]
        }
        /// A history entry that listed or unlisted one of the package's files.
        public struct Event: Sendable, Codable {
            public var history: Int64
            public var date: String
            public var operation: String
            public var distribution: String
            public var version: String
            public var architecture: String
            /// True when the entry listed the file there, false when it unlisted it.
            public var listed: Bool
            public var phase: Int?
            public var user: String
            public var note: String?
        }
        public var name: String
        public var versions: [Version]
        /// Newest first.
        public var events: [Event]
        public var ramps: [Ramp]
    }

    /// Where a distribution sorts: in promotion order, then by name the ones the store still
    /// lists that depot.conf no longer names (their listings stay, and keep their files).
    private func distributionRank(_ name: String) -> (Int, String) {
        (configuration.distributions.firstIndex { $0.name == name } ?? configuration.distributions.count, name)
    }

    /// Every version of a package the pool holds, and which distributions list each.
    public func show(package name: String) throws -> PackageReport {
        let (files, listings, approvals, events, ramps) = try read { db in
            let files = try db.rows(
                "SELECT \(MetadataStore.fileColumns) FROM package_files f WHERE f.name = ?", [name]
            ).map { MetadataStore.file($0) }
            let events = try db.rows(
                """
                SELECT h.id, h.date, h.operation, j.distribution, j.version, j.architecture, j.listed, j.phase, h."user",
                    h.note
                FROM listing_journal j JOIN history h ON h.id = j.history_id WHERE j.package = ? ORDER BY j.sequence DESC
                """, [name]
            ).map {
                PackageReport.Event(
                    history: $0[0], date: $0[1], operation: $0[2], distribution: $0[3], version: $0[4],
                    architecture: $0[5], listed: $0[6], phase: $0[7], user: $0[8], note: $0[9])
            }
            return (
                files, try MetadataStore.listings(db, distribution: nil, name: name), try self.approvals(of: name, db),
                events, try MetadataStore.ramps(db).filter { $0.package == name }
            )
        }
        guard !files.isEmpty else { throw DepotError.unknownPackage(name) }
        let versions = files.sorted { a, b in
            let versions = DebianVersion.compare(a.debianVersion, b.debianVersion)
            return versions != 0 ? versions > 0 : a.architecture < b.architecture
        }.map { file in
            let listed = listings.filter { $0.file.id == file.id }
            return PackageReport.Version(
                file: file,
                distributions: Set(listed.map(\.distribution)).sorted { distributionRank($0) < distributionRank($1) },
                phases: Dictionary(
                    listed.compactMap { listing in listing.phase.map { (listing.distribution, $0) } },
                    uniquingKeysWith: { first, _ in first }),
                approvals: approvals.filter { $0.version == file.version && $0.architecture == file.architecture })
        }
        return PackageReport(name: name, versions: versions, events: events, ramps: ramps)
    }

    public func history(distribution: String? = nil, limit: Int? = nil) throws -> [HistoryEntry] {
        if let distribution { try requireDistribution(distribution) }
        return try read { db in try MetadataStore.history(db, distribution: distribution, limit: limit) }
    }

    /// The public signing key, ASCII-armored.
    public func exportKey() throws -> String {
        do {
            return try signer.exportPublicKey()
        } catch {
            throw DepotError.signing(error)
        }
    }

    // MARK: - Publishing

    /// Rewrites the indices and signatures of the given distributions (all when empty).
    public func publish(_ distributions: [String] = []) throws {
        for name in distributions { try requireDistribution(name) }
        try withLock {
            try write { db in
                for name in distributions.isEmpty ? configuration.distributions.map(\.name) : distributions {
                    try MetadataStore.markUnpublished(db, name)
                }
            }
            try publishPending()
        }
    }

    /// Publishes what earlier changes recorded but left unpublished, before a new change is
    /// made: a failure here says that the new change was not made.
    ///
    /// A distribution another node is publishing right now is left to it: what that node does
    /// not take in, its own writers publish after their commits, and only what dead writers
    /// left needs a later command.
    func publishEarlierChanges() throws {
        do {
            try publishPending(waiting: false)
        } catch DepotError.publishing(let error) {
            throw DepotError.earlierChangesUnpublished(error)
        }
    }

    /// On a node sharing its store and bucket with others: publishes what another node
    /// recorded and did not publish (it died meanwhile), unless a node is publishing it now.
    /// `depot serve` calls this every little while, so that such a change reaches apt without
    /// waiting for the next one.
    public func publishWhatOtherNodesLeft() throws {
        guard store.isShared && storage.isShared else { return }
        try withLock { try publishPending(waiting: false) }
    }

    /// Publishes the change `operation` just committed. A failure leaves that change recorded,
    /// and the error says so, and what publishes it: whoever made it must not take it for undone.
    func publishRecorded(
        _ operation: String, outcomes: [PushOutcome] = [], precompressed: PrecompressedChunks = .init()
    ) throws {
        do {
            try publishPending(precompressed: precompressed)
        } catch let error as DepotError {
            throw DepotError.recordedButUnpublished(error, operation: operation, outcomes: outcomes)
        }
    }

    /// Publishes every distribution a change (or an interrupted earlier run) left unpublished.
    /// Call with the lock held. `precompressed`: chunks compressed ahead of time for these
    /// indices (`Publisher.precompress`).
    ///
    /// With `waiting`, a node waits for another publishing the same distribution, then
    /// publishes whatever is still unpublished: every change committed meanwhile, on any node,
    /// in one go. Without it, a distribution another node is publishing is left to that node.
    func publishPending(precompressed: PrecompressedChunks = .init(), waiting: Bool = true) throws {
        let pending = try read { db in try MetadataStore.unpublished(db) }
        guard !pending.isEmpty else { return }
        try storage.writeArchiveKeyIfMissing { Array(try exportKey().utf8) }
        for name in pending {
            guard let distribution = configuration.distribution(name) else { continue }
            _ = try store.publishing(name, waiting: waiting) { try publish(distribution, precompressed: precompressed) }
        }
    }

    /// Publishes the generation of `distribution` the store holds, unless another node has
    /// published it (or a later one) meanwhile.
    ///
    /// What the publish replaces is read before the store is: a node that stalls after its
    /// read and wakes after another node published a later generation finds the served
    /// `InRelease` changed, and replaces nothing; and the generation it records as published
    /// only ever rises.
    private func publish(_ distribution: Configuration.Distribution, precompressed: PrecompressedChunks) throws {
        let name = distribution.name
        let base: PublishBase
        do {
            base = try storage.publishBase(of: name)
        } catch {
            throw DepotError.publishing(error)
        }
        let snapshot = try read { db -> (generation: Int64, indices: [PackagesIndex])? in
            guard let generation = try MetadataStore.unpublishedGeneration(db, name) else { return nil }
            return (generation, try self.indices(db, for: distribution))
        }
        guard let snapshot else { return }
        let release = ReleaseInfo(
            origin: configuration.origin, label: configuration.label, distribution: name,
            description: distribution.description, architectures: configuration.architectures,
            components: configuration.components, validFor: distribution.validFor)
        let now = Int(Date().timeIntervalSince1970)
        let published: PublishedObjects
        do {
            published = try storage.publish(
                try publisher.render(release, indices: snapshot.indices, date: now, precompressed: precompressed),
                over: base)
        } catch {
            throw DepotError.publishing(error)
        }
        try write { db in
            try MetadataStore.markPublished(db, name, generation: snapshot.generation, signed: now)
            // What the new Release names is no longer garbage; what the old one named alone
            // is, from now on, kept for the grace period.
            for path in published.named {
                try db.execute("DELETE FROM storage_garbage WHERE path = ?", [path])
            }
            for path in published.superseded {
                try db.execute(
                    "INSERT INTO storage_garbage (path, since) VALUES (?, ?) ON CONFLICT DO NOTHING", [path, now])
            }
        }
    }

    /// The `Packages` indices of a distribution as the store has them: per component and
    /// architecture, `all` packages included, sorted by name, version and architecture.
    func indices(_ db: any StoreTransaction, for distribution: Configuration.Distribution) throws -> [PackagesIndex] {
        try indices { component, architecture in
            try MetadataStore.stanzas(
                db, distribution: distribution.name, component: component, architecture: architecture)
        }
    }

    /// One index per component and architecture, of the rows `rows` gives for it.
    func indices(_ rows: (_ component: String, _ architecture: String) throws -> [IndexRow]) rethrows
        -> [PackagesIndex]
    {
        var indices: [PackagesIndex] = []
        for component in configuration.components {
            for architecture in configuration.architectures {
                // Versions are parsed only to order the rare names listed more than once.
                let sorted = try rows(component, architecture).sorted { a, b in
                    if a.name != b.name { return a.name < b.name }
                    if a.version != b.version, let left = try? DebianVersion(a.version),
                        let right = try? DebianVersion(b.version), left != right
                    {
                        return left < right
                    }
                    return a.architecture < b.architecture
                }
                indices.append(
                    PackagesIndex(
                        component: component, architecture: architecture,
                        entries: sorted.map { .init(package: $0.name, stanza: $0.stanza) }))
            }
        }
        return indices
    }

    var publisher: Publisher { Self.publisher(root: root, signer: signer) }

    /// Renders indices (with the chunk cache in `.depot/cache/`), and writes them to `public/`.
    private static func publisher(root: String, signer: Signer) -> Publisher {
        Publisher(publicDirectory: root + "/public", signer: signer, chunkCacheDirectory: root + "/.depot/cache/chunks")
    }

    // MARK: - Helpers

    func requireDistribution(_ name: String) throws {
        guard configuration.distribution(name) != nil else {
            throw DepotError.unknownDistribution(name, known: configuration.distributions.map(\.name))
        }
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
