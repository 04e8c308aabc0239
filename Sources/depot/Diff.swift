import ArgumentParser
import DepotCore

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show every package and architecture whose version differs between two distributions.",
        discussion: """
            Each line says what promoting FROM into TO would do: new, upgrade, downgrade, or only-in-target. 'depot promote --all' acts on the new ones and the upgrades.
            Example:
              depot diff staging production
            """)

    @OptionGroup var repository: RepositoryOptions

    @Argument(help: "The distribution to compare from.")
    var from: String

    @Argument(help: "The distribution to compare with.")
    var to: String

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        guard from != to else { throw ValidationError("name two different distributions") }
    }

    func run() throws {
        let differences = try repository.open().diff(from: from, to: to)
        if json { return try printJSON(differences) }
        printTable(
            ["PACKAGE", "ARCHITECTURE", from.uppercased(), to.uppercased(), "CHANGE"],
            differences.map { [$0.package, $0.architecture, $0.from ?? "-", $0.to ?? "-", $0.kind.rawValue] })
    }
}
