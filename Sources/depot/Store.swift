import ArgumentParser
import DepotCore

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Look after the metadata store: record the configuration nodes share, copy it elsewhere.",
        subcommands: [Copy.self, RecordConfiguration.self])

    struct Copy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the whole store into an empty PostgreSQL database or a new SQLite file.",
            discussion: """
                Files, listings, history with its rollback journal, tokens and the garbage record are copied as one consistent snapshot, in one transaction: the copy is whole or not there. The repository keeps using its store; to move to the copy, stop changes, point Store: in depot.conf at the database (or put the SQLite file at .depot/depot.sqlite and remove Store:), and run 'depot verify'.
                Examples:
                  depot store copy --to postgresql://depot@db.example/depot
                  depot store copy --to /srv/depot/.depot/depot.sqlite.new
                """)

        @OptionGroup var repository: RepositoryOptions

        @Option(
            help: ArgumentHelp(
                "An empty PostgreSQL database (password from PGPASSWORD or ~/.pgpass), or the path of a new SQLite file.",
                valueName: "postgresql://USER@HOST:PORT/DATABASE|PATH"))
        var to: String

        @Flag(help: "Print what was copied as JSON.")
        var json = false

        func run() throws {
            let opened = try repository.open()
            let report = try opened.copyStore(to: to) { table, rows in
                if !json { printLine("\(table): \(rows) rows") }
            }
            if json { return try printJSON(report) }
            printLine("copied the store into \(report.destination)")
        }
    }

    struct RecordConfiguration: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record this node's depot.conf as the configuration every node must have.",
            discussion: """
                Nodes sharing a PostgreSQL store refuse to change anything while their depot.conf differs from the configuration the store records. To change it: edit depot.conf on one node, run this there, then give the other nodes the same depot.conf (its Store: line may differ).
                """)

        @OptionGroup var repository: RepositoryOptions

        func run() throws {
            let opened = try repository.open()
            try opened.recordConfiguration()
            printLine("recorded \(opened.configurationPath) as the configuration of every node")
        }
    }
}
