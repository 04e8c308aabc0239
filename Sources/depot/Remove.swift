import ArgumentParser
import DepotCore

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Unlist packages from a distribution; their files stay in the pool.",
        discussion: """
            Example:
              depot remove staging snowbird=1.4.2-1
            """)

    @OptionGroup var repository: RepositoryOptions

    @Argument(help: "The distribution.")
    var distribution: String

    @Argument(help: "NAME or NAME=VERSION.")
    var packages: [String]

    @Option(help: "Text recorded in history with this change.")
    var note: String?

    func run() throws {
        let repository = try repository.open()
        let changes = try repository.remove(
            RemovalRequest(distribution: distribution, packages: packages), context: try .currentProcess(note: note))
        for change in changes {
            printLine("removed \(change.package) \(change.before ?? "?") (\(change.architecture)) from \(distribution)")
        }
        warn(of: try repository.unmetDependencies(in: distribution, among: Set(changes.map(\.package))))
    }
}
