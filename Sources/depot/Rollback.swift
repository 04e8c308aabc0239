import ArgumentParser
import DepotCore

struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Undo the latest change of packages in a distribution, or restore it as it was after a change.",
        discussion: """
            With package names, each package gets back what the distribution listed for it before its latest change there (every architecture). With --to ID, the whole distribution lists exactly what it listed right after history entry ID. Either way the rollback is a history entry of its own, and can be rolled back too. Files beyond Retain-History may have been deleted by gc.
            Examples:
              depot rollback production snowbird
              depot rollback production --to 42
            """)

    @OptionGroup var repository: RepositoryOptions

    @Argument(help: "The distribution.")
    var distribution: String

    @Argument(help: "Package names.")
    var packages: [String] = []

    @Option(name: .customLong("to"), help: ArgumentHelp("A history entry (see 'depot history').", valueName: "ID"))
    var entry: Int64?

    @Option(help: "Text recorded in history with this change.")
    var note: String?

    @Flag(help: "Print the outcome as JSON.")
    var json = false

    private var request: RollbackRequest {
        RollbackRequest(distribution: distribution, packages: packages, to: entry)
    }

    func validate() throws {
        do {
            try request.validate()
        } catch {
            throw ValidationError("\(error) (--to ID)")
        }
    }

    func run() throws {
        let rollback = try repository.open().rollback(request, context: try .currentProcess(note: note))
        if json {
            try printJSON(rollback)
        } else {
            if rollback.changes.isEmpty { printLine("nothing to roll back: \(distribution) already lists these files") }
            for change in rollback.changes {
                printLine(
                    "\(change.package) (\(change.architecture)) in \(distribution): \(change.transition(absent: "absent"))")
            }
        }
        warn(of: rollback.unmetDependencies)
    }
}
