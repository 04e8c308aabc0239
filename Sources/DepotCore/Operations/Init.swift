import AptRepository
import DebianFormat
import Foundation

extension Repository {
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
                if try store.read({ db in try MetadataStore.holdsRepository(db) }) {
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
                try MetadataStore.recordConfiguration(db, recorded.rendered())
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
}
