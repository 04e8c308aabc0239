import ArgumentParser
import DepotCore
import Foundation

struct Phase: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Roll the newest version of a package out to part of the machines that use a distribution.",
        discussion: """
            Sets Phased-Update-Percentage: P on the newest version DIST lists of PKG (every architecture), in DIST's Packages only: apt upgrades a machine to that version only if the machine's draw (from its /etc/machine-id, the source package and the version) falls within P percent; a machine that upgraded stays upgraded. 100 rolls the version out fully (the field goes); 0 halts the rollout.
            --ramp widens it step by step: the first percentage now, each next one --every later, carried out by 'depot serve' or by 'depot phase --advance' (from cron). A later 'depot phase' or a rollback of the package stops the ramp.
            Each change of a percentage is a history entry, and can be rolled back.
            Examples:
              depot phase production snowbird 25
              depot phase production snowbird 0 --note "crash reports from 1.5.0-1"
              depot phase production snowbird --ramp 10,25,50,100 --every 6h
              depot phase --advance
            """)

    @OptionGroup var repository: RepositoryOptions

    @Argument(help: "The distribution.")
    var distribution: String?

    @Argument(help: "The package name.")
    var package: String?

    @Argument(help: "The percentage, 0 (halted) to 100 (fully rolled out).")
    var percentage: Int?

    @Option(help: ArgumentHelp("Percentages to take in turn, such as 10,25,50,100.", valueName: "P,P,..."))
    var ramp: String?

    @Option(help: ArgumentHelp("Time between the steps of a ramp: 30m, 6h, 1d.", valueName: "DURATION"))
    var every: String?

    @Flag(help: "Take every ramp step that is due, in every distribution (for cron).")
    var advance = false

    @Option(help: "Text recorded in history with this change.")
    var note: String?

    @Flag(help: "Print the outcome as JSON.")
    var json = false

    /// The request, with `--ramp`'s text read into percentages.
    private var request: PhaseRequest {
        get throws {
            let steps = try ramp.map { ramp in
                try ramp.split(separator: ",", omittingEmptySubsequences: false).map { step in
                    guard let value = Int(step.trimmingCharacters(in: .whitespaces)) else {
                        throw ValidationError(
                            "--ramp takes whole percentages separated by commas (10,25,50,100), not '\(ramp.prefix(64))'")
                    }
                    return value
                }
            }
            return PhaseRequest(
                distribution: distribution ?? "", package: package ?? "", percentage: percentage, ramp: steps,
                every: every)
        }
    }

    func validate() throws {
        if advance {
            guard distribution == nil, ramp == nil, every == nil else {
                throw ValidationError("--advance takes every due step of every ramp: name nothing else")
            }
            return
        }
        guard distribution != nil, package != nil else {
            throw ValidationError("name the distribution and the package: depot phase DIST PKG P")
        }
        do {
            _ = try request.plan()
        } catch let error as DepotError {
            throw ValidationError("\(error) (depot phase DIST PKG P, or --ramp P,P,... --every DURATION)")
        }
    }

    func run() throws {
        let repository = try repository.open()
        if advance {
            let changes = try repository.advancePhases(command: "depot phase --advance")
            if json { return try printJSON(changes) }
            if changes.isEmpty { printLine("no ramp step is due") }
            changes.forEach(report)
            return
        }
        let change = try repository.phase(try request, context: try .currentProcess(note: note))
        if json { return try printJSON(change) }
        report(change)
    }

    private func report(_ change: Repository.PhaseChange) {
        let what = "\(change.package) \(change.version) in \(change.distribution)"
        if change.changes.isEmpty {
            printLine("\(what) already is at \(change.after)%")
        } else {
            printLine("\(what): \(change.before)% -> \(change.after)%")
        }
        if let ramp = change.ramp {
            printLine(
                "  next: " + ramp.steps.map { "\($0)%" }.joined(separator: ", ") + " every "
                    + Repository.describe(seconds: ramp.every) + ", the first at \(ramp.next)")
        }
    }
}

struct Approve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Approve a package version for promotion into a distribution (its Approvals gate).",
        discussion: """
            Records that you approve the file(s) the source distribution (the one whose Promotes-To is DIST, or --from) lists as PKG=VERSION, every architecture, for promotion into DIST. The user who pushed the file cannot approve it, and the user who promotes it does not count as an approver (four eyes).
            Example:
              depot approve production snowbird=1.5.0-1 --note "soaked in staging, dashboards green"
            """)

    @OptionGroup var repository: RepositoryOptions

    @Argument(help: "The distribution the approval is for.")
    var distribution: String

    @Argument(help: "NAME=VERSION.")
    var package: String

    @Option(help: "The distribution the version is promoted from (default: the one that promotes to DIST).")
    var from: String?

    @Option(help: "Text recorded with the approval.")
    var note: String?

    @Flag(help: "Print the outcome as JSON.")
    var json = false

    func run() throws {
        let approvals = try repository.open().approve(
            ApprovalRequest(distribution: distribution, naming: package, from: from),
            context: try .currentProcess(note: note))
        if json { return try printJSON(approvals) }
        for approval in approvals {
            printLine(
                "approved \(approval.package) \(approval.version) (\(approval.architecture)) for \(approval.distribution) "
                    + "as \(approval.user)")
        }
    }
}
