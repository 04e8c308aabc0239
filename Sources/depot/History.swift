import ArgumentParser
import DepotCore

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show every change, newest first: when, what, who, which command, and its note.")

    @OptionGroup var repository: RepositoryOptions

    @Argument(help: "Only changes to this distribution.")
    var distribution: String?

    @Option(help: "Show at most this many entries.")
    var limit: Int?

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be 1 or more") }
    }

    func run() throws {
        let entries = try repository.open().history(distribution: distribution, limit: limit)
        if json { return try printJSON(entries) }
        for entry in entries {
            printLine("#\(entry.id) \(entry.date) \(entry.operation) \(entry.distribution) by \(entry.user)")
            if let note = entry.note { printLine("  note: \(note)") }
            printLine("  command: \(entry.command)")
            if let gates = entry.overriddenGates {
                printLine("  overrode gates: \(gates.joined(separator: ", "))")
            }
            for change in entry.changes {
                printLine("  \(change.package) (\(change.architecture)): \(change.transition(absent: "-"))")
            }
        }
    }
}
