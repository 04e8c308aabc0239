import AptRepository
import DebianFormat
import Foundation

extension Repository {
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
        try write { db in try MetadataStore.recordConfiguration(db, text) }
    }
}
