import ArgumentParser
import DepotCore
import Foundation

struct Push: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add .deb files to a distribution and republish it: all files or none.",
        discussion: """
            Pushing the same file again changes nothing; the same package, version and architecture with different content is a conflict.
            Examples:
              depot push development build/snowbird_1.4.2-1_amd64.deb --note "$CI_JOB_URL"
              find build -name '*.deb' | depot push development --files-from -
            """)

    @OptionGroup var repository: RepositoryOptions

    @Argument(help: "The distribution to add the files to.")
    var distribution: String

    @Argument(help: "The .deb files.")
    var files: [String] = []

    @Option(
        name: .customLong("files-from"),
        help: ArgumentHelp(
            "Also push the files listed in FILE, one path per line ('-' reads standard input).", valueName: "FILE"))
    var filesFrom: String?

    @Option(help: "The component to list them in (default: the first of depot.conf).")
    var component: String?

    @Option(help: "Text recorded in history with this change, such as a build URL.")
    var note: String?

    @Flag(help: "Accept a version lower than the one listed, unlisting the newer ones.")
    var allowDowngrade = false

    @Flag(
        help: "Push into a distribution with promotion gates (Min-Soak, Approvals), which takes files only by promotion otherwise; history records it."
    )
    var overrideGates = false

    @Flag(help: "Print the outcome as JSON.")
    var json = false

    func validate() throws {
        guard !files.isEmpty || filesFrom != nil else {
            throw ValidationError("name at least one .deb file, or --files-from FILE")
        }
    }

    func run() throws {
        var paths = files
        if let filesFrom {
            let list: Data?
            if filesFrom == "-" {
                list = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                list = FileManager.default.contents(atPath: filesFrom)
            }
            guard let list else { throw DepotError.invalidArgument("\(filesFrom): cannot read the list of files") }
            // Lines may end in CRLF (a list made on Windows): "\r\n" is one Character, a newline.
            let listed = String(decoding: list, as: UTF8.self).split(whereSeparator: \.isNewline).map(String.init)
            // An empty list is most likely a build that made no package: exiting 0 would hide it.
            guard !listed.isEmpty || !files.isEmpty else {
                throw DepotError.invalidArgument(
                    "\(filesFrom == "-" ? "standard input" : filesFrom): lists no .deb files to push")
            }
            paths += listed
        }
        let outcomes: [Repository.PushOutcome]
        do {
            outcomes = try repository.open().push(
                paths,
                as: PushRequest(
                    distribution: distribution, component: component, allowDowngrade: allowDowngrade,
                    overrideGates: overrideGates),
                context: try .currentProcess(note: note), progress: Progress.onTerminal("reading"))
        } catch DepotError.recordedButUnpublished(let error, let operation, let recorded) where json {
            // A script learns what was recorded, and the exit status says the publish failed.
            try printJSON(recorded)
            throw DepotError.recordedButUnpublished(error, operation: operation, outcomes: recorded)
        }
        if json { return try printJSON(outcomes) }
        for outcome in outcomes {
            let what = "\(outcome.package) \(outcome.version) (\(outcome.architecture))"
            switch outcome.status {
            case .added:
                let unlisted = outcome.unlisted.isEmpty ? "" : ", unlisted \(outcome.unlisted.joined(separator: ", "))"
                printLine("added \(what) to \(distribution)\(unlisted)")
            case .unchanged:
                printLine("unchanged \(what): \(distribution) already lists this file")
            }
        }
    }
}
