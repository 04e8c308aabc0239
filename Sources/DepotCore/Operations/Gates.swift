import DebianFormat
import Foundation

extension Repository {
    /// The distribution whose files are promoted into `distribution`: the one that names it
    /// in `Promotes-To`.
    func source(of distribution: String) throws -> String {
        let sources = configuration.distributions.filter { $0.promotesTo == distribution }.map(\.name)
        guard sources.count == 1 else {
            throw DepotError.invalidArgument(
                sources.isEmpty
                    ? "no distribution promotes to \(distribution): name the source with --from"
                    : "\(sources.joined(separator: " and ")) both promote to \(distribution): name the source with --from")
        }
        return sources[0]
    }

    /// The gates of `target` for promoting `files` from `source` by `promoter`, one check per
    /// gate and package version (a version's architectures pass or fail together: the
    /// shortest soak and the fewest approvals decide).
    ///
    /// Gates hold on every path: a source whose `Promotes-To` is not `target` is a closed
    /// gate of its own, and time in it never counts as soak.
    func gateChecks(
        of files: [PackageFile], from source: String, into target: String, promoter: String, now: Date,
        _ db: any StoreTransaction
    ) throws -> [GateCheck] {
        guard let gates = configuration.distribution(target), !files.isEmpty else { return [] }
        let versions = Dictionary(grouping: files) { "\($0.name) \($0.version)" }
            .sorted { $0.key < $1.key }.map(\.value)
        var checks: [GateCheck] = []
        let onPath = configuration.distribution(source)?.promotesTo == target
        if !onPath {
            let sources = (configuration.distributions + configuration.templates).filter { $0.promotesTo == target }
                .map(\.name)
            let way = sources.isEmpty ? "no distribution promotes to \(target)" : "promote it into \(sources.joined(separator: " or ")) first"
            for version in versions {
                checks.append(
                    GateCheck(
                        package: version[0].name, version: version[0].version, gate: .promotesTo, open: false,
                        detail: "\(target) is gated and takes promotions only from a distribution whose Promotes-To "
                            + "is \(target), not from \(source) (Promotes-To); \(way)"))
            }
        }
        if let soak = gates.minSoak {
            let soaked = onPath ? try MetadataStore.soak(db, distribution: source, files: files, now: now) : [:]
            for version in versions {
                let file = version[0]
                let shortest = version.map { soaked[$0.id] ?? .none }.min { $0.seconds < $1.seconds } ?? .none
                let open = shortest.seconds >= Double(soak)
                let opens = now.addingTimeInterval(Double(soak) - shortest.seconds)
                var detail =
                    "\(file.name) \(file.version) has been in \(source) for \(Self.describe(seconds: Int(shortest.seconds)))"
                    + "\(onPath ? " at a phase above 0 %" : ""); \(target) requires \(Self.describe(seconds: soak)) (Min-Soak)"
                if !open {
                    detail +=
                        !onPath
                        ? "; time in \(source) does not count"
                        : shortest.counting
                            ? "; it can be promoted after \(Self.timestamp(opens))"
                            : "; it is halted at 0 % (or not listed) there, which does not count: widen its rollout in \(source)"
                }
                checks.append(
                    GateCheck(
                        package: file.name, version: file.version, gate: .minSoak, open: open, detail: detail,
                        opensAt: open || !onPath || !shortest.counting ? nil : Self.timestamp(opens)))
            }
        }
        if gates.approvals > 0 {
            let ids = files.map(\.id)
            let pushers = try MetadataStore.pushers(db, fileIDs: ids)
            let approvers = try MetadataStore.approvers(db, distribution: target, fileIDs: ids)
            for version in versions {
                let file = version[0]
                let excluded = Set(version.compactMap { pushers[$0.id] } + [promoter])
                // An approver counts when they approved every architecture of the version.
                var counted = Set(approvers[file.id] ?? []).subtracting(excluded)
                for other in version.dropFirst() { counted.formIntersection(approvers[other.id] ?? []) }
                let open = counted.count >= gates.approvals
                var detail =
                    "\(file.name) \(file.version) has \(counted.count) of the \(gates.approvals) "
                    + "approval\(gates.approvals == 1 ? "" : "s") \(target) requires (Approvals)"
                if !open {
                    let pusher = version.compactMap { pushers[$0.id] }.first.map { "its pusher \($0) and " } ?? ""
                    detail +=
                        "; approve it with 'depot approve \(target) \(file.name)=\(file.version)' as a user "
                        + "other than \(pusher)its promoter \(promoter)"
                }
                checks.append(
                    GateCheck(
                        package: file.name, version: file.version, gate: .approvals, open: open, detail: detail,
                        approvedBy: counted.sorted()))
            }
        }
        return checks
    }

    /// A span as the gates say it: `2h10m`, `24h`, `45s`.
    public static func describe(seconds: Int) -> String {
        let total = max(0, seconds)
        let (hours, minutes) = (total / 3600, total % 3600 / 60)
        if hours == 0 && minutes == 0 { return "\(total)s" }
        if minutes == 0 { return "\(hours)h" }
        return hours == 0 ? "\(minutes)m" : "\(hours)h\(minutes)m"
    }
}
