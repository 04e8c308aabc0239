import ArgumentParser
import DepotCore

struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the tokens of the HTTP API (depot serve).",
        discussion: """
            A scope is ACTION:DISTRIBUTION, ACTION one of push, promote (into that distribution), remove, rollback or read; DISTRIBUTION may be * for every one. Tokens are stored hashed: create prints a token once.
            Examples:
              depot token create ci --allow push:development
              depot token create ops --allow promote:* --allow rollback:production --allow read:*
              depot token revoke ci
            """,
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a token and print it, once.")

        @OptionGroup var repository: RepositoryOptions

        @Argument(help: "The token's name: the user history records for what it does.")
        var name: String

        @Option(help: ArgumentHelp("What the token may do; repeat for several.", valueName: "ACTION:DIST"))
        var allow: [String] = []

        func run() throws {
            let scopes = try allow.map { try Scope(parsing: $0) }
            printLine(try repository.open().createToken(name: name, scopes: scopes, context: try .currentProcess()))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tokens' names and scopes.")

        @OptionGroup var repository: RepositoryOptions

        @Flag(help: "Print the tokens as JSON.")
        var json = false

        func run() throws {
            let tokens = try repository.open().tokens()
            if json { return try printJSON(tokens) }
            printTable(
                ["NAME", "CREATED", "SCOPES"],
                tokens.map { [$0.name, $0.created, $0.scopes.map(\.description).joined(separator: " ")] })
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a token: requests with it get 401, its dashboard sessions end and the ramps it started stop.")

        @OptionGroup var repository: RepositoryOptions

        @Argument(help: "The token's name.")
        var name: String

        func run() throws {
            let ramps = try repository.open().revokeToken(name: name, context: try .currentProcess())
            printLine("revoked token \(name)")
            for ramp in ramps {
                printLine(
                    "stopped its ramp of \(ramp.package) \(ramp.version) in \(ramp.distribution) "
                        + "(steps not taken: \(ramp.steps.map { "\($0)%" }.joined(separator: ", ")))")
            }
        }
    }
}
