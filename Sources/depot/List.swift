import ArgumentParser
import DepotCore

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the packages, versions and architectures of a distribution (or of all).")

    @OptionGroup var repository: RepositoryOptions

    @Argument(help: "The distribution (default: every one).")
    var distribution: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let listings = try repository.open().list(distribution: distribution)
        if json { return try printJSON(listings) }
        printTable(
            ["DISTRIBUTION", "PACKAGE", "VERSION", "ARCHITECTURE", "COMPONENT", "PHASE"],
            listings.map {
                [
                    $0.distribution, $0.file.name, $0.file.version, $0.file.architecture, $0.component,
                    $0.phase.map { "\($0)%" } ?? "",
                ]
            })
    }
}
