import ArgumentParser
import DepotCore
import Foundation

@main
struct DepotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "depot",
        abstract: "A Debian package repository manager with distribution promotion.",
        discussion: """
            The repository is the directory given by --root, else $DEPOT_ROOT, else the current one.
            See depot(1) and depot.conf(5).
            """,
        version: "0.2.0",
        subcommands: [
            Init.self, Push.self, Promote.self, Approve.self, Phase.self, Diff.self, List.self, Show.self, Remove.self, History.self,
            Rollback.self, Publish.self, Verify.self, CollectGarbage.self, ExportKey.self, Token.self, StoreCommand.self, Serve.self,
            Webhooks.self,
        ])

    /// Prints failures as one line, `depot: error: ...`, and exits non-zero.
    static func main() async {
        // A parent may have started us with SIGTERM and SIGINT blocked (Dispatch worker threads
        // block them, and children inherit the mask); `depot serve` stops on them, and every
        // command should die on them as on any other signal.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
        do {
            var command = try parseAsRoot(movingGlobalOptions(Array(CommandLine.arguments.dropFirst())))
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch DepotError.verificationFailed(let problems) {
            // One line each, so that no problem's text can pass for another.
            printError("depot: error: verification found \(problems.count) problem\(problems.count == 1 ? "" : "s"):")
            for problem in problems { printError("  " + problem) }
            Foundation.exit(1)
        } catch DepotError.gatesClosed(let gates, let refused) where gates.count > 1 {
            printError("depot: error: \(refused) refused by \(gates.count) closed gates:")
            for gate in gates { printError("  " + gate) }
            printError("  (or pass --override-gates, which history records)")
            Foundation.exit(1)
        } catch let error as DepotError {
            printError("depot: error: \(error)")
            Foundation.exit(1)
        } catch {
            let code = exitCode(for: error)
            // --help and --version arrive here as clean exits; usage mistakes get one line too.
            guard code != .success else { exit(withError: error) }
            let message = DepotCommand.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            printError("depot: error: \(message) (see 'depot --help')")
            Foundation.exit(code.rawValue)
        }
    }
}

/// `depot --root DIR COMMAND ...` is how the manual writes it; the parser wants options after
/// the (sub)command, so the options every command takes (`--root`, `--wait`), given before
/// the command, move behind the command's names: `depot --root DIR token create ci` is parsed
/// as `depot token create --root DIR ci`.
func movingGlobalOptions(_ arguments: [String]) -> [String] {
    let globalOptions = ["--root", "--wait"]
    var arguments = arguments
    var moved: [String] = []
    while let first = arguments.first {
        if globalOptions.contains(first), arguments.count >= 2 {
            moved += arguments[0...1]
            arguments.removeFirst(2)
        } else if globalOptions.contains(where: { first.hasPrefix($0 + "=") }) {
            moved.append(first)
            arguments.removeFirst()
        } else {
            break
        }
    }
    var command: ParsableCommand.Type = DepotCommand.self
    var position = 0
    while position < arguments.count,
        let subcommand = command.configuration.subcommands.first(where: { $0._commandName == arguments[position] })
    {
        command = subcommand
        position += 1
    }
    arguments.insert(contentsOf: moved, at: position)
    return arguments
}

/// Options every command that works on a repository takes.
struct RepositoryOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The repository directory (default: $DEPOT_ROOT, else the current directory).", valueName: "DIR"))
    var root: String?

    @Option(
        help: ArgumentHelp(
            "How long a change waits for another one to finish before giving up (default: \(Int(Repository.defaultLockTimeout))).",
            valueName: "SECONDS"))
    var wait: Double?

    func validate() throws {
        if let wait { try checkSeconds(wait, "--wait", allowingZero: true) }
    }

    var resolvedRoot: String {
        root ?? ProcessInfo.processInfo.environment["DEPOT_ROOT"] ?? FileManager.default.currentDirectoryPath
    }

    func open() throws -> Repository {
        try Repository(
            root: resolvedRoot, lockTimeout: wait ?? Repository.defaultLockTimeout,
            onLockWait: { holder in printError("depot: waiting for the repository, which \(holder) holds") })
    }
}

/// Refuses a number of seconds an option cannot take: not a number, below its least value, or
/// beyond the longest duration Depot takes anywhere (a larger one would overflow a clock).
func checkSeconds(_ value: Double, _ option: String, allowingZero: Bool) throws {
    let least = allowingZero ? "0" : "more than 0"
    guard allowingZero ? value >= 0 : value > 0, value <= Double(Configuration.longestDuration) else {
        throw ValidationError(
            "\(option) takes a number of seconds, \(least) and at most \(Configuration.longestDuration) (ten years)")
    }
}

/// Warns, on standard error, of dependencies a remove or a rollback left unmet: the change is
/// done as asked, but the operator should know what it left uninstallable.
func warn(of unmetDependencies: [UnmetDependency]) {
    for unmet in unmetDependencies {
        printError("depot: warning: \(unmet.unmetNowDescription)")
    }
}

/// Writes a value as pretty JSON with sorted keys, for scripts.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Prints rows as left-aligned columns.
func printTable(_ header: [String], _ rows: [[String]]) {
    let rows = rows.map { $0.map(terminalSafe) }
    let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
    for row in [header] + rows {
        let cells = row.enumerated().map { column, cell in
            column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
        }
        printLine(cells.joined(separator: "  "))
    }
}

extension Change {
    /// `1.0-1 -> 2.0-1 (25%)`: the version before and after, each with its phase when phased.
    func transition(absent: String) -> String {
        func state(_ version: String?, _ phase: Int?) -> String {
            (version ?? absent) + (phase.map { " (\($0)%)" } ?? "")
        }
        return "\(state(before, beforePhase)) -> \(state(after, afterPhase))"
    }
}
