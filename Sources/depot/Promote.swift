import ArgumentParser
import DepotCore
import Foundation

struct Promote: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List in the next distribution exactly the files another one lists: all packages or none.",
        discussion: """
            Each package moves as the very pool file the source distribution lists (its newest version, or the one named), for every architecture it has there. --to defaults to the source's Promotes-To.
            A promotion that would leave a Depends or Pre-Depends unmet in the target is refused, naming the requirement; --with-deps promotes the needed packages along. Requirements on packages this repository never held (libc6, ...) are left to the clients' other apt sources.
            The target's gates (Min-Soak, Approvals in depot.conf) must be open for every file promoted: a closed one refuses the promotion, saying when or how it opens; --dry-run reports the gates and exits 1 if one is closed; --override-gates promotes anyway, and history records it.
            --phase P lists the promoted versions with Phased-Update-Percentage: P in the target's Packages only: apt on about P percent of machines upgrades (see 'depot phase').
            Examples:
              depot promote snowbird --from staging
              depot promote libfoo=1.2-1 snowbird --from development --to staging --dry-run
              depot promote snowbird --from staging --phase 10
              depot promote --all --from staging
            """)

    @OptionGroup var repository: RepositoryOptions

    @Argument(help: "NAME or NAME=VERSION.")
    var packages: [String] = []

    @Flag(help: "Promote every package that is new or newer in the source distribution.")
    var all = false

    @Option(help: "The distribution to promote from.")
    var from: String

    @Option(help: "The distribution to promote into (default: the source's Promotes-To).")
    var to: String?

    @Flag(help: "Print what would change and change nothing.")
    var dryRun = false

    @Flag(help: "Accept versions lower than the ones listed in the target, unlisting the newer ones.")
    var allowDowngrade = false

    @Flag(help: "Promote along, from the source distribution, the packages the promoted ones depend on.")
    var withDeps = false

    @Flag(help: "Promote even if Depends or Pre-Depends would be unmet in the target.")
    var ignoreDependencies = false

    @Option(help: "List the promoted versions phased to this percentage (0-100) in the target.")
    var phase: Int?

    @Flag(help: "Promote even if the target's gates (Min-Soak, Approvals) are closed; history records it.")
    var overrideGates = false

    @Option(help: "Text recorded in history with this change.")
    var note: String?

    @Flag(help: "Print the outcome as JSON.")
    var json = false

    private var request: PromotionRequest {
        PromotionRequest(
            packages: packages, all: all, from: from, to: to, dryRun: dryRun, allowDowngrade: allowDowngrade,
            withDependencies: withDeps, checkDependencies: !ignoreDependencies, phase: phase,
            overrideGates: overrideGates)
    }

    func validate() throws {
        do {
            _ = try request.selectors()
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func run() throws {
        let promotion = try repository.open().promote(request, context: try .currentProcess(note: note))
        if json { try printJSON(promotion) } else { report(promotion) }
        if dryRun && !promotion.closedGates.isEmpty {
            printError("depot: error: the promotion would be refused: a gate is closed (or pass --override-gates)")
            Foundation.exit(1)
        }
    }

    private func report(_ promotion: Repository.Promotion) {
        if promotion.changes.isEmpty { printLine("nothing to promote: \(promotion.to) already lists these files") }
        for change in promotion.changes {
            let verb = dryRun ? "would promote" : "promoted"
            let previous = change.before.map { " (was \($0))" } ?? " (new)"
            let phased = change.afterPhase.map { ", phased \($0)%" } ?? ""
            printLine(
                "\(verb) \(change.package) \(change.after ?? "?") (\(change.architecture)) from \(promotion.from) to \(promotion.to)\(previous)\(phased)"
            )
        }
        for gate in promotion.gates {
            printLine("gate \(gate.open ? "open" : "closed"): \(gate.detail)")
        }
        if !promotion.overriddenGates.isEmpty {
            printLine("overrode gates: \(promotion.overriddenGates.joined(separator: ", ")) (recorded in history)")
        }
    }
}
