import ArgumentParser
import DepotCore

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a repository: depot.conf, a signing key and signed empty indices.",
        discussion: """
            Example:
              depot --root /srv/depot init --origin "Example Corp" --architectures amd64,arm64
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

    func run() throws {
        var options = Repository.InitOptions()
        options.origin = origin
        options.label = label
        options.distributions = split(distributions)
        options.architectures = split(architectures)
        options.components = split(components)
        options.signWith = signWith
        options.gnupgHome = gnupgHome
        let created = try Repository.initialize(root: repository.resolvedRoot, options: options)
        printLine("Created a repository in \(created.root)")
        printLine("Signing key: \(created.configuration.signWith ?? "?") (public key in public/archive-key.asc)")
        printLine("Distributions: \(created.configuration.distributions.map(\.name).joined(separator: " -> "))")
    }

    private func split(_ list: String) -> [String] {
        list.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
    }
}
