import ArgumentParser
import DepotCore

struct Promote: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List in the next distribution exactly the files another one lists: all packages or none.",
        discussion: """
            Each package moves as the very pool file the source distribution lists (its newest version, or the one named), for every architecture it has there. --to defaults to the source's Promotes-To.
            A promotion that would leave a Depends or Pre-Depends unmet in the target is refused, naming the requirement; --with-deps promotes the needed packages along. Requirements on packages this repository never held (libc6, ...) are left to the clients' other apt sources.
            Examples:
              depot promote snowbird --from staging
              depot promote libfoo=1.2-1 snowbird --from development --to staging --dry-run
              depot promote --all --from staging
            """)

    @OptionGroup var repository: RepositoryOptions

    @Argument(help: "NAME or NAME=VERSION.")
    var packages: [String] = []

    @Flag(help: "Promote every package that is new or newer in the source distribution.")
    var all = false

    @Option(help: "The distribution to promote from.")
    var from: String

    @Option(help: "The distribution to promote into (default: the source's Promotes-To).")
    var to: String?

    @Flag(help: "Print what would change and change nothing.")
    var dryRun = false

    @Flag(help: "Accept versions lower than the ones listed in the target, unlisting the newer ones.")
    var allowDowngrade = false

    @Flag(help: "Promote along, from the source distribution, the packages the promoted ones depend on.")
    var withDeps = false

    @Flag(help: "Promote even if Depends or Pre-Depends would be unmet in the target.")
    var ignoreDependencies = false

    @Option(help: "Text recorded in history with this change.")
    var note: String?

    @Flag(help: "Print the outcome as JSON.")
    var json = false

    func validate() throws {
        guard all != !packages.isEmpty else {
            throw ValidationError(
                all ? "--all promotes every package: name none" : "name the packages to promote, or pass --all")
        }
        if withDeps && ignoreDependencies {
            throw ValidationError("--with-deps and --ignore-dependencies contradict each other: pass one")
        }
    }

    func run() throws {
        let selectors = try packages.map { try PackageSelector(parsing: $0) }
        let promotion = try repository.open().promote(
            selectors, all: all, from: from, to: to, dryRun: dryRun, allowDowngrade: allowDowngrade,
            withDependencies: withDeps, checkDependencies: !ignoreDependencies, context: try .currentProcess(note: note)
        )
        if json { return try printJSON(promotion) }
        if promotion.changes.isEmpty { printLine("nothing to promote: \(promotion.to) already lists these files") }
        for change in promotion.changes {
            let verb = dryRun ? "would promote" : "promoted"
            let previous = change.before.map { " (was \($0))" } ?? " (new)"
            printLine(
                "\(verb) \(change.package) \(change.after ?? "?") (\(change.architecture)) from \(promotion.from) to \(promotion.to)\(previous)"
            )
        }
    }
}
