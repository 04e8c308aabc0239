import ArgumentParser
import DepotCore

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a repository: depot.conf, a signing key and signed empty indices.",
        discussion: """
            With --storage, the served tree (pool/, dists/, archive-key.asc) lives in an S3-compatible bucket below the prefix instead of public/; credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the shared credentials file (depot.conf(5)). The bucket must exist and hold nothing below the prefix.
            Examples:
              depot --root /srv/depot init --origin "Example Corp" --architectures amd64,arm64
              depot --root /srv/depot init --storage s3://example-apt/depot --s3-region eu-central-1
              depot --root /srv/depot init --store postgresql://depot@db.example/depot --storage s3://example-apt/depot
              depot --root /srv/depot init --join --store postgresql://depot@db.example/depot --storage s3://example-apt/depot --sign-with FPR --gnupg-home DIR
            """)

    @OptionGroup var repository: RepositoryOptions

    @Option(help: "The Origin field of every Release.")
    var origin = "Depot"

    @Option(help: "The Label field of every Release (default: the origin).")
    var label: String?

    @Option(help: "Distributions, in promotion order, comma-separated.")
    var distributions = "development,staging,production"

    @Option(help: "Architectures, comma-separated.")
    var architectures = "amd64,arm64"

    @Option(help: "Components, comma-separated.")
    var components = "main"

    @Option(
        name: .customLong("sign-with"),
        help: ArgumentHelp("Sign with this key (a fingerprint) instead of making one.", valueName: "FPR"))
    var signWith: String?

    @Option(
        name: .customLong("gnupg-home"),
        help: ArgumentHelp("Where the --sign-with key is (default: $GNUPGHOME, else ~/.gnupg).", valueName: "DIR"))
    var gnupgHome: String?

    @Option(
        help: ArgumentHelp(
            "Keep the metadata store in this PostgreSQL database (empty, or new) instead of .depot/depot.sqlite; the password comes from PGPASSWORD or ~/.pgpass.",
            valueName: "postgresql://USER@HOST:PORT/DATABASE"))
    var store: String?

    @Option(
        help: ArgumentHelp(
            "Keep the served tree in this bucket, below this prefix, instead of public/.",
            valueName: "s3://BUCKET/PREFIX"))
    var storage: String?

    @Option(
        name: .customLong("s3-endpoint"),
        help: ArgumentHelp("The S3-compatible server (default: AWS's endpoint for the region).", valueName: "URL"))
    var s3Endpoint: String?

    @Option(name: .customLong("s3-region"), help: ArgumentHelp("The bucket's region (default: us-east-1).", valueName: "REGION"))
    var s3Region: String?

    @Option(
        name: .customLong("s3-addressing"),
        help: ArgumentHelp("path or virtual (default: virtual on AWS, path elsewhere).", valueName: "STYLE"))
    var s3Addressing: String?

    @Option(
        name: .customLong("s3-acl"),
        help: ArgumentHelp(
            "A canned ACL sent with every object, such as public-read, for servers that grant reads object by object.",
            valueName: "ACL"))
    var s3ACL: String?

    @Flag(
        help: ArgumentHelp(
            "Make this root a further node of the repository the --store holds: depot.conf becomes the configuration recorded there, and the --sign-with key (from --gnupg-home) is copied into this node's keyring."))
    var join = false

    @Option(
        name: .customLong("public-url"),
        help: ArgumentHelp("Where clients read the tree (a CDN); depot serve redirects there.", valueName: "URL"))
    var publicURL: String?

    func run() throws {
        if join { return try joinRepository() }
        var options = Repository.InitOptions()
        options.objectStorage = try objectStorage()
        options.store = store
        options.origin = origin
        options.label = label
        options.distributions = split(distributions)
        options.architectures = split(architectures)
        options.components = split(components)
        options.signWith = signWith
        options.gnupgHome = gnupgHome
        let created = try Repository.initialize(root: repository.resolvedRoot, options: options)
        printLine("Created a repository in \(created.root)")
        printLine(
            "Signing key: \(created.configuration.signWith ?? "?") (public key in \(created.treeLocation(of: "archive-key.asc")))")
        printLine("Distributions: \(created.configuration.distributions.map(\.name).joined(separator: " -> "))")
    }

    private func joinRepository() throws {
        guard let store else {
            throw DepotError.invalidArgument("--join needs --store postgresql://USER@HOST:PORT/DATABASE: the store to join")
        }
        let given: [(String, String?)] = [
            ("--s3-region", s3Region), ("--s3-addressing", s3Addressing),
            ("--s3-acl", s3ACL), ("--public-url", publicURL), ("--label", label),
        ]
        if let option = given.first(where: { $0.1 != nil }) {
            throw DepotError.invalidArgument("\(option.0) cannot be given with --join: the store records the repository's configuration")
        }
        var options = Repository.JoinOptions(store: store)
        options.storage = storage
        options.s3Endpoint = s3Endpoint
        options.signWith = signWith
        options.gnupgHome = gnupgHome
        let joined = try Repository.join(root: repository.resolvedRoot, options: options)
        printLine("Joined the repository in \(store) as a node in \(joined.root)")
        printLine("Serving from: \(joined.treeLocation(of: ""))")
        printLine("Distributions: \(joined.configuration.distributions.map(\.name).joined(separator: " -> "))")
    }

    /// The bucket the options describe; depot.conf's own checks then judge the values.
    private func objectStorage() throws -> ObjectStorageConfiguration? {
        guard let storage else {
            let given: [(String, String?)] = [
                ("--s3-endpoint", s3Endpoint), ("--s3-region", s3Region), ("--s3-addressing", s3Addressing),
                ("--s3-acl", s3ACL), ("--public-url", publicURL),
            ]
            if let option = given.first(where: { $0.1 != nil }) {
                throw DepotError.invalidArgument("\(option.0) applies to a bucket: pass --storage s3://BUCKET/PREFIX too")
            }
            return nil
        }
        let location: (bucket: String, prefix: String)
        switch ObjectStorageConfiguration.parseStorage(storage) {
        case .success(let parsed): location = parsed
        case .failure(let error): throw DepotError.invalidArgument("--storage: \(error.problem)")
        }
        var configuration = ObjectStorageConfiguration(bucket: location.bucket, prefix: location.prefix)
        configuration.endpoint = s3Endpoint
        configuration.region = s3Region ?? ObjectStorageConfiguration.defaultRegion
        if let s3Addressing {
            guard let addressing = ObjectStorageConfiguration.Addressing(rawValue: s3Addressing) else {
                throw DepotError.invalidArgument("--s3-addressing must be 'path' or 'virtual', not '\(s3Addressing)'")
            }
            configuration.addressing = addressing
        }
        configuration.acl = s3ACL
        configuration.publicURL = publicURL
        return configuration
    }

    private func split(_ list: String) -> [String] {
        list.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
    }
}
